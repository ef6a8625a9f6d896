import { recordRequestEvent } from '../audit/request-event.js';
import { AppError } from '../errors/app-error.js';
import {
  assertEmailFactorOffered,
  consumeEmailCode,
  invalidEmailCode,
  sameAddress,
  sendEmailCode,
  type EmailCodeDeps,
  type EmailFactorStore,
} from '../factors/email-factor.js';
import { accountFactors } from '../factors/second-factors.js';
import { notifyOwner } from '../notices/account-notices.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import { recordEnrolment } from '../session/sessions.js';
import type { AccountDeps } from './account-context.js';

/** What turning e-mailed codes on and off uses. */
export type EmailFactorDeps = AccountDeps & EmailCodeDeps & { emailFactors: EmailFactorStore };

/** Where the account stands with e-mailed codes as a second factor. */
interface EmailFactorStatus {
  /** On, for the account's current, verified address. */
  enabled: boolean;
  /** The account's address, where codes go. */
  address: string;
  /** Only a verified address may be used. */
  addressVerified: boolean;
}

/** The gateway session the codes are bound to; a raw Kratos session has none. */
function sessionHandle(ctx: RequestContext): string {
  const handle = ctx.session.auth?.handle;
  if (!handle)
    throw new AppError(
      'gateway_session_required',
      409,
      'E-mailed codes need a gateway session: sign in through the gateway.',
    );
  return handle;
}

function assertVerified(principal: Principal) {
  if (!principal.emailVerified)
    throw new AppError(
      'email_not_verified',
      409,
      'Verify your e-mail address first: codes go only to a proven address.',
    );
}

/** GET /mfa/email: whether the factor is on for the caller. */
export async function emailFactorStatus(
  deps: EmailFactorDeps,
  principal: Principal,
): Promise<EmailFactorStatus> {
  assertEmailFactorOffered(deps);
  const factors = await accountFactors(deps, principal.identityId);
  return {
    enabled: factors.emailAddress !== undefined,
    address: principal.email,
    addressVerified: principal.emailVerified,
  };
}

/**
 * POST /mfa/email: proves the account's verified address before e-mailed codes count as its
 * second factor, by mailing it a code this session must confirm.
 */
export async function startEmailFactor(
  deps: EmailFactorDeps,
  ctx: RequestContext,
  principal: Principal,
): Promise<void> {
  assertEmailFactorOffered(deps);
  const handle = sessionHandle(ctx);
  assertVerified(principal);
  if ((await accountFactors(deps, principal.identityId)).emailAddress)
    throw new AppError('email_factor_already_enabled', 409, 'E-mailed codes are already on.');
  await sendEmailCode(deps, 'enrol', handle, { identityId: principal.identityId, address: principal.email });
  await recordRequestEvent(deps, ctx, 'mfa.email_code_sent', 'success', principal.identityId, {
    purpose: 'enrol',
  });
}

/**
 * POST /mfa/email/confirm: the code from the mail turns the factor on for the address it
 * went to, if that is still the account's verified address. It counts from the next sign-in,
 * never for this session; the owner is mailed.
 */
export async function confirmEmailFactor(
  deps: EmailFactorDeps,
  ctx: RequestContext,
  principal: Principal,
  code: string,
): Promise<void> {
  assertEmailFactorOffered(deps);
  const handle = sessionHandle(ctx);
  const proven = await consumeEmailCode(deps, 'enrol', handle, principal.identityId, code);
  if (!proven) {
    await recordRequestEvent(deps, ctx, 'mfa.email_enabled', 'failure', principal.identityId, {
      reason: 'invalid_code',
    });
    throw invalidEmailCode();
  }
  assertVerified(principal);
  if (!sameAddress(proven.address, principal.email))
    throw new AppError('email_changed', 409, 'Your address changed since the code was sent: start again.');
  await deps.emailFactors.enable(principal.identityId, proven.address, deps.clock());
  await recordEnrolment(ctx.session, 'email');
  await recordRequestEvent(deps, ctx, 'mfa.email_enabled', 'success', principal.identityId);
  await notifyOwner(deps, proven.address, { kind: 'factor_added', factor: 'email' });
}

/** DELETE /mfa/email: e-mailed codes no longer count; the owner is mailed. */
export async function removeEmailFactor(
  deps: EmailFactorDeps,
  ctx: RequestContext,
  principal: Principal,
): Promise<void> {
  assertEmailFactorOffered(deps);
  if (!(await deps.emailFactors.disable(principal.identityId)))
    throw new AppError('email_factor_not_enabled', 400, 'E-mailed codes are not on.');
  await recordRequestEvent(deps, ctx, 'mfa.email_removed', 'success', principal.identityId);
  await notifyOwner(deps, principal.email, { kind: 'factor_removed', factor: 'email' });
}
