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
