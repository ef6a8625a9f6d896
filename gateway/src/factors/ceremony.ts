import type { AuditLog } from '../audit/audit-log.js';
import type { AssertionVerifier } from './assertion-verifier.js';
import type { AuditEventType } from '../audit/event-types.js';
import { AppError } from '../errors/app-error.js';
import type { CeremonyPurpose, ChallengeStore, PendingChallenge } from './challenge-store.js';
import { challengeOf } from './credential-json.js';
import type { PasskeyStore } from './passkey-store.js';
import type { RelyingParty } from './relying-party.js';

/** What the WebAuthn ceremonies use: the stores and relying party (built once, in build-deps.ts). */
export interface CeremonyDeps {
  rp: RelyingParty;
  assertions: AssertionVerifier;
  passkeys: PasskeyStore;
  challenges: ChallengeStore;
  audit: AuditLog;
  clock: () => Date;
  random: (bytes: number) => Buffer;
}

/** The parts of a request a ceremony reads: who asks, from where, and the browser's session. */
export interface CeremonyContext {
  ip: string | undefined;
  requestId: string;
  principal?: { identityId: string } | undefined;
  session: { preId?: string | undefined; save(): Promise<void> };
}

/**
 * The browser's pre-session id, which challenges are bound to. Created (and the session
 * saved, so the cookie is set with this answer) the first time a ceremony starts.
 */
export async function preSessionId(
  deps: Pick<CeremonyDeps, 'random'>,
  ctx: CeremonyContext,
): Promise<string> {
  if (!ctx.session.preId) {
    ctx.session.preId = deps.random(18).toString('base64url');
    await ctx.session.save();
  }
  return ctx.session.preId;
}

/** A fresh random challenge. */
export const newChallenge = (deps: Pick<CeremonyDeps, 'random'>) => new Uint8Array(deps.random(32));

export const challengeInvalid = () =>
  new AppError(
    'passkey_challenge_invalid',
    400,
    'This passkey request has expired or was already used. Start again.',
  );

/**
 * Takes the challenge named in the client data out of the store, before anything is
 * verified: whatever happens next, it cannot be used a second time.
 */
export async function consumeChallenge(
  deps: Pick<CeremonyDeps, 'challenges'>,
  ctx: CeremonyContext,
  clientDataJSON: string,
  purpose: CeremonyPurpose,
): Promise<{ challenge: string; pending: PendingChallenge }> {
  const challenge = challengeOf(clientDataJSON);
  const preId = ctx.session.preId;
  if (!preId) throw challengeInvalid();
  const pending = await deps.challenges.consume(preId, challenge, purpose);
  if (!pending) throw challengeInvalid();
  return { challenge, pending };
}

/** Runs a WebAuthn verification; whatever it rejects is the client's fault, a 400. */
export async function verifying<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw verificationFailed(err);
  }
}

export const verificationFailed = (cause?: unknown) =>
  new AppError('passkey_verification_failed', 400, 'The passkey response could not be verified.', { cause });

/** Records a ceremony outcome in the audit log (awaited: before the answer is sent). */
export function auditCeremony(
  deps: Pick<CeremonyDeps, 'audit'>,
  ctx: CeremonyContext,
  event: {
    type: AuditEventType;
    outcome: 'success' | 'failure' | 'denied';
    identityId?: string | undefined;
    details?: Record<string, unknown>;
  },
) {
  return deps.audit.record({
    ...event,
    actorId: ctx.principal?.identityId ?? event.identityId,
    ip: ctx.ip,
    requestId: ctx.requestId,
  });
}

/** Records a refused ceremony (any 4xx) before the refusal is answered. */
export async function auditRefusal<T>(
  deps: Pick<CeremonyDeps, 'audit'>,
  ctx: CeremonyContext,
  type: AuditEventType,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      await auditCeremony(deps, ctx, {
        type,
        outcome: 'failure',
        identityId: ctx.principal?.identityId,
        details: { reason: err.code },
      });
    }
    throw err;
  }
}
