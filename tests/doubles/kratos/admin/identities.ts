import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Router } from 'express';
import type { DoubleContext } from '../context.js';
import { errors } from '../errors.js';
import { buildIdentity, findByIdentifier, identifiersTaken, setPassword } from '../identities.js';
import { hashPassword, identityJson, syncAddresses } from '../identity.js';
import { isSessionActive, revokeSessions, sessionJson } from '../sessions.js';
import type { CredentialType, StoredIdentity } from '../state.js';
import { oidcIdentifier } from '../oidc.js';
import { applyJsonPatch } from './json-patch.js';
import { paginate } from './pagination.js';

interface IdentityBody {
  schema_id?: unknown;
  traits?: unknown;
  state?: unknown;
  metadata_public?: unknown;
  metadata_admin?: unknown;
  credentials?: { password?: { config?: { password?: unknown; hashed_password?: unknown } } };
  verifiable_addresses?: { value?: unknown; verified?: unknown }[];
}

/** Admin identity API: create (with password import), get, list, patch, update, delete, credentials, sessions. */
export function registerIdentityRoutes(router: Router, ctx: DoubleContext, adminUrl: () => string): void {
  router.post('/admin/identities', (req, res) => {
    const body = (req.body ?? {}) as IdentityBody;
    const traits = checkedTraits(ctx, body);
    const identity = buildIdentity(ctx, {
      traits,
      state: parseState(body.state),
      metadataPublic: body.metadata_public,
      metadataAdmin: body.metadata_admin,
      ...passwordFrom(body),
    });
    importVerifiedAddresses(ctx, identity, body);
    if (identifiersTaken(ctx, identity)) throw errors.conflict();
    ctx.state.identities.set(identity.id, identity);
    res.status(201).json(adminJson(ctx, identity, req));
  });

  router.get('/admin/identities', (req, res) => {
    const all = listIdentities(ctx, req);
    const page = paginate(req, res, all, `${adminUrl()}/admin/identities`);
    res.status(200).json(page.map((identity) => adminJson(ctx, identity, req)));
  });

  router.get('/admin/identities/:id', (req, res) => {
    res.status(200).json(adminJson(ctx, findIdentity(ctx, req.params.id), req));
  });

  router.put('/admin/identities/:id', (req, res) => {
    const identity = findIdentity(ctx, req.params.id);
    const body = (req.body ?? {}) as IdentityBody;
    const traits = checkedTraits(ctx, body);
    const state = parseState(body.state);
    if (!state) throw errors.badRequest('The state must be "active" or "inactive".');
    const updated: StoredIdentity = {
      ...identity,
      traits,
      metadataPublic: body.metadata_public === undefined ? identity.metadataPublic : body.metadata_public,
      metadataAdmin: body.metadata_admin === undefined ? identity.metadataAdmin : body.metadata_admin,
    };
    save(ctx, identity, updated, state);
    const password = passwordFrom(body);
    if (password.password !== undefined) setPassword(ctx, identity, hashPassword(password.password));
    else if (password.hashedPassword !== undefined) setPassword(ctx, identity, password.hashedPassword);
    res.status(200).json(adminJson(ctx, identity, req));
  });

  router.patch('/admin/identities/:id', (req, res) => {
    const identity = findIdentity(ctx, req.params.id);
    const patchable = {
      schema_id: identity.schemaId,
      state: identity.state,
      traits: identity.traits,
      metadata_public: identity.metadataPublic,
      metadata_admin: identity.metadataAdmin,
      verifiable_addresses: identity.verifiableAddresses.map((a) => ({
        value: a.value,
        verified: a.verified,
        status: a.status,
      })),
    };
    // Like Kratos, an address's verified flag may be patched (addresses themselves follow the traits).
    const patched = applyJsonPatch(
      patchable,
      req.body,
      (path) =>
        /^\/(traits|metadata_public|metadata_admin|state)(\/|$)/.test(path) ||
        /^\/verifiable_addresses\/\d+\/(value|verified|status)$/.test(path),
    );
    const problems = ctx.schema.check(patched.traits);
    if (problems.length > 0) throw errors.badRequest(problems.map((p) => p.reason).join('; '));
    const state = parseState(patched.state);
    if (!state) throw errors.badRequest('The state must be "active" or "inactive".');
    save(
      ctx,
      identity,
      {
        ...identity,
        traits: patched.traits,
        metadataPublic: patched.metadata_public,
        metadataAdmin: patched.metadata_admin,
      },
      state,
    );
    importVerifiedAddresses(ctx, identity, patched);
    res.status(200).json(adminJson(ctx, identity, req));
  });

  router.delete('/admin/identities/:id', (req, res) => {
    const identity = findIdentity(ctx, req.params.id);
    ctx.state.identities.delete(identity.id);
    for (const session of [...ctx.state.sessions.values()]) {
      if (session.identityId === identity.id) ctx.state.sessions.delete(session.id);
    }
    res.status(204).end();
  });

  router.delete('/admin/identities/:id/credentials/:type', (req, res) => {
    const identity = findIdentity(ctx, req.params.id);
    const type = req.params.type as CredentialType;
    if (!identity.credentials[type])
      throw errors.notFound(`You tried to remove a ${type} but this user have no ${type} set up.`);
    if (type === 'password' || type === 'code')
      throw errors.badRequest('You cannot remove first factor credentials.');
    if (type === 'oidc') removeOidcIdentifier(identity, req.query.identifier);
    else delete identity.credentials[type];
    identity.updatedAt = ctx.now();
    res.status(204).end();
  });

  router.get('/admin/identities/:id/sessions', (req, res) => {
    const identity = findIdentity(ctx, req.params.id);
    const active = req.query.active === undefined ? undefined : req.query.active === 'true';
    const sessions = [...ctx.state.sessions.values()].filter(
      (s) => s.identityId === identity.id && (active === undefined || isSessionActive(ctx, s) === active),
    );
    const page = paginate(req, res, sessions, `${adminUrl()}/admin/identities/${identity.id}/sessions`);
    res
      .status(200)
      .json(
        page.map((s) =>
          sessionJson(ctx, s, { includeIdentity: true, includeDevices: true, withoutAddresses: true }),
        ),
      );
  });

  router.delete('/admin/identities/:id/sessions', (req, res) => {
    const identity = findIdentity(ctx, req.params.id);
    revokeSessions(ctx, identity.id);
    res.status(204).end();
  });
}

