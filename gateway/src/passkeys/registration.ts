import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { AppError, notFound } from '../errors/app-error.js';
import {
  auditCeremony,
  challengeInvalid,
  consumeChallenge,
  newChallenge,
  preSessionId,
  verificationFailed,
  verifying,
} from '../factors/ceremony.js';
import type { StoredPasskey } from '../factors/passkey-store.js';
import { notifyOwner } from '../notices/account-notices.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import { raiseGatewaySession, recordEnrolment } from '../session/sessions.js';
import { authenticatorName } from './aaguid-names.js';
import type { PasskeyDeps } from './deps.js';

/**
 * Starts registering a passkey for the signed-in identity: a resident key is preferred
 * (so it works without an identifier later), the identity's passkeys are excluded, and
 * the user handle is an opaque random id, never the identity id or the e-mail address.
 */
export async function registrationOptions(
  deps: PasskeyDeps,
  ctx: RequestContext,
  principal: Principal,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { rp, passkeys: store, challenges } = deps;
  const userHandle = await store.userHandleFor(principal.identityId, () =>
    deps.random(32).toString('base64url'),
  );
  const existing = await store.list(principal.identityId);
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: principal.email || principal.identityId,
    userDisplayName: principal.email,
    userID: new Uint8Array(Buffer.from(userHandle, 'base64url')),
    challenge: newChallenge(deps),
    timeout: rp.timeoutMs,
    attestationType: rp.attestation,
    excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: rp.userVerification },
    supportedAlgorithmIDs: rp.algorithms,
  });
  await challenges.issue(await preSessionId(deps, ctx), options.challenge, {
    purpose: 'registration',
    identityId: principal.identityId,
  });
  return options;
}

async function verifyAttestation(deps: PasskeyDeps, ctx: RequestContext, response: RegistrationResponseJSON) {
  const { rp } = deps;
  const { challenge, pending } = await consumeChallenge(
    deps,
    ctx,
    response.response.clientDataJSON,
    'registration',
  );
  const result = await verifying(() =>
    verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      requireUserVerification: rp.userVerification === 'required',
      supportedAlgorithmIDs: rp.algorithms,
    }),
  );
  if (!result.verified) throw verificationFailed();
  return { pending, info: result.registrationInfo };
}

/**
 * Finishes a registration: verifies the attestation against the challenge issued to this
 * browser for this identity and stores the credential. A passwordless sign-up's session
 * becomes a normal one with this first passkey as its authentication.
 */
export async function registerPasskey(
  deps: PasskeyDeps,
  ctx: RequestContext,
  principal: Principal,
  input: { credential: RegistrationResponseJSON; nickname?: string | undefined },
): Promise<StoredPasskey> {
  const store = deps.passkeys;
  const { pending, info } = await verifyAttestation(deps, ctx, input.credential);
  if (pending.identityId !== principal.identityId) throw challengeInvalid();
  const added = await store.add({
    id: info.credential.id,
    identityId: principal.identityId,
    publicKey: info.credential.publicKey,
    counter: info.credential.counter,
    transports: input.credential.response.transports ?? [],
    aaguid: info.aaguid,
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    nickname: input.nickname ?? authenticatorName(info.aaguid) ?? 'Passkey',
    registeredUnverified: !principal.emailVerified,
  });
  if (!added) throw new AppError('passkey_exists', 409, 'This passkey is registered already.');
  await auditCeremony(deps, ctx, {
    type: 'passkey.added',
    outcome: 'success',
    identityId: principal.identityId,
    details: { passkeyId: info.credential.id, aaguid: info.aaguid, userVerified: info.userVerified },
  });
  if (ctx.session.auth?.passkeyEnrollmentRequired) {
    await finishEnrollment(deps, ctx, info.credential.id, info.userVerified);
  } else {
    // A factor never raises the session that enrolled it; the owner hears of it.
    await recordEnrolment(ctx.session, `passkey:${info.credential.id}`);
    await notifyOwner(deps, principal.email, { kind: 'factor_added', factor: 'passkey' });
  }
  const stored = await store.find(info.credential.id);
  if (!stored) throw notFound('Passkey');
  return stored;
}

/**
 * The sign-up's first passkey completes it: a passwordless sign-up has no sign-in before
 * its first passkey, so that passkey is its sign-in (its first factor, not one added to a
 * session that had signed in some other way).
 */
async function finishEnrollment(
  deps: PasskeyDeps,
  ctx: RequestContext,
  passkeyId: string,
  userVerified: boolean,
) {
  if (ctx.session.auth) delete ctx.session.auth.passkeyEnrollmentRequired;
  await raiseGatewaySession(
    deps,
    ctx.session,
    { method: 'passkey', completedAt: deps.clock().toISOString(), userVerified },
    passkeyId,
  );
}
