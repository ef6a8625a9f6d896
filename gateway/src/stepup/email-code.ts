import type { AuditLog } from '../audit/audit-log.js';
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
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import type { GatewayAuth } from '../session/session-data.js';
import { raiseGatewaySession, signedInByInbox, type SessionDeps } from '../session/sessions.js';
import { factorTooNew } from './methods.js';

/** What a step-up with an e-mailed code uses. */
export type EmailStepUpDeps = SessionDeps &
  EmailCodeDeps & { emailFactors: EmailFactorStore; audit: AuditLog };

/**
 * The gateway session an e-mailed code may raise: not a raw Kratos session (nothing here to
 * raise), not one that signed in by an e-mailed code (the same inbox twice), not one that
 * turned e-mailed codes on itself (a factor counts from the next sign-in).
 */
function raisableSession(ctx: RequestContext, principal: Principal): GatewayAuth {
  const auth = ctx.session.auth;
  if (principal.source !== 'gateway' || !auth)
    throw new AppError(
      'step_up_unavailable',
      400,
      'E-mailed code step-up needs a gateway session: sign in through the gateway.',
    );
  if (signedInByInbox(auth.kind))
    throw new AppError(
      'email_factor_unusable',
      409,
      'This session signed in with a code sent to the same address: confirm it with another factor.',
    );
  if (auth.enrolledHere?.includes('email')) throw factorTooNew();
  return auth;
}

async function emailFactorAddress(deps: EmailStepUpDeps, identityId: string): Promise<string> {
  const address = (await accountFactors(deps, identityId)).emailAddress;
  if (!address) throw new AppError('no_email_factor', 409, 'E-mailed codes are not on for this account.');
  return address;
}

/** POST /step-up/email/options: mails a code bound to this session to the account's proven address. */
export async function emailStepUpOptions(
  deps: EmailStepUpDeps,
  ctx: RequestContext,
  principal: Principal,
): Promise<void> {
  assertEmailFactorOffered(deps);
  const auth = raisableSession(ctx, principal);
  const address = await emailFactorAddress(deps, principal.identityId);
  await sendEmailCode(deps, 'step-up', auth.handle, { identityId: principal.identityId, address });
  await recordRequestEvent(deps, ctx, 'mfa.email_code_sent', 'success', principal.identityId, {
    purpose: 'step-up',
  });
}

/**
 * POST /step-up/email: the code from the mail raises the gateway session in place (aal2 after
 * a password or passkey sign-in: fresh id, fresh authentication time).
 */
export async function stepUpWithEmailCode(
  deps: EmailStepUpDeps,
  ctx: RequestContext,
  principal: Principal,
  code: string,
): Promise<void> {
  assertEmailFactorOffered(deps);
  const auth = raisableSession(ctx, principal);
  const proven = await consumeEmailCode(deps, 'step-up', auth.handle, principal.identityId, code);
  if (!proven) {
    await recordRequestEvent(deps, ctx, 'step_up.email_code', 'failure', principal.identityId, {
      reason: 'invalid_code',
    });
    throw invalidEmailCode();
  }
  // Turned off (or the address changed) since the code was sent: it proves nothing any more.
  if (!sameAddress(await emailFactorAddress(deps, principal.identityId), proven.address))
    throw new AppError('no_email_factor', 409, 'E-mailed codes are not on for this account.');
  await raiseGatewaySession(deps, ctx.session, {
    method: 'email_code',
    completedAt: deps.clock().toISOString(),
  });
  await recordRequestEvent(deps, ctx, 'step_up.email_code', 'success', principal.identityId);
}