/**
 * Removes one provider account from the oidc credential (identity.deleteCredentialOIDCFromIdentity):
 * the credential stays, with what is left (no identifier at all after the last one).
 */
function removeOidcIdentifier(identity: StoredIdentity, identifier: unknown): void {
  if (typeof identifier !== 'string' || identifier === '')
    throw errors.badRequest('You must provide an identifier to delete this credential.');
  const credential = identity.credentials.oidc;
  if (!credential) {
    throw errors.notFound(
      'You tried to remove an OIDC credential but this user has no such credential set up.',
    );
  }
  const providers = (credential.config.providers ?? []) as { provider?: string; subject?: string }[];
  const kept = providers.filter((p) => oidcIdentifier(String(p.provider), String(p.subject)) !== identifier);
  if (kept.length === providers.length)
    throw errors.notFound(`The identifier \`${identifier}\` was not found among OIDC credentials.`);
  credential.identifiers = kept.map((p) => oidcIdentifier(String(p.provider), String(p.subject)));
  credential.config = { providers: kept };
}

function findIdentity(ctx: DoubleContext, id: string): StoredIdentity {
  const identity = ctx.state.identities.get(id);
  if (!identity) throw errors.notFound();
  return identity;
}

function checkedTraits(ctx: DoubleContext, body: IdentityBody): Record<string, unknown> {
  if (body.schema_id !== undefined && body.schema_id !== ctx.schema.id) {
    throw errors.badRequest(`The requested identity schema ${String(body.schema_id)} does not exist.`);
  }
  if (!body.traits || typeof body.traits !== 'object' || Array.isArray(body.traits)) {
    throw errors.badRequest('The traits must be an object.');
  }
  const problems = ctx.schema.check(body.traits);
  if (problems.length > 0) throw errors.badRequest(problems.map((p) => p.reason).join('; '));
  return body.traits as Record<string, unknown>;
}

