import type { Queryable } from '../db/database.js';
import type { Caller, Guard } from '../access/require-auth.js';
import { AppError } from '../errors/app-error.js';
import type { Principal } from '../session/principal.js';
import { jarStore, type Jar, type JarRole } from './jar-store.js';

/** The policy file's permissions for one jar, and the least role on the jar each needs. */
const NEEDED = {
  'jars:read': 'viewer',
  'jars:files:read': 'viewer',
  'jars:files:write': 'editor',
  'jars:update': 'owner',
  'jars:delete': 'owner',
  'jars:share': 'owner',
} as const satisfies Record<string, JarRole>;

type JarPermission = keyof typeof NEEDED;

const RANK: Record<JarRole, number> = { viewer: 1, editor: 2, owner: 3 };

const notFound = () => new AppError('not_found', 404, 'Jar not found.');

/** Who asks, and the guard that answers for the policy file. */
interface JarCaller {
  guard: Pick<Guard, 'authorize' | 'stepUpMethods'>;
  caller: Caller;
}

/**
 * Asks the policy file about `permission` on a jar or on jars in general (no jar): every
 * condition it lists (owner, verified e-mail, aal2, restricted) is checked there, and a
 * refusal becomes the matching 403.
 */
export async function checkJarPolicy(
  { guard, caller }: JarCaller,
  permission: string,
  jar?: Jar,
): Promise<void> {
  const resource = jar ? { ownerId: jar.ownerId, restricted: jar.restricted } : undefined;
  const decision = guard.authorize(caller, permission, resource);
  if (decision.allowed) return;
  if (decision.reason === 'aal2_required') {
    const methods = await guard.stepUpMethods(caller);
    const message = jar?.restricted
      ? 'This jar is restricted: complete a second factor to open it.'
      : 'This needs a stronger sign-in: complete a second factor.';
    throw new AppError('aal2_required', 403, message, { details: { methods } });
  }
  if (decision.reason === 'email_not_verified')
    throw new AppError('email_verification_required', 403, 'Verify your e-mail address to do this.');
  throw new AppError('forbidden', 403, 'You are not allowed to do this.');
}

/**
 * Loads a jar for a caller and checks `permission` on it. A jar the caller has no role on
 * is a 404, so ids of other users' jars cannot be probed; a role too low is a 403. Then the
 * policy file decides, conditions included (a restricted jar's files need aal2, sharing
 * needs a verified address, as the shipped policy says).
 */
export async function authorizeJar(
  db: Queryable,
  asking: JarCaller,
  principal: Principal,
  jarId: string,
  permission: JarPermission,
): Promise<{ jar: Jar; role: JarRole }> {
  const jar = await jarStore.findJar(db, jarId);
  if (!jar) throw notFound();
  const role: JarRole | undefined =
    jar.ownerId === principal.identityId
      ? 'owner'
      : await jarStore.findGrant(db, jarId, principal.identityId);
  if (!role) throw notFound();
  if (RANK[role] < RANK[NEEDED[permission]])
    throw new AppError('forbidden', 403, 'Your role on this jar does not allow this.');
  await checkJarPolicy(asking, permission, jar);
  return { jar, role };
}
