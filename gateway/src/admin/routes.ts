import type { Request, Router } from 'express';
import { z } from 'zod';
import { principalOf } from '../access/require-auth.js';
import { auditQuerySchema, queryAuditEvents } from '../audit/query-events.js';
import { verifyAuditChain } from '../audit/verify-chain.js';
import type { AuditEventType } from '../audit/event-types.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Database } from '../db/database.js';
import type { KeyService } from '../keys/key-service.js';
import { parseBody } from '../errors/parse-input.js';
import { listIdentities } from '../kratos/admin-users.js';
import { unlockIdentity } from '../lockout/lockout.js';
import { revokeAllSessions } from '../session/sessions.js';
import { requireAdmin, type AdminGuardDeps } from './require-admin.js';
import { deactivateUser, findUser, setRoles, userDetails, userSummary, type AdminDeps } from './users.js';

/** What the admin routes use. */
type AdminRouteDeps = AdminDeps & AdminGuardDeps & { db: Database; keys: KeyService; audit: AuditLog };

export const userId = z.string().regex(/^[0-9a-fA-F-]{8,64}$/, 'must be an identity id');
export const searchQuery = z
  .object({
    identifier: z.string().trim().min(1).max(320).optional(),
    pageSize: z.coerce.number().int().min(1).max(250).default(50),
    pageToken: z.string().min(1).max(512).optional(),
  })
  .strict();
export const rolesBody = z.object({ roles: z.array(z.string().min(1).max(64)).max(20) }).strict();

/** Parses a query string or path parameter with the same 400 `invalid_request` as bodies. */
const parseInput = parseBody;

/**
 * The admin API under /api/admin: users (search, view, roles, unlock, sessions,
 * deactivation), the audit log and the key status. Every route needs its admin
 * permission at aal2 (see `requireAdmin`), and every call is audited with the acting
 * admin as `actorId` before it answers.
 */
export function registerAdminRoutes(router: Router, deps: AdminRouteDeps) {
  const record = (
    req: Request,
    type: AuditEventType,
    identityId?: string,
    details?: Record<string, unknown>,
  ) =>
    deps.audit.record({
      type,
      outcome: 'success',
      identityId,
      actorId: principalOf(req).identityId,
      ip: req.ip,
      requestId: req.requestId,
      details,
    });
  const idOf = (req: Request) => parseInput(z.object({ id: userId }), req.params).id;

  router.get('/users', requireAdmin(deps, 'admin:users:read'), async (req, res) => {
    const query = parseInput(searchQuery, req.query);
    const page = await listIdentities(deps.kratos, query);
    await record(req, 'admin.users_searched', undefined, {
      byIdentifier: query.identifier !== undefined,
      results: page.identities.length,
    });
    res.json({ users: page.identities.map(userSummary), nextPageToken: page.nextPageToken });
  });

  router.get('/users/:id', requireAdmin(deps, 'admin:users:read'), async (req, res) => {
    const id = idOf(req);
    const user = await userDetails(deps, id);
    await record(req, 'admin.user_viewed', id);
    res.json(user);
  });

  router.put('/users/:id/roles', requireAdmin(deps, 'admin:roles:write'), async (req, res) => {
    const id = idOf(req);
    const { roles } = parseBody(rolesBody, req.body);
    const { before, user } = await setRoles(deps, id, roles);
    await record(req, 'admin.roles_changed', id, { before, after: user.roles });
    res.json(user);
  });

  router.post('/users/:id/unlock', requireAdmin(deps, 'admin:users:write'), async (req, res) => {
    const id = idOf(req);
    const unlocked = await unlockIdentity(deps, await findUser(deps, id));
    await record(req, 'account.unlocked', id, { wasLocked: unlocked });
    res.json({ unlocked });
  });

  router.delete('/users/:id/sessions', requireAdmin(deps, 'admin:sessions:revoke'), async (req, res) => {
    const id = idOf(req);
    await findUser(deps, id);
    await revokeAllSessions(deps, id);
    await record(req, 'admin.sessions_revoked', id);
    res.status(204).end();
  });

  router.post('/users/:id/deactivate', requireAdmin(deps, 'admin:users:write'), async (req, res) => {
    const id = idOf(req);
    const user = await deactivateUser(deps, id, principalOf(req).identityId);
    await record(req, 'admin.user_deactivated', id);
    res.json(user);
  });

  router.get('/keys', requireAdmin(deps, 'admin:keys:read'), async (req, res) => {
    const status = await deps.keys.status();
    await record(req, 'admin.keys_viewed');
    res.json(status);
  });

  router.get('/audit', requireAdmin(deps, 'admin:audit:read'), async (req, res) => {
    const query = parseInput(auditQuerySchema, req.query);
    const page = await queryAuditEvents(deps.db, query);
    await record(req, 'admin.audit_queried', undefined, { filters: { ...query, limit: undefined } });
    res.json(page);
  });

  router.get('/audit/verify', requireAdmin(deps, 'admin:audit:read'), async (req, res) => {
    // The keyed log checks with its chain key and checkpoints; an unkeyed one (tests) as before.
    const report = deps.audit.verify ? await deps.audit.verify() : await verifyAuditChain(deps.db);
    await record(req, 'admin.audit_verified', undefined, { ok: report.ok, checked: report.checked });
    res.json(report);
  });
}
