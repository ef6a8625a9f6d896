import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { KratosClient } from '../kratos/client.js';
import type { Logger } from '../logging/logger.js';
import type { Mailer } from '../mail/mailer.js';
import { saveProfile } from '../profiles/profile-store.js';
import type { RequestContext } from '../session/request-context.js';
import { forgetIdentity, forgetWhoami } from '../session/resolve-principal.js';
import { heldKratosToken, type SessionDeps } from '../session/sessions.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { CeremonyDeps } from '../factors/ceremony.js';

/** What the account use cases work with. */
export type AccountDeps = SessionDeps &
  Pick<CeremonyDeps, 'passkeys'> & {
    config: Pick<Config, 'TOTP_ISSUER'>;
    db: Database;
    kratos: KratosClient;
    audit: AuditLog;
    logger: Logger;
    mailer?: Mailer | undefined;
  };

/**
 * After a change at Kratos: drops the cached identity and whoami, so the next principal
 * shows the change, and copies the identity's profile into the gateway's table.
 */
export async function afterIdentityChange(
  deps: AccountDeps,
  ctx: RequestContext,
  identityId: string,
): Promise<void> {
  await forgetIdentity(deps, identityId);
  const token = heldKratosToken(deps, ctx.session);
  if (token) await forgetWhoami(deps, token);
  const identity = await deps.kratos.getIdentity(identityId);
  if (identity) {
    await saveProfile(deps.db, {
      identityId,
      email: identity.email,
      emailVerified: identity.emailVerified,
      traits: identity.traits,
    });
  }
}
