import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Request } from 'express';
import type { AppDeps } from '../deps.js';
import { AppError } from '../http/errors.js';
import type { Principal } from '../session/principal.js';
import { notifyOwner } from '../account/notices.js';
import { raiseGatewaySession, recordEnrolment } from '../session/sessions.js';
import { authenticatorName } from './aaguid-names.js';
import {
  auditCeremony,
  challengeInvalid,
  consumeChallenge,
  newChallenge,
  passkeysOf,
  preSessionId,
  verificationFailed,
  verifying,
} from './context.js';
import type { StoredPasskey } from './credential-store.js';

/**
 * Starts registering a passkey for the signed-in identity: a resident key is preferred
 * (so it works without an identifier later), the identity's passkeys are excluded, and
 * the user handle is an opaque random id, never the identity id or the e-mail address.
 */
export async function registrationOptions(
  deps: AppDeps,
  req: Request,
  principal: Principal,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { rp, store, challenges } = passkeysOf(deps);
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
  await challenges.issue(await preSessionId(deps, req), options.challenge, {
    purpose: 'registration',
    identityId: principal.identityId,
  });
  return options;
}

async function verifyAttestation(deps: AppDeps, req: Request, response: RegistrationResponseJSON) {
  const { rp } = passkeysOf(deps);
  const { challenge, pending } = await consumeChallenge(
    deps,
    req,
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
  deps: AppDeps,
  req: Request,
  principal: Principal,
  input: { credential: RegistrationResponseJSON; nickname?: string | undefined },
): Promise<StoredPasskey> {
  const { store } = passkeysOf(deps);
  const { pending, info } = await verifyAttestation(deps, req, input.credential);
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
  await auditCeremony(deps, req, {
    type: 'passkey.added',
    outcome: 'success',
    identityId: principal.identityId,
    details: { passkeyId: info.credential.id, aaguid: info.aaguid, userVerified: info.userVerified },
  });
  if (req.session.auth?.passkeyEnrollmentRequired) {
    await finishEnrollment(deps, req, info.credential.id, info.userVerified);
  } else {
    // A factor never raises the session that enrolled it; the owner hears of it.
    await recordEnrolment(req, `passkey:${info.credential.id}`);
    await notifyOwner(deps, principal.email, { kind: 'factor_added', factor: 'passkey' });
  }
  return (await store.find(info.credential.id))!;
}

/**
 * The sign-up's first passkey completes it: a passwordless sign-up has no sign-in before
 * its first passkey, so that passkey is its sign-in (its first factor, not one added to a
 * session that had signed in some other way).
 */
async function finishEnrollment(deps: AppDeps, req: Request, passkeyId: string, userVerified: boolean) {
  delete req.session.auth!.passkeyEnrollmentRequired;
  await raiseGatewaySession(
    deps,
    req,
    { method: 'passkey', completedAt: deps.clock().toISOString(), userVerified },
    passkeyId,
  );
}
