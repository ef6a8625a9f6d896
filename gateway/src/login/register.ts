import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { AppError } from '../errors/app-error.js';
import { KratosHttpError } from '../kratos/client.js';
import type { KratosIdentity } from '../kratos/types.js';
import type { Logger } from '../logging/logger.js';
import type { Mailer } from '../mail/mailer.js';
import { saveProfile } from '../profiles/profile-store.js';
import type { RequestContext } from '../session/request-context.js';
import { establishGatewaySession } from '../session/sessions.js';
import { normalizeIdentifier } from '../identity/identifier.js';
import { loginWithPassword, type LoginDeps } from './password-login.js';
import { sendRegistrationMail } from './register-mail.js';

/** What sign-up uses. */
export type RegistrationDeps = LoginDeps & {
  config: Pick<Config, 'SESSION_ENCRYPTION_KEY' | 'DEFAULT_ROLE'>;
  db: Database;
  logger: Logger;
  mailer?: Mailer | undefined;
};

const DUPLICATE = 4000007;
const PASSWORD_POLICY = [4000005, 4000031, 4000032, 4000033, 4000034];

/** How long a sign-up code is valid, and how many wrong guesses it survives. */
const REGISTRATION_CODE_TTL_SECONDS = 10 * 60;
const REGISTRATION_CODE_MAX_ATTEMPTS = 5;

interface RegistrationInput {
  email: string;
  password?: string | undefined;
  traits?: Record<string, unknown> | undefined;
}

interface RegistrationConfirmation {
  email: string;
  code: string;
  password?: string | undefined;
}

/** The pending sign-up kept in Redis between the two steps; nothing in it is usable alone. */
interface PendingRegistration {
  v: 1;
  nonce: string;
  /** HMAC of the code under a key derived from SESSION_ENCRYPTION_KEY (never the code itself). */
  codeMac: string;
  /** The password sealed with SESSION_ENCRYPTION_KEY, bound to the address and the nonce. */
  password?: string;
  traits: Record<string, unknown>;
  attempts: number;
  expiresAt: number;
}

/** The one answer of the first step, whatever the address. */
export const REGISTRATION_STARTED = {
  status: 'verification_sent',
  message:
    'Check your inbox: we sent a message to this address. Enter the code from it to finish signing up.',
} as const;

const invalidCode = () =>
  new AppError('invalid_code', 400, 'The code is wrong or expired. Ask for a new one by signing up again.');

const pendingKey = (email: string) =>
  `registration:${createHash('sha256').update(email).digest('base64url')}`;

function codeMac(deps: RegistrationDeps, email: string, nonce: string, code: string): Buffer {
  const key = Buffer.from(
    hkdfSync('sha256', deps.config.SESSION_ENCRYPTION_KEY, Buffer.alloc(0), 'gateway registration code', 32),
  );
  return createHmac('sha256', key).update(`${email}\0${nonce}\0${code}`).digest();
}

const sealContext = (email: string, nonce: string) => `registration:${email}:${nonce}`;

/** A uniformly drawn six-digit code (rejection sampling over 32 random bits). */
function sixDigitCode(deps: RegistrationDeps): string {
  const limit = Math.floor(2 ** 32 / 1_000_000) * 1_000_000;
  for (;;) {
    const n = deps.random(4).readUInt32BE(0);
    if (n < limit) return String(n % 1_000_000).padStart(6, '0');
  }
}

/** Maps Kratos' registration refusals to clear answers (the address is proven by then). */
function registrationError(err: KratosHttpError): AppError {
  const ids = err.messageIds();
  if (ids.includes(DUPLICATE)) return invalidCode();
  if (ids.some((id) => PASSWORD_POLICY.includes(id)))
    return new AppError('weak_password', 400, err.firstMessage() ?? 'This password cannot be used.');
  return new AppError('invalid_registration', 400, err.firstMessage() ?? 'The registration was refused.');
}

/**
 * First step of a sign-up: the same work and the same answer for every address. A free
 * address gets a six-digit code; the owner of a taken one gets "you already have an
 * account" instead. A pending sign-up is written either way (for a taken address its code
 * is never sent), so both cost one Kratos look-up, one Redis write and one mail.
 */
