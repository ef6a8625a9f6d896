import type { Policy } from '../access/policy.js';
import type { PasskeyStore } from '../factors/passkey-store.js';
import { AppError, badRequest, notFound } from '../errors/app-error.js';
import type { KratosIdentity } from '../kratos/types.js';
import { lockoutStatus, type LockoutDeps } from '../lockout/lockout.js';
import { forgetIdentity, forgetWhoamiOf } from '../session/resolve-principal.js';
import { rolesOf } from '../session/principal.js';
import { revokeAllSessions, type SessionDeps } from '../session/sessions.js';

/** What the admin use cases work with. */
export type AdminDeps = SessionDeps &
  LockoutDeps & { passkeys: Pick<PasskeyStore, 'count'>; policy: Pick<Policy, 'roles'> };

/** What the admin API shows of an identity (never credentials or their secrets). */
export function userSummary(identity: KratosIdentity) {
  return {
    id: identity.id,
    email: identity.email,
    emailVerified: identity.emailVerified,
    state: identity.state,
    roles: rolesOf(identity.metadataPublic),
    credentialTypes: identity.credentialTypes,
    createdAt: identity.createdAt,
  };
}

/** The identity, or 404. */
export async function findUser(deps: AdminDeps, id: string): Promise<KratosIdentity> {
  const identity = await deps.kratos.getIdentity(id);
  if (!identity) throw notFound('User');
  return identity;
}

/** One user with what an operator needs to help them: lock, passkeys, live Kratos sessions. */
export async function userDetails(deps: AdminDeps, id: string) {
  const identity = await findUser(deps, id);
  const [passkeys, sessions] = await Promise.all([
    deps.passkeys.count(id),
    deps.kratos.listIdentitySessions(id),
  ]);
  return {
    ...userSummary(identity),
    lockout: await lockoutStatus(deps, identity),
    passkeys,
    kratosSessions: sessions.length,
  };
}

/**
 * Replaces a user's roles (`metadata_public.roles`, the rest of the public metadata kept).
 * Only roles the policy defines can be given. The cached identity is dropped so the new
 * roles apply to the user's very next request.
 */
export async function setRoles(deps: AdminDeps, id: string, roles: string[]) {
  const known = new Set(deps.policy.roles);
  const unknown = roles.filter((r) => !known.has(r));
  if (unknown.length > 0)
    throw badRequest('unknown_role', `Unknown role: ${unknown.join(', ')}.`, { roles: [...known] });
  const identity = await findUser(deps, id);
  const before = rolesOf(identity.metadataPublic);
  const updated = await deps.kratos.patchIdentity(id, [
    {
      op: 'add',
      path: '/metadata_public',
      value: { ...identity.metadataPublic, roles: [...new Set(roles)] },
    },
  ]);
  // Every cached view (the admin view and each session's whoami) goes, on every replica.
  await forgetWhoamiOf(deps, id);
  return { before, user: userSummary(updated) };
}

/** Deactivates an identity at Kratos and ends every session it has, at Kratos and here. */
export async function deactivateUser(deps: AdminDeps, id: string, actorId: string) {
  if (id === actorId)
    throw new AppError('cannot_deactivate_self', 409, 'An admin cannot deactivate themselves.');
  await findUser(deps, id);
  const updated = await deps.kratos.patchIdentity(id, [{ op: 'replace', path: '/state', value: 'inactive' }]);
  await revokeAllSessions(deps, id);
  await forgetIdentity(deps, id);
  return userSummary(updated);
}
