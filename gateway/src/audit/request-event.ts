import type { AuditLog, AuditOutcome } from './audit-log.js';
import type { AuditEventType } from './event-types.js';

/** The request an event is recorded for: where it came from and who is calling, if anyone. */
export interface EventContext {
  ip: string | undefined;
  requestId: string;
  principal?: { identityId: string } | undefined;
}

/**
 * Records an event of a request (before its answer is sent): the caller is the actor,
 * else the identity the event is about.
 */
export function recordRequestEvent(
  deps: { audit: AuditLog },
  ctx: EventContext,
  type: AuditEventType,
  outcome: AuditOutcome,
  identityId?: string,
  details?: Record<string, unknown>,
): Promise<void> {
  return deps.audit.record({
    type,
    outcome,
    identityId,
    actorId: ctx.principal?.identityId ?? identityId,
    ip: ctx.ip,
    requestId: ctx.requestId,
    details,
  });
}