export async function startRegistration(
  deps: RegistrationDeps,
  ctx: RequestContext,
  input: RegistrationInput,
): Promise<void> {
  const email = normalizeIdentifier(input.email);
  const existing = await deps.kratos.findIdentityByIdentifier(email);
  const code = sixDigitCode(deps);
  const nonce = deps.random(16).toString('base64url');
  const pending: PendingRegistration = {
    v: 1,
    nonce,
    codeMac: codeMac(deps, email, nonce, code).toString('base64url'),
    ...(input.password && { password: deps.tokenCipher.seal(input.password, sealContext(email, nonce)) }),
    traits: { ...input.traits, email },
    attempts: 0,
    expiresAt: deps.clock().getTime() + REGISTRATION_CODE_TTL_SECONDS * 1000,
  };
  await deps.kv.set(pendingKey(email), JSON.stringify(pending), REGISTRATION_CODE_TTL_SECONDS);
  const minutes = Math.round(REGISTRATION_CODE_TTL_SECONDS / 60);
  await sendRegistrationMail(
    deps,
    email,
    existing ? { kind: 'account_exists', minutes } : { kind: 'code', code, minutes },
  );
  await deps.audit.record({
    type: 'registration.requested',
    outcome: 'success',
    identityId: existing?.id,
    ip: ctx.ip,
    requestId: ctx.requestId,
    details: { existing: Boolean(existing) },
  });
}

/** Puts a pending sign-up back for the time it has left (a wrong code, a refused password). */
async function putBack(deps: RegistrationDeps, email: string, pending: PendingRegistration): Promise<void> {
  const left = Math.ceil((pending.expiresAt - deps.clock().getTime()) / 1000);
  if (left > 0 && pending.attempts < REGISTRATION_CODE_MAX_ATTEMPTS)
    await deps.kv.set(pendingKey(email), JSON.stringify(pending), left);
}

