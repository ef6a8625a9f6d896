import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { AppError } from '../errors/app-error.js';
import type { CeremonyPurpose, PendingChallenge } from './challenge-store.js';
import {
  auditCeremony,
  challengeInvalid,
  consumeChallenge,
  verificationFailed,
  verifying,
  type CeremonyContext,
  type CeremonyDeps,
} from './ceremony.js';
import type { StoredPasskey } from './passkey-store.js';

/** A verified assertion: which passkey, and whether the authenticator verified the user. */
interface VerifiedAssertion {
  passkey: StoredPasskey;
  userVerified: boolean;
}

const notRecognized = () =>
  new AppError('passkey_not_recognized', 401, 'This passkey is not registered here.');

const clonedRefusal = () =>
  new AppError(
    'passkey_cloned',
    403,
    'This passkey may have been copied and can no longer be used. Sign in another way and remove it.',
  );

type Found = Awaited<ReturnType<CeremonyDeps['passkeys']['findWithUserHandle']>>;

/** The passkey the assertion names, if the challenge it answers allows it. */
function passkeyFor(
  response: AuthenticationResponseJSON,
  pending: PendingChallenge,
  identityId: string | undefined,
  found: Found,
): StoredPasskey {
  if (pending.identityId !== identityId) throw challengeInvalid();
  if (pending.allowCredentialIds && !pending.allowCredentialIds.includes(response.id)) throw notRecognized();
  if (!found) throw notRecognized();
  const { passkey } = found;
  if (identityId && passkey.identityId !== identityId) {
    throw new AppError('passkey_not_yours', 403, 'This passkey belongs to another account.');
  }
  if (passkey.clonedSuspected) throw clonedRefusal();
  // A discoverable credential names its user; it must be the passkey's owner (WebAuthn §7.2 step 6).
  const userHandle = response.response.userHandle;
  if (userHandle && userHandle !== found.userHandle) throw notRecognized();
  return passkey;
}

/**
 * Stores the use of the passkey. A counter that does not move forward (when either side
 * is non-zero) means two copies of the private key exist (WebAuthn §6.1.1): refuse,
 * mark the credential, record it.
 */
async function recordUse(
  deps: CeremonyDeps,
  ctx: CeremonyContext,
  passkey: StoredPasskey,
  use: { counter: number; backedUp: boolean },
) {
  const store = deps.passkeys;
  if (await store.recordUse(passkey.id, { ...use, usedAt: deps.clock() })) return;
  await store.markCloned(passkey.id);
  await auditCeremony(deps, ctx, {
    type: 'passkey.cloned',
    outcome: 'denied',
    identityId: passkey.identityId,
    details: { passkeyId: passkey.id, storedCounter: passkey.counter, presentedCounter: use.counter },
  });
  throw clonedRefusal();
}

/** A promise awaited later, or never when the ceremony is refused first: its failure is not unhandled. */
function started<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * Verifies an assertion for a ceremony (`identityId`: the signed-in identity the passkey
 * must belong to, for a step-up): the challenge is consumed first (single use; the
 * credential is looked up meanwhile), then the signature, RP ID, origin and user
 * presence/verification are checked by @simplewebauthn, then the counter by us, and the
 * passkey's use is recorded. `alongside` (what the caller needs next, such as the owner's
 * identity) starts once the passkey is known and runs while the signature is checked; its
 * answer counts only if the assertion is verified.
 */
export async function verifyAssertion<T = undefined>(
  deps: CeremonyDeps,
  ctx: CeremonyContext,
  response: AuthenticationResponseJSON,
  ceremony: { purpose: CeremonyPurpose; identityId?: string },
  alongside?: (passkey: StoredPasskey) => Promise<T>,
): Promise<VerifiedAssertion & { alongside: T | undefined }> {
  const { rp } = deps;
  const found = started(deps.passkeys.findWithUserHandle(response.id));
  const { challenge, pending } = await consumeChallenge(
    deps,
    ctx,
    response.response.clientDataJSON,
    ceremony.purpose,
  );
  const passkey = passkeyFor(response, pending, ceremony.identityId, await found);
  const next = alongside && started(alongside(passkey));
  const result = await verifying(() =>
    deps.assertions.verify({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      // Counter 0 turns off the library's own counter check: ours marks the credential too.
      credential: { id: passkey.id, publicKey: passkey.publicKey, counter: 0 },
      requireUserVerification: rp.userVerification === 'required',
    }),
  );
  if (!result.verified) throw verificationFailed();
  const info = result.authenticationInfo;
  await recordUse(deps, ctx, passkey, { counter: info.newCounter, backedUp: info.credentialBackedUp });
  return { passkey, userVerified: info.userVerified, alongside: await next };
}
