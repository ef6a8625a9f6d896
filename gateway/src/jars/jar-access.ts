import type { Request } from 'express';
import type { Queryable } from '../db/database.js';
import { AppError } from '../http/errors.js';
import type { Principal } from '../session/principal.js';
import { jarStore, type Jar, type JarRole } from './jar-store.js';

/** What a caller wants to do with a jar; each needs at least the listed role. */
export type JarAction = 'read' | 'write' | 'manage';

const RANK: Record<JarRole, number> = { viewer: 1, editor: 2, owner: 3 };
const NEEDED: Record<JarAction, JarRole> = { read: 'viewer', write: 'editor', manage: 'owner' };

const notFound = () => new AppError('not_found', 404, 'Jar not found.');

/**
 * The attribute conditions on a jar's files (a `restricted` jar needs aal2) are the policy
 * module's to decide, from the policy file, like every other permission.
 */
async function checkFilePolicy(req: Request, jar: Jar, permission: string): Promise<void> {
  const decision = req.authorize?.(permission, { ownerId: jar.ownerId, restricted: jar.restricted });
  if (decision?.allowed) return;
  if (decision?.reason === 'aal2_required') {
    const methods = (await req.stepUpMethods?.()) ?? [];
    throw new AppError('aal2_required', 403, 'This jar is restricted: complete a second factor to open it.', {
      details: { methods },
    });
  }
  throw new AppError('forbidden', 403, 'You are not allowed to do this.');
}

/**
 * Loads a jar for a caller and checks the action. A jar the caller has no role on is a
 * 404, so ids of other users' jars cannot be probed; a role too low is a 403. Files of a
 * restricted jar (reading or writing them) need an aal2 session, as the policy says.
 */
export async function authorizeJar(
  db: Queryable,
  req: Request,
  principal: Principal,
  jarId: string,
  action: JarAction,
  options: { touchesFiles?: boolean } = {},
): Promise<{ jar: Jar; role: JarRole }> {
  const jar = await jarStore.findJar(db, jarId);
  if (!jar) throw notFound();
  const role: JarRole | undefined =
    jar.ownerId === principal.identityId
      ? 'owner'
      : await jarStore.findGrant(db, jarId, principal.identityId);
  if (!role) throw notFound();
  if (RANK[role] < RANK[NEEDED[action]])
    throw new AppError('forbidden', 403, 'Your role on this jar does not allow this.');
  if (options.touchesFiles)
    await checkFilePolicy(req, jar, action === 'read' ? 'jars:files:read' : 'jars:files:write');
  return { jar, role };
}
