import type { AuditLog } from '../audit/audit-log.js';
import { AppError } from '../errors/app-error.js';
import { normalizeIdentifier } from '../identity/identifier.js';
import { KratosHttpError, type KratosClient } from '../kratos/client.js';
import {
  assertNotLocked,
  clearPasswordFailures,
  recordPasswordFailure,
  type LockoutDeps,
} from '../lockout/lockout.js';
import type { RequestContext } from '../session/request-context.js';
import { establishGatewaySession, type SessionDeps } from '../session/sessions.js';

/** What password sign-in uses. */
export type LoginDeps = SessionDeps & LockoutDeps & { kratos: KratosClient; audit: AuditLog };

const INVALID_CREDENTIALS = 4000006;

/**
 * Password login: the gateway runs a Kratos API login flow itself, so the Kratos session
 * token never reaches the browser; it stays sealed inside the gateway session.
 */
export async function loginWithPassword(
  deps: LoginDeps,
  ctx: RequestContext,
  input: { identifier: string; password: string },
): Promise<void> {
  const result = await checkPasswordAtKratos(deps, ctx, input);
  await establishGatewaySession(deps, ctx, {
    identityId: result.session.identity.id,
    kind: 'password',
    kratosToken: result.sessionToken,
    kratosSessionId: result.session.id,
    methods: [],
  });
  await deps.audit.record({
    type: 'login.password',
    outcome: 'success',
    identityId: result.session.identity.id,
    ip: ctx.ip,
    requestId: ctx.requestId,
    details: { method: 'password' },
  });
}

/**
 * The password half of a sign-in: a locked identifier is refused, a wrong password is audited
 * and counts towards the lock, a right one clears the count. Completes `flowId` (a social
 * sign-in's flow, which Kratos links the provider in) or a new flow; answers Kratos' session.
 */
export async function checkPasswordAtKratos(
  deps: LoginDeps,
  ctx: RequestContext,
  input: { identifier: string; password: string },
  flowId?: string,
) {
  const identifier = normalizeIdentifier(input.identifier);
  await assertNotLocked(deps, ctx, identifier);
  let result;
  try {
    result = await deps.kratos.loginWithPassword(identifier, input.password, flowId);
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 400) {
      const invalid = err.messageIds().includes(INVALID_CREDENTIALS);
      await deps.audit.record({
        type: 'login.password',
        outcome: 'failure',
        ip: ctx.ip,
        requestId: ctx.requestId,
        details: { method: 'password', reason: invalid ? 'invalid_credentials' : 'rejected' },
      });
      if (invalid) {
        await recordPasswordFailure(deps, ctx, identifier);
        throw new AppError('invalid_credentials', 401, 'The e-mail address or password is wrong.');
      }
      throw new AppError(
        'login_rejected',
        400,
        err.firstMessage() ?? 'The identity service refused this login.',
      );
    }
    throw err;
  }
  await clearPasswordFailures(deps, identifier);
  return result;
}
