import type { AppDeps } from '../deps.js';
import { AppError, badRequest, notFound } from '../http/errors.js';
import type { KratosIdentity } from '../kratos/types.js';
import { lockoutStatus } from '../lockout/lockout.js';
import { forgetIdentity, forgetWhoamiOf } from '../session/resolve-principal.js';
import { rolesOf } from '../session/principal.js';
import { revokeAllSessions } from '../session/sessions.js';

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
export async function findUser(deps: AppDeps, id: string): Promise<KratosIdentity> {
  const identity = await deps.kratos.getIdentity(id);
  if (!identity) throw notFound('User');
  return identity;
}

/** One user with what an operator needs to help them: lock, passkeys, live Kratos sessions. */
export async function userDetails(deps: AppDeps, id: string) {
  const identity = await findUser(deps, id);
  const { rows } = await deps.db.query<{ count: string | number }>(
    'SELECT count(*) AS count FROM passkey_credentials WHERE identity_id = $1',
    [id],
  );
  const sessions = await deps.kratos.listIdentitySessions(id);
  return {
    ...userSummary(identity),
    lockout: await lockoutStatus(deps, identity),
    passkeys: Number(rows[0]?.count ?? 0),
    kratosSessions: sessions.length,
  };
}

/**
 * Replaces a user's roles (`metadata_public.roles`, the rest of the public metadata kept).
 * Only roles the policy defines can be given. The cached identity is dropped so the new
 * roles apply to the user's very next request.
 */
export async function setRoles(deps: AppDeps, id: string, roles: string[]) {
  const known = new Set(deps.policy?.roles ?? []);
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
export async function deactivateUser(deps: AppDeps, id: string, actorId: string) {
  if (id === actorId)
    throw new AppError('cannot_deactivate_self', 409, 'An admin cannot deactivate themselves.');
  await findUser(deps, id);
  const updated = await deps.kratos.patchIdentity(id, [{ op: 'replace', path: '/state', value: 'inactive' }]);
  await revokeAllSessions(deps, id);
  await forgetIdentity(deps, id);
  return userSummary(updated);
}