function parsePending(raw: string | null): PendingRegistration | undefined {
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as PendingRegistration;
    return value?.v === 1 ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Second step: the code proves the address, then the identity is created and signed in.
 * The pending sign-up is taken out of Redis atomically (GETDEL), so two guesses never run
 * at once; a wrong guess puts it back with one attempt fewer, the last wrong guess drops it.
 * Every refusal that could tell a taken address from a free one is the same `invalid_code`.
 */
export async function confirmRegistration(
  deps: RegistrationDeps,
  ctx: RequestContext,
  input: RegistrationConfirmation,
): Promise<void> {
  const email = normalizeIdentifier(input.email);
  const event = { ip: ctx.ip, requestId: ctx.requestId };
  const pending = parsePending(await deps.kv.getDel(pendingKey(email)));
  const expected = pending && Buffer.from(pending.codeMac, 'base64url');
  const given = codeMac(deps, email, pending?.nonce ?? '', input.code);
  const valid =
    pending !== undefined &&
    expected !== undefined &&
    pending.expiresAt > deps.clock().getTime() &&
    expected.length === given.length &&
    timingSafeEqual(expected, given);
  if (!valid) {
    if (pending) await putBack(deps, email, { ...pending, attempts: pending.attempts + 1 });
    await deps.audit.record({
      type: 'registration',
      outcome: 'failure',
      ...event,
      details: { reason: 'invalid_code' },
    });
    throw invalidCode();
  }
  const password =
    input.password ??
    (pending.password
      ? deps.tokenCipher.open(pending.password, sealContext(email, pending.nonce))
      : undefined);
  if (pending.password && password === undefined) throw invalidCode();
  const traits = { ...pending.traits, email };
  if (!password) return createPasswordless(deps, ctx, traits);
  try {
    await createWithPassword(deps, ctx, traits, password);
  } catch (err) {
    // A password Kratos' policy refuses: the code stays good for another password.
    if (err instanceof AppError && err.code === 'weak_password') {
      const { password: _dropped, ...rest } = pending;
      await putBack(deps, email, rest);
    }
    throw err;
  }
}

/**
 * Marks the proven address verified through the admin API and syncs the gateway's profile.
 * A refusal is logged, never fatal: the account exists and can still verify by Kratos' flow.
 */
async function markVerified(deps: RegistrationDeps, identity: KratosIdentity): Promise<boolean> {
  let updated = identity;
  try {
    // Our identity schema has one verifiable address, the e-mail. Kratos v1.3.1 refuses the
    // JSON Patch `test` operation (400), so the index cannot be asserted in the patch itself.
    updated = await deps.kratos.patchIdentity(identity.id, [
      { op: 'replace', path: '/verifiable_addresses/0/verified', value: true },
      { op: 'replace', path: '/verifiable_addresses/0/status', value: 'completed' },
    ]);
  } catch (err) {
    deps.logger.warn('proven address not marked verified', {
      identityId: identity.id,
      error: (err as Error).message,
    });
  }
  await saveProfile(deps.db, {
    identityId: updated.id,
    email: updated.email,
    emailVerified: updated.emailVerified,
    traits: updated.traits,
  });
  return updated.emailVerified;
}

/**
 * Passwordless: the identity is created through the admin API with its address verified,
 * and the session may do nothing but register its first passkey. The admin API runs no
 * registration hook, so the default role and the profile are set here. Kratos itself
 * refuses an address taken since the first step (409), so there is no look-up to race with.
 */
async function createPasswordless(
  deps: RegistrationDeps,
  ctx: RequestContext,
  traits: Record<string, unknown>,
) {
  const email = String(traits.email);
  const identity = await deps.kratos
    .createIdentity({
      traits,
      metadataPublic: { roles: [deps.config.DEFAULT_ROLE] },
      verifiedAddress: email,
    })
    .catch(async (err: unknown) => {
      if (err instanceof KratosHttpError && err.status === 409) {
        await deps.audit.record({
          type: 'registration',
          outcome: 'failure',
          ip: ctx.ip,
          requestId: ctx.requestId,
          details: { method: 'passkey', reason: 'taken' },
        });
        throw invalidCode();
      }
      throw err;
    });
  await saveProfile(deps.db, {
    identityId: identity.id,
    email: identity.email,
    emailVerified: identity.emailVerified,
    traits: identity.traits,
  });
  await establishGatewaySession(deps, ctx, {
    identityId: identity.id,
    kind: 'registration',
    methods: [],
    passkeyEnrollmentRequired: true,
  });
  await deps.audit.record({
    type: 'registration',
    outcome: 'success',
    identityId: identity.id,
    ip: ctx.ip,
    requestId: ctx.requestId,
    details: { method: 'passkey' },
  });
}

/**
 * With a password: a Kratos registration API flow, so Kratos' password policy and the
 * registration web hooks run; then the proven address is marked verified.
 */
async function createWithPassword(
  deps: RegistrationDeps,
  ctx: RequestContext,
  traits: Record<string, unknown>,
  password: string,
) {
  const event = { ip: ctx.ip, requestId: ctx.requestId };
  let result;
  try {
    result = await deps.kratos.registerWithPassword(traits, password);
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 400) {
      const refusal = registrationError(err);
      await deps.audit.record({
        type: 'registration',
        outcome: 'failure',
        ...event,
        details: { method: 'password', reason: refusal.code },
      });
      throw refusal;
    }
    throw err;
  }
  const emailVerified = await markVerified(deps, result.identity);
  await deps.audit.record({
    type: 'registration',
    outcome: 'success',
    identityId: result.identity.id,
    ...event,
    details: { method: 'password', emailVerified },
  });
  if (result.sessionToken && result.session) {
    await establishGatewaySession(deps, ctx, {
      identityId: result.identity.id,
      kind: 'password',
      kratosToken: result.sessionToken,
      kratosSessionId: result.session.id,
      methods: [],
    });
    return;
  }
  // Kratos without the session hook after registration: sign in with the new password.
  await loginWithPassword(deps, ctx, { identifier: String(traits.email), password });
}
