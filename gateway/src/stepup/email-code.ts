import type { AuditLog } from '../audit/audit-log.js';
import { recordRequestEvent } from '../audit/request-event.js';
import { AppError } from '../errors/app-error.js';
import {
  assertEmailFactorOffered,
  assertSmsFactorOffered,
  consumeEmailCode,
  invalidEmailCode,
  sameAddress,
  sendEmailCode,
  type CodeChannel,
  type EmailCodeDeps,
  type EmailFactorStore,
} from '../factors/email-factor.js';
import { accountFactors } from '../factors/second-factors.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import type { GatewayAuth } from '../session/session-data.js';
import { raiseGatewaySession, signedInByInbox, type SessionDeps } from '../session/sessions.js';
import { factorTooNew } from './methods.js';

/** What a step-up with an e-mailed (or texted) code uses. */
export type EmailStepUpDeps = SessionDeps &
  EmailCodeDeps & {
    emailFactors: EmailFactorStore;
    smsFactors?: EmailFactorStore | undefined;
    audit: AuditLog;
  };

/** What differs between the two channels of a step-up by code. */
const CHANNELS = {
  email: {
    offered: assertEmailFactorOffered,
    name: 'E-mailed',
    sameTwice: 'This session signed in with a code sent to the same address: confirm it with another factor.',
    unusable: 'email_factor_unusable',
    missing: () => new AppError('no_email_factor', 409, 'E-mailed codes are not on for this account.'),
    method: 'email_code',
    events: { sent: 'mfa.email_code_sent', stepUp: 'step_up.email_code' },
  },
  sms: {
    offered: assertSmsFactorOffered,
    name: 'Texted',
    sameTwice:
      'This session signed in with a code: a texted code proves nothing more. Confirm it with another factor.',
    unusable: 'sms_factor_unusable',
    missing: () => new AppError('no_sms_factor', 409, 'Texted codes are not on for this account.'),
    method: 'sms_code',
    events: { sent: 'mfa.sms_code_sent', stepUp: 'step_up.sms_code' },
  },
} as const;

/**
 * The gateway session a code may raise: not a raw Kratos session (nothing here to raise), not
 * one that signed in by a code (e-mailed or texted: a code after a code proves nothing more),
 * not one that turned the factor on itself (a factor counts from the next sign-in).
 */
function raisableSession(ctx: RequestContext, principal: Principal, channel: CodeChannel): GatewayAuth {
  const c = CHANNELS[channel];
  const auth = ctx.session.auth;
  if (principal.source !== 'gateway' || !auth)
    throw new AppError(
      'step_up_unavailable',
      400,
      `${c.name} code step-up needs a gateway session: sign in through the gateway.`,
    );
  if (signedInByInbox(auth.kind)) throw new AppError(c.unusable, 409, c.sameTwice);
  if (auth.enrolledHere?.includes(channel)) throw factorTooNew();
  return auth;
}

async function factorAddress(
  deps: EmailStepUpDeps,
  identityId: string,
  channel: CodeChannel,
): Promise<string> {
  const factors = await accountFactors(deps, identityId);
  const address = channel === 'email' ? factors.emailAddress : factors.phoneNumber;
  if (!address) throw CHANNELS[channel].missing();
  return address;
}

/** POST /step-up/email/options (/step-up/sms/options): sends a code bound to this session. */
export async function emailStepUpOptions(
  deps: EmailStepUpDeps,
  ctx: RequestContext,
  principal: Principal,
  channel: CodeChannel = 'email',
): Promise<void> {
  const c = CHANNELS[channel];
  c.offered(deps);
  const auth = raisableSession(ctx, principal, channel);
  const address = await factorAddress(deps, principal.identityId, channel);
  await sendEmailCode(deps, 'step-up', auth.handle, { identityId: principal.identityId, address }, channel);
  await recordRequestEvent(deps, ctx, c.events.sent, 'success', principal.identityId, { purpose: 'step-up' });
}

/**
 * POST /step-up/email (/step-up/sms): the code raises the gateway session in place (aal2 after
 * a password or passkey sign-in: fresh id, fresh authentication time).
 */
export async function stepUpWithEmailCode(
  deps: EmailStepUpDeps,
  ctx: RequestContext,
  principal: Principal,
  code: string,
  channel: CodeChannel = 'email',
): Promise<void> {
  const c = CHANNELS[channel];
  c.offered(deps);
  const auth = raisableSession(ctx, principal, channel);
  const proven = await consumeEmailCode(deps, 'step-up', auth.handle, principal.identityId, code, channel);
  if (!proven) {
    await recordRequestEvent(deps, ctx, c.events.stepUp, 'failure', principal.identityId, {
      reason: 'invalid_code',
    });
    throw invalidEmailCode();
  }
  // Turned off (or the address changed) since the code was sent: it proves nothing any more.
  if (!sameAddress(await factorAddress(deps, principal.identityId, channel), proven.address))
    throw c.missing();
  await raiseGatewaySession(deps, ctx.session, { method: c.method, completedAt: deps.clock().toISOString() });
  await recordRequestEvent(deps, ctx, c.events.stepUp, 'success', principal.identityId);
}
