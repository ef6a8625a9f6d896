import type { Request } from 'express';
import type { AppDeps } from '../deps.js';
import { AppError, notFound } from '../http/errors.js';
import type { Principal } from '../session/principal.js';
import { authenticatorName } from './aaguid-names.js';
import { auditCeremony, passkeysOf } from './context.js';
import type { StoredPasskey } from './credential-store.js';

/** One entry of GET /passkeys. */
export interface PasskeyView {
  id: string;
  nickname: string;
  /** The authenticator's name from its AAGUID, when it is a well-known one. */
  authenticator: string | null;
  aaguid: string;
  transports: string[];
  /** `multiDevice`: a synced passkey; `singleDevice`: bound to one authenticator. */
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  clonedSuspected: boolean;
  createdAt: string;
  lastUsedAt: string | null;
}

function view(p: StoredPasskey): PasskeyView {
  return {
    id: p.id,
    nickname: p.nickname,
    authenticator: authenticatorName(p.aaguid) ?? null,
    aaguid: p.aaguid,
    transports: p.transports,
    deviceType: p.deviceType,
    backedUp: p.backedUp,
    clonedSuspected: p.clonedSuspected,
    createdAt: p.createdAt,
    lastUsedAt: p.lastUsedAt,
  };
}

/** The identity's passkeys, oldest first. */
export async function listPasskeys(deps: AppDeps, identityId: string): Promise<PasskeyView[]> {
  return (await passkeysOf(deps).store.list(identityId)).map(view);
}

/** Renames one of the principal's passkeys. */
export async function renamePasskey(
  deps: AppDeps,
  req: Request,
  principal: Principal,
  id: string,
  nickname: string,
): Promise<PasskeyView> {
  const { store } = passkeysOf(deps);
  if (!(await store.rename(principal.identityId, id, nickname))) throw notFound('Passkey');
  await auditCeremony(deps, req, {
    type: 'passkey.renamed',
    outcome: 'success',
    identityId: principal.identityId,
    details: { passkeyId: id },
  });
  return view((await store.find(id))!);
}

/**
 * Removes one of the principal's passkeys, but never the last way in: an identity without
 * a password keeps at least one passkey.
 */
export async function removePasskey(deps: AppDeps, req: Request, principal: Principal, id: string) {
  const identity = await deps.kratos.getIdentity(principal.identityId);
  const hasPassword = identity?.credentialTypes.includes('password') ?? false;
  const outcome = await passkeysOf(deps).store.remove(principal.identityId, id, { keepOne: !hasPassword });
  if (outcome === 'not_found') throw notFound('Passkey');
  if (outcome === 'last_one') {
    await auditCeremony(deps, req, {
      type: 'passkey.removed',
      outcome: 'denied',
      identityId: principal.identityId,
      details: { passkeyId: id, reason: 'last_credential' },
    });
    throw new AppError(
      'last_credential',
      409,
      'This is your only way to sign in: add another passkey or a password before removing it.',
    );
  }
  await auditCeremony(deps, req, {
    type: 'passkey.removed',
    outcome: 'success',
    identityId: principal.identityId,
    details: { passkeyId: id },
  });
}

/** A passkey removed because someone proved the account's address. */
export interface RemovedPasskey {
  id: string;
  nickname: string;
  createdAt: string;
}

/**
 * Someone just proved they hold the account's address (recovery or verification): the
 * passkeys registered while it was unverified go (a pre-account takeover plants them),
 * except those the proving session itself signed in with or registered (a genuine user
 * verifying late). Each removal is audited; the list is answered so the holder sees it.
 */
export async function removePasskeysPlantedBeforeProof(
  deps: AppDeps,
  req: Request,
  identityId: string,
  via: 'recovery' | 'verification',
): Promise<RemovedPasskey[]> {
  const auth = req.session?.auth;
  const keep =
    auth?.identityId === identityId
      ? [
          ...(auth.passkeysUsed ?? []),
          ...(auth.enrolledHere ?? []).filter((f) => f.startsWith('passkey:')).map((f) => f.slice(8)),
        ]
      : [];
  const removed = await passkeysOf(deps).store.removeUnverifiedEra(identityId, keep);
  for (const p of removed) {
    await deps.audit.record({
      type: 'passkey.removed',
      outcome: 'success',
      identityId,
      actorId: identityId,
      ip: req.ip,
      requestId: req.requestId,
      details: { passkeyId: p.id, nickname: p.nickname, reason: 'registered_before_address_proven', via },
    });
  }
  return removed.map((p) => ({ id: p.id, nickname: p.nickname, createdAt: p.createdAt }));
}
