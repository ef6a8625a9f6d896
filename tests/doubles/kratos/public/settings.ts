import type { Request, Router } from 'express';
import type { DoubleContext } from '../context.js';
import { errors } from '../errors.js';
import { assertFlowSession, createFlow, loadFlow, resetFeedback, originOf } from '../flows.js';
import {
  checkCsrf,
  input,
  isTrue,
  sendFlow,
  setCsrfCookie,
  str,
  uiUrl,
  wantsJson,
  seeOther,
} from '../http.js';
import { identifiersTaken, setPassword } from '../identities.js';
import { hashPassword, syncAddresses } from '../identity.js';
import { generateLookupCodes, lookupConfig } from '../lookup.js';
import { passwordProblem } from '../password-policy.js';
import { completeFactor, enforceAal, requireSession, revokeSessions } from '../sessions.js';
import type { StoredFlow, StoredIdentity, StoredSession } from '../state.js';
import { newTotpKey, verifyTotp } from '../totp.js';
import { texts } from '../ui.js';
import { FlowInterrupted, runWebHook } from '../webhooks.js';
import { startVerificationAfterRegistration } from './verification.js';

/** Settings flows for the profile, password, TOTP and backup-code methods. */
export function registerSettingsRoutes(router: Router, ctx: DoubleContext): void {
  router.get('/self-service/settings/api', async (req, res) => {
    const { session, identity } = requireSession(ctx, req);
    enforceAal(ctx, session, identity, ctx.config.settingsRequiredAal);
    sendFlow(res, ctx, await createSettingsFlow(ctx, req, 'api', session, identity));
  });

  router.get('/self-service/settings/browser', async (req, res) => {
    const { session, identity } = requireSession(ctx, req);
    enforceAal(ctx, session, identity, ctx.config.settingsRequiredAal);
    const flow = await createSettingsFlow(ctx, req, 'browser', session, identity);
    setCsrfCookie(ctx, res, flow);
    if (wantsJson(req)) return sendFlow(res, ctx, flow);
    seeOther(res, `${uiUrl(ctx, 'settings')}?flow=${flow.id}`);
  });

  router.get('/self-service/settings/flows', (req, res) => {
    const { session } = requireSession(ctx, req);
    const flow = loadFlow(ctx, 'settings', req.query.id);
    assertFlowSession(ctx, flow, session.id);
    sendFlow(res, ctx, flow);
  });

  router.post('/self-service/settings', async (req, res) => {
    const { session, identity } = requireSession(ctx, req);
    const flow = loadFlow(ctx, 'settings', req.query.flow);
    assertFlowSession(ctx, flow, session.id);
    enforceAal(ctx, session, identity, ctx.config.settingsRequiredAal);
    checkCsrf(ctx, req, flow);
    resetFeedback(flow);
    const ok = await updateSettings(ctx, req, flow, session, identity);
    sendFlow(res, ctx, flow, ok ? 200 : 400);
  });
}

/** A settings flow for the session; offers a fresh TOTP key when the identity has none yet. */
export async function createSettingsFlow(
  ctx: DoubleContext,
  req: Request,
  type: 'api' | 'browser',
  session: StoredSession,
  identity: StoredIdentity,
): Promise<StoredFlow> {
  const flow = createFlow(ctx, 'settings', type, originOf(req), {
    sessionId: session.id,
    identityId: identity.id,
  });
  if (!identity.credentials.totp) await offerTotp(ctx, flow, identity);
  return flow;
}

async function offerTotp(ctx: DoubleContext, flow: StoredFlow, identity: StoredIdentity): Promise<void> {
  const key = await newTotpKey(ctx.config.totpIssuer, ctx.schema.totpAccountName(identity.traits));
  flow.totpSecret = key.secret;
  flow.totpQr = key.qr;
}

type Outcome = 'saved' | 'shown' | 'failed';

async function updateSettings(
  ctx: DoubleContext,
  req: Request,
  flow: StoredFlow,
  session: StoredSession,
  identity: StoredIdentity,
): Promise<boolean> {
  const body = input(req);
  const method = str(body.method);
  flow.active = method;
  const outcome = await applyMethod(ctx, req, flow, session, identity, body);
  if (outcome === 'failed') return false;
  if (outcome === 'shown') {
    flow.state = 'show_form';
    return true;
  }
  identity.updatedAt = ctx.now();
  flow.state = 'success';
  flow.messages.push(texts.settingsSaved());
  try {
    await runWebHook(ctx, 'settings', flow, identity, session);
  } catch (error) {
    if (error instanceof FlowInterrupted) return false;
    throw error;
  }
  return true;
}

async function applyMethod(
  ctx: DoubleContext,
  req: Request,
  flow: StoredFlow,
  session: StoredSession,
  identity: StoredIdentity,
  body: Record<string, unknown>,
): Promise<Outcome> {
  switch (str(body.method)) {
    case 'profile':
      return updateProfile(ctx, req, flow, session, identity, body.traits);
    case 'password':
      requirePrivileged(ctx, session);
      return updatePassword(ctx, flow, session, identity, str(body.password) ?? '');
    case 'totp':
      requirePrivileged(ctx, session);
      return updateTotp(ctx, flow, session, identity, body);
    case 'lookup_secret':
      requirePrivileged(ctx, session);
      return updateLookup(ctx, flow, session, identity, body);
    default:
      flow.messages.push(texts.settingsNoStrategy());
      return 'failed';
  }
}

