import type { AuditLog } from '../audit/audit-log.js';
import type { EventContext } from '../audit/request-event.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logging/logger.js';
import { saveProfile } from '../profiles/profile-store.js';
import type { Kv } from '../redis/client.js';
import { forgetIdentity } from '../session/resolve-principal.js';
import { rolesOf } from '../session/principal.js';
import { claimDelivery } from './deliveries.js';
import { deliveryKey, profileOf, type HookName, type HookPayload } from './payload.js';

/** What a web hook delivery uses. */
export interface HookDeps {
  config: Pick<Config, 'DEFAULT_ROLE' | 'KRATOS_WEBHOOK_API_KEY'>;
  db: Database;
  kv: Kv;
  audit: AuditLog;
  logger: Logger;
}

/** Hooks whose identity is copied into the profile table (after-login only tells that someone signed in). */
const SYNCS_PROFILE = new Set<HookName>([
  'after-registration',
  'after-settings',
  'after-verification',
  'after-recovery',
]);

/**
 * Applies one delivery exactly once: the delivery is claimed and the profile synced in one
 * transaction, then recorded in the audit log. A repeated delivery changes nothing.
 * Returns whether the delivery was new.
 */
export async function handleDelivery(
  deps: HookDeps,
  ctx: EventContext,
  hook: HookName,
  payload: HookPayload,
): Promise<boolean> {
  const identityId = payload.identity.id;
  const fresh = await deps.db.transaction(async (tx) => {
    if (!(await claimDelivery(tx, { key: deliveryKey(payload), hook, identityId }))) return false;
    if (SYNCS_PROFILE.has(hook)) await saveProfile(tx, profileOf(payload));
    return true;
  });
  if (!fresh) {
    deps.logger.info('repeated web hook delivery ignored', { requestId: ctx.requestId, hook });
    return false;
  }
  if (hook !== 'after-registration') await forgetIdentity(deps, identityId);
  await deps.audit.record({
    type: 'webhook.received',
    outcome: 'success',
    identityId,
    ip: ctx.ip,
    requestId: ctx.requestId,
    details: {
      hook,
      flowId: payload.flow_id,
      flowType: payload.flow_type,
      ...(payload.session ? { sessionAal: payload.session.aal } : {}),
    },
  });
  return true;
}

/**
 * What the registration-defaults hook answers: Kratos parses it (`response.parse: true`) and
 * stores the new identity's public metadata with the default role added.
 */
export function registrationAnswer(deps: Pick<HookDeps, 'config'>, payload: HookPayload) {
  const metadata = payload.identity.metadata_public ?? {};
  const roles = [...new Set([...rolesOf(metadata), deps.config.DEFAULT_ROLE])];
  return { identity: { metadata_public: { ...metadata, roles } } };
}
