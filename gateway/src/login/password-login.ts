import type { Request } from 'express';
import type { AppDeps } from '../deps.js';
import { AppError } from '../http/errors.js';
import { KratosHttpError } from '../kratos/client.js';
import { assertNotLocked, clearPasswordFailures, recordPasswordFailure } from '../lockout/lockout.js';
import { establishGatewaySession } from '../session/sessions.js';

const INVALID_CREDENTIALS = 4000006;

/** The identifier as Kratos stores it: e-mail addresses compare case-insensitively. */
export const normalizeIdentifier = (identifier: string) => identifier.trim().toLowerCase();

/**
 * Password login: the gateway runs a Kratos API login flow itself, so the Kratos session
 * token never reaches the browser; it stays sealed inside the gateway session.
 */
export async function loginWithPassword(
  deps: AppDeps,
  req: Request,
  input: { identifier: string; password: string },
): Promise<void> {
  const identifier = normalizeIdentifier(input.identifier);
  const event = { ip: req.ip, requestId: req.requestId, details: { method: 'password' } };
  await assertNotLocked(deps, req, identifier);
  let result;
  try {
    result = await deps.kratos.loginWithPassword(identifier, input.password);
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 400) {
      const invalid = err.messageIds().includes(INVALID_CREDENTIALS);
      await deps.audit.record({
        type: 'login.password',
        outcome: 'failure',
        ...event,
        details: { method: 'password', reason: invalid ? 'invalid_credentials' : 'rejected' },
      });
      if (invalid) {
        await recordPasswordFailure(deps, req, identifier);
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
  await establishGatewaySession(deps, req, {
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
    ...event,
  });
}