/** Changing credentials needs a recent authentication (`privileged_session_max_age`). */
function requirePrivileged(ctx: DoubleContext, session: StoredSession): void {
  if (ctx.now() - session.authenticatedAt > ctx.config.privilegedSessionMaxAgeMs)
    throw errors.refreshRequired(ctx.publicUrl);
}

function updateProfile(
  ctx: DoubleContext,
  req: Request,
  flow: StoredFlow,
  session: StoredSession,
  identity: StoredIdentity,
  submitted: unknown,
): Outcome {
  const traits = (submitted && typeof submitted === 'object' ? submitted : {}) as Record<string, unknown>;
  const problems = ctx.schema.check(traits);
  for (const problem of problems) flow.nodeMessages[problem.node] = [problem.message];
  if (problems.length > 0) return 'failed';
  // Identifiers and addresses are protected fields: changing them needs a privileged session.
  const protectedBefore = JSON.stringify(protectedValues(ctx, identity.traits));
  if (JSON.stringify(protectedValues(ctx, traits)) !== protectedBefore) requirePrivileged(ctx, session);
  const candidate: StoredIdentity = { ...identity, traits };
  if (identifiersTaken(ctx, candidate)) {
    flow.messages.push(texts.duplicateCredentials());
    return 'failed';
  }
  identity.traits = traits;
  // Kratos saves the session's copy of the identity, which has no state_changed_at: a profile
  // change clears it (seen on v1.3.1; tests/contract/fixtures).
  identity.stateChangedAt = undefined;
  syncAddresses(identity, ctx.schema, ctx.now());
  const continueWith = startVerificationAfterRegistration(ctx, flow.type, identity, 'settings');
  if (continueWith.length > 0) flow.continueWith = continueWith;
  return 'saved';
}

function protectedValues(ctx: DoubleContext, traits: Record<string, unknown>): string[][] {
  return [
    ctx.schema.identifiers(traits, 'password'),
    ctx.schema.identifiers(traits, 'code'),
    ctx.schema.verifiableAddresses(traits).map((a) => `${a.via}:${a.value}`),
    ctx.schema.recoveryAddresses(traits),
  ];
}

function updatePassword(
  ctx: DoubleContext,
  flow: StoredFlow,
  session: StoredSession,
  identity: StoredIdentity,
  password: string,
): Outcome {
  const problem = password
    ? passwordProblem(password, ctx.schema.identifiers(identity.traits, 'password'), {
        minLength: ctx.config.minPasswordLength,
        similarityCheck: ctx.config.identifierSimilarityCheck,
      })
    : texts.required('password');
  if (problem) {
    flow.nodeMessages.password = [problem];
    return 'failed';
  }
  setPassword(ctx, identity, hashPassword(password));
  if (ctx.config.revokeSessionsAfter.has('settings')) revokeSessions(ctx, identity.id, session.id);
  return 'saved';
}

async function updateTotp(
  ctx: DoubleContext,
  flow: StoredFlow,
  session: StoredSession,
  identity: StoredIdentity,
  body: Record<string, unknown>,
): Promise<Outcome> {
  if (isTrue(body.totp_unlink)) {
    delete identity.credentials.totp;
    await offerTotp(ctx, flow, identity);
    return 'saved';
  }
  if (identity.credentials.totp || !flow.totpSecret) {
    flow.messages.push(texts.settingsNoStrategy());
    return 'failed';
  }
  if (!verifyTotp(flow.totpSecret, body.totp_code, ctx.now())) {
    flow.nodeMessages.totp_code = [texts.totpWrong()];
    return 'failed';
  }
  const now = ctx.now();
  const accountName = encodeURIComponent(ctx.schema.totpAccountName(identity.traits));
  const issuer = encodeURIComponent(ctx.config.totpIssuer);
  identity.credentials.totp = {
    type: 'totp',
    identifiers: [identity.id],
    config: {
      totp_url: `otpauth://totp/${issuer}:${accountName}?algorithm=SHA1&digits=6&issuer=${issuer}&period=30&secret=${flow.totpSecret}`,
    },
    version: 0,
    createdAt: now,
    updatedAt: now,
  };
  flow.totpSecret = undefined;
  flow.totpQr = undefined;
  // Kratos counts the factor just proven as completed for this session.
  completeFactor(ctx, session, 'totp', 'aal2');
  return 'saved';
}

function updateLookup(
  ctx: DoubleContext,
  flow: StoredFlow,
  session: StoredSession,
  identity: StoredIdentity,
  body: Record<string, unknown>,
): Outcome {
  if (isTrue(body.lookup_secret_regenerate)) {
    flow.pendingLookupCodes = generateLookupCodes();
    return 'shown';
  }
  if (isTrue(body.lookup_secret_reveal)) {
    flow.revealLookupCodes = true;
    return 'shown';
  }
  if (isTrue(body.lookup_secret_disable)) {
    delete identity.credentials.lookup_secret;
    flow.revealLookupCodes = false;
    return 'saved';
  }
  if (isTrue(body.lookup_secret_confirm) && flow.pendingLookupCodes) {
    const now = ctx.now();
    identity.credentials.lookup_secret = {
      type: 'lookup_secret',
      identifiers: [identity.id],
      config: lookupConfig(flow.pendingLookupCodes.map((code) => ({ code }))),
      version: 0,
      createdAt: now,
      updatedAt: now,
    };
    flow.pendingLookupCodes = undefined;
    completeFactor(ctx, session, 'lookup_secret', 'aal2');
    return 'saved';
  }
  flow.messages.push(texts.settingsNoStrategy());
  return 'failed';
}
