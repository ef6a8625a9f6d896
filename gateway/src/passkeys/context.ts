import type { Request } from 'express';
import type { AppDeps } from '../deps.js';
import { AppError } from '../http/errors.js';
import { challengeOf } from './credential-json.js';
import {
  createChallengeStore,
  type CeremonyPurpose,
  type ChallengeStore,
  type PendingChallenge,
} from './challenge-store.js';
import { createPasskeyStore, type PasskeyStore } from './credential-store.js';
import { relyingParty, type RelyingParty } from './relying-party.js';
import { saveSession } from '../session/sessions.js';

/** What every ceremony needs besides the app's deps. */
export interface PasskeyContext {
  rp: RelyingParty;
  store: PasskeyStore;
  challenges: ChallengeStore;
}

const contexts = new WeakMap<AppDeps, PasskeyContext>();

/** The passkey stores and relying party built from the app's deps (once per deps). */
export function passkeysOf(deps: AppDeps): PasskeyContext {
  let ctx = contexts.get(deps);
  if (!ctx) {
    ctx = {
      rp: relyingParty(deps.config),
      store: createPasskeyStore(deps.db),
      challenges: createChallengeStore(deps.kv, deps.config.WEBAUTHN_CHALLENGE_TTL_SECONDS),
    };
    contexts.set(deps, ctx);
  }
  return ctx;
}

/**
 * The browser's pre-session id, which challenges are bound to. Created (and the session
 * saved, so the cookie is set with this answer) the first time a ceremony starts.
 */
export async function preSessionId(deps: AppDeps, req: Request): Promise<string> {
  if (!req.session.preId) {
    req.session.preId = deps.random(18).toString('base64url');
    await saveSession(req);
  }
  return req.session.preId;
}

/** A fresh random challenge. */
export const newChallenge = (deps: AppDeps) => new Uint8Array(deps.random(32));

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
  deps: AppDeps,
  req: Request,
  clientDataJSON: string,
  purpose: CeremonyPurpose,
): Promise<{ challenge: string; pending: PendingChallenge }> {
  const challenge = challengeOf(clientDataJSON);
  const preId = req.session?.preId;
  if (!preId) throw challengeInvalid();
  const pending = await passkeysOf(deps).challenges.consume(preId, challenge, purpose);
  if (!pending) throw challengeInvalid();
  return { challenge, pending };
}

/** Runs a @simplewebauthn verification; whatever it rejects is the client's fault, a 400. */
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
  deps: AppDeps,
  req: Request,
  event: {
    type: string;
    outcome: 'success' | 'failure' | 'denied';
    identityId?: string | undefined;
    details?: Record<string, unknown>;
  },
) {
  return deps.audit.record({
    ...event,
    actorId: req.principal?.identityId ?? event.identityId,
    ip: req.ip,
    requestId: req.requestId,
  });
}
