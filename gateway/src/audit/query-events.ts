import { z } from 'zod';
import type { Queryable } from '../db/database.js';
import type { StoredAuditEvent } from './audit-log.js';
import { AUDIT_COLUMNS, fromRow, type AuditRow } from './audit-rows.js';

/** Filters of GET /api/admin/audit; `type` may end in `.*` for a whole area (`login.*`). */
export const auditQuerySchema = z
  .object({
    type: z
      .string()
      .regex(/^[a-z_]+(\.[a-z_]+)*(\.\*)?$/, 'must be an event type such as login.password or login.*')
      .optional(),
    identity: z.string().min(1).max(128).optional(),
    actor: z.string().min(1).max(128).optional(),
    outcome: z.enum(['success', 'failure', 'denied']).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    /** The `nextCursor` of the previous page: events older than it. */
    cursor: z.coerce.number().int().positive().optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

type AuditQuery = z.infer<typeof auditQuerySchema>;

interface AuditPage {
  events: StoredAuditEvent[];
  /** Pass as `cursor` for the next (older) page; absent on the last page. */
  nextCursor?: number;
}

function whereClause(q: AuditQuery): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    clauses.push(sql.replace('?', `$${params.length}`));
  };
  if (q.type?.endsWith('.*')) add('type LIKE ?', `${q.type.slice(0, -1).replace(/_/g, '\\_')}%`);
  else if (q.type) add('type = ?', q.type);
  if (q.identity) add('identity_id = ?', q.identity);
  if (q.actor) add('actor_id = ?', q.actor);
  if (q.outcome) add('outcome = ?', q.outcome);
  if (q.from) add('occurred_at >= ?::timestamptz', q.from);
  if (q.to) add('occurred_at < ?::timestamptz', q.to);
  if (q.cursor) add('seq < ?', q.cursor);
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** Newest events first, filtered, one page at a time (a keyset cursor on `seq`, stable while new events arrive). */
export async function queryAuditEvents(db: Queryable, query: AuditQuery): Promise<AuditPage> {
  const { sql, params } = whereClause(query);
  const { rows } = await db.query<AuditRow>(
    `SELECT ${AUDIT_COLUMNS} FROM audit_events ${sql} ORDER BY seq DESC LIMIT ${query.limit + 1}`,
    params,
  );
  const events = rows.slice(0, query.limit).map(fromRow);
  const more = rows.length > query.limit;
  const last = events.at(-1);
  return { events, ...(more && last ? { nextCursor: last.seq } : {}) };
}
