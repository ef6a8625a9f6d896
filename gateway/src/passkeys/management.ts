import { AppError, notFound } from '../errors/app-error.js';
import { auditCeremony, type CeremonyDeps } from '../factors/ceremony.js';
import type { StoredPasskey } from '../factors/passkey-store.js';
import type { KratosClient } from '../kratos/client.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import { authenticatorName } from './aaguid-names.js';

/** What managing passkeys uses: the store, the audit log, Kratos (does the account have a password?). */
type ManagementDeps = Pick<CeremonyDeps, 'passkeys' | 'audit'> & {
  kratos: Pick<KratosClient, 'getIdentity'>;
};

/** One entry of GET /passkeys. */
interface PasskeyView {
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
export async function listPasskeys(
  deps: Pick<ManagementDeps, 'passkeys'>,
  identityId: string,
): Promise<PasskeyView[]> {
  return (await deps.passkeys.list(identityId)).map(view);
}

/** Renames one of the principal's passkeys. */
export async function renamePasskey(
  deps: ManagementDeps,
  ctx: RequestContext,
  principal: Principal,
  id: string,
  nickname: string,
): Promise<PasskeyView> {
  const store = deps.passkeys;
  if (!(await store.rename(principal.identityId, id, nickname))) throw notFound('Passkey');
  await auditCeremony(deps, ctx, {
    type: 'passkey.renamed',
    outcome: 'success',
    identityId: principal.identityId,
    details: { passkeyId: id },
  });
  const renamed = await store.find(id);
  if (!renamed) throw notFound('Passkey');
  return view(renamed);
}

/**
 * Removes one of the principal's passkeys, but never the last way in: an identity without
 * a password keeps at least one passkey.
 */
export async function removePasskey(
  deps: ManagementDeps,
  ctx: RequestContext,
  principal: Principal,
  id: string,
) {
  const identity = await deps.kratos.getIdentity(principal.identityId);
  const hasPassword = identity?.credentialTypes.includes('password') ?? false;
  const outcome = await deps.passkeys.remove(principal.identityId, id, { keepOne: !hasPassword });
  if (outcome === 'not_found') throw notFound('Passkey');
  if (outcome === 'last_one') {
    await auditCeremony(deps, ctx, {
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
  await auditCeremony(deps, ctx, {
    type: 'passkey.removed',
    outcome: 'success',
    identityId: principal.identityId,
    details: { passkeyId: id },
  });
}