function parseState(state: unknown): 'active' | 'inactive' | undefined {
  if (state === undefined) return undefined;
  if (state === 'active' || state === 'inactive') return state;
  throw errors.badRequest('The state must be "active" or "inactive".');
}

function passwordFrom(body: IdentityBody): { password?: string; hashedPassword?: string } {
  const config = body.credentials?.password?.config;
  if (!config) return {};
  if (typeof config.password === 'string') return { password: config.password };
  if (typeof config.hashed_password === 'string') return { hashedPassword: config.hashed_password };
  return {};
}

/** Lets tests (and imports) seed already verified addresses, as Kratos' import does. */
function importVerifiedAddresses(ctx: DoubleContext, identity: StoredIdentity, body: IdentityBody): void {
  for (const imported of body.verifiable_addresses ?? []) {
    const address = identity.verifiableAddresses.find(
      (a) => a.value === String(imported.value ?? '').toLowerCase(),
    );
    if (address && imported.verified === true && !address.verified) {
      Object.assign(address, { verified: true, verifiedAt: ctx.now(), status: 'completed' });
    }
  }
}

/** Stores an update, keeping identifiers unique; deactivation stamps `state_changed_at`. */
function save(
  ctx: DoubleContext,
  identity: StoredIdentity,
  updated: StoredIdentity,
  state: 'active' | 'inactive',
): void {
  if (identifiersTaken(ctx, updated)) throw errors.conflict();
  const now = ctx.now();
  if (state !== identity.state) identity.stateChangedAt = now;
  Object.assign(identity, {
    traits: updated.traits,
    metadataPublic: updated.metadataPublic,
    metadataAdmin: updated.metadataAdmin,
    state,
    updatedAt: now,
  });
  syncAddresses(identity, ctx.schema, now);
}

function listIdentities(ctx: DoubleContext, req: Request): StoredIdentity[] {
  const all = [...ctx.state.identities.values()].sort((a, b) => a.id.localeCompare(b.id));
  const identifier =
    typeof req.query.credentials_identifier === 'string' ? req.query.credentials_identifier : undefined;
  if (identifier) {
    const match =
      findByIdentifier(ctx, 'password', identifier) ??
      findByIdentifier(ctx, 'code', identifier) ??
      // oidc identifiers (`<provider>:<subject>`) match exactly, not case-folded like e-mails.
      [...ctx.state.identities.values()].find((i) => i.credentials.oidc?.identifiers.includes(identifier));
    return match ? [match] : [];
  }
  const ids = ([] as unknown[]).concat(req.query.ids ?? []).map(String);
  return ids.length > 0 ? all.filter((i) => ids.includes(i.id)) : all;
}

function adminJson(ctx: DoubleContext, identity: StoredIdentity, req: Request): Record<string, unknown> {
  const include = ([] as unknown[]).concat(req.query.include_credential ?? []).map(String);
  return identityJson(identity, ctx.publicUrl, { admin: true, includeCredentials: include });
}

const IDENTITY_PATH = /^\/admin\/identities\/([^/?]+)(?:\?(.*))?$/;

/**
 * GET /admin/identities/{id} of a known identity, answered before Express as the route above
 * answers it: the gateway reads the identity at every sign-in, and the benchmarks run the
 * double as their Kratos, so this read costs what a plain server's would. Anything else
 * (an unknown or malformed id included) answers false and goes on to Express.
 */
export function answerIdentityRead(ctx: DoubleContext, req: IncomingMessage, res: ServerResponse): boolean {
  const match = req.method === 'GET' ? IDENTITY_PATH.exec(req.url ?? '') : null;
  if (!match) return false;
  let identity: StoredIdentity | undefined;
  try {
    identity = ctx.state.identities.get(decodeURIComponent(match[1]!));
  } catch {
    return false;
  }
  if (!identity) return false;
  const include = new URLSearchParams(match[2] ?? '').getAll('include_credential');
  const body = JSON.stringify(
    identityJson(identity, ctx.publicUrl, { admin: true, includeCredentials: include }),
  );
  res.writeHead(200, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
  return true;
}
