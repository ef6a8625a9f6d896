import { recordRequestEvent } from '../audit/request-event.js';
import type { AuditEventType } from '../audit/event-types.js';
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
import { notifyOwner } from '../notices/account-notices.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import { recordEnrolment } from '../session/sessions.js';
import type { AccountDeps } from './account-context.js';

/** What turning e-mailed (or texted) codes on and off uses. */
export type EmailFactorDeps = AccountDeps &
  EmailCodeDeps & { emailFactors: EmailFactorStore; smsFactors?: EmailFactorStore | undefined };

/** Where the account stands with e-mailed (or texted) codes as a second factor. */
interface EmailFactorStatus {
  /** On, for the account's current, verified address (or phone number). */
  enabled: boolean;
  /** The account's address (or phone number, '' without one), where codes go. */
  address: string;
  /** Only a verified address (or phone number) may be used. */
  addressVerified: boolean;
}

/** What differs between the e-mailed and the texted factor; the rules are the same. */
interface Channel {
  offered(deps: EmailFactorDeps): void;
  store(deps: EmailFactorDeps): EmailFactorStore;
  /** Where the codes go now, and whether the owner proved it. */
  target(deps: EmailFactorDeps, principal: Principal): Promise<{ address: string; verified: boolean }>;
  notVerified: () => AppError;
  already: () => AppError;
  changed: () => AppError;
  notEnabled: () => AppError;
  events: { sent: AuditEventType; enabled: AuditEventType; removed: AuditEventType };
}

const CHANNELS: Record<CodeChannel, Channel> = {
  email: {
    offered: assertEmailFactorOffered,
    store: (deps) => deps.emailFactors,
    target: (_deps, principal) =>
      Promise.resolve({ address: principal.email, verified: principal.emailVerified }),
    notVerified: () =>
      new AppError(
        'email_not_verified',
        409,
        'Verify your e-mail address first: codes go only to a proven address.',
      ),
    already: () => new AppError('email_factor_already_enabled', 409, 'E-mailed codes are already on.'),
    changed: () =>
      new AppError('email_changed', 409, 'Your address changed since the code was sent: start again.'),
    notEnabled: () => new AppError('email_factor_not_enabled', 400, 'E-mailed codes are not on.'),
    events: { sent: 'mfa.email_code_sent', enabled: 'mfa.email_enabled', removed: 'mfa.email_removed' },
  },
  sms: {
    offered: assertSmsFactorOffered,
    store: (deps) => {
      if (!deps.smsFactors) throw new AppError('method_disabled', 404, 'Texted codes are not enabled here.');
      return deps.smsFactors;
    },
    target: async (deps, principal) => {
      const identity = await deps.kratos.getIdentity(principal.identityId);
      return { address: identity?.phone ?? '', verified: identity?.phoneVerified === true };
    },
    notVerified: () =>
      new AppError(
        'phone_not_verified',
        409,
        'Add and verify a phone number first: codes go only to a proven number.',
      ),
    already: () => new AppError('sms_factor_already_enabled', 409, 'Texted codes are already on.'),
    changed: () =>
      new AppError('phone_changed', 409, 'Your phone number changed since the code was sent: start again.'),
    notEnabled: () => new AppError('sms_factor_not_enabled', 400, 'Texted codes are not on.'),
    events: { sent: 'mfa.sms_code_sent', enabled: 'mfa.sms_enabled', removed: 'mfa.sms_removed' },
  },
};

/** The factor's address of `accountFactors`, by channel. */
const factorAddress = (factors: Awaited<ReturnType<typeof accountFactors>>, channel: CodeChannel) =>
  channel === 'email' ? factors.emailAddress : factors.phoneNumber;

/** The gateway session the codes are bound to; a raw Kratos session has none. */
function sessionHandle(ctx: RequestContext, channel: CodeChannel): string {
  const handle = ctx.session.auth?.handle;
  if (!handle)
    throw new AppError(
      'gateway_session_required',
      409,
      `${channel === 'sms' ? 'Texted' : 'E-mailed'} codes need a gateway session: sign in through the gateway.`,
    );
  return handle;
}

/** GET /mfa/email (/mfa/sms): whether the factor is on for the caller. */
export async function emailFactorStatus(
  deps: EmailFactorDeps,
  principal: Principal,
  channel: CodeChannel = 'email',
): Promise<EmailFactorStatus> {
  const c = CHANNELS[channel];
  c.offered(deps);
  const [factors, target] = await Promise.all([
    accountFactors(deps, principal.identityId),
    c.target(deps, principal),
  ]);
  return {
    enabled: factorAddress(factors, channel) !== undefined,
    address: target.address,
    addressVerified: target.verified,
  };
}

/**
 * POST /mfa/email (/mfa/sms): proves the account's verified address (phone number) before its
 * codes count as the second factor, by sending it a code this session must confirm.
 */
export async function startEmailFactor(
  deps: EmailFactorDeps,
  ctx: RequestContext,
  principal: Principal,
  channel: CodeChannel = 'email',
): Promise<void> {
  const c = CHANNELS[channel];
  c.offered(deps);
  const handle = sessionHandle(ctx, channel);
  const target = await c.target(deps, principal);
  if (!target.verified || !target.address) throw c.notVerified();
  if (factorAddress(await accountFactors(deps, principal.identityId), channel)) throw c.already();
  await sendEmailCode(
    deps,
    'enrol',
    handle,
    { identityId: principal.identityId, address: target.address },
    channel,
  );
  await recordRequestEvent(deps, ctx, c.events.sent, 'success', principal.identityId, { purpose: 'enrol' });
}

/**
 * POST /mfa/email/confirm (/mfa/sms/confirm): the code turns the factor on for the address (or
 * number) it went to, if that is still the account's verified one. It counts from the next
 * sign-in, never for this session; the owner is mailed.
 */
export async function confirmEmailFactor(
  deps: EmailFactorDeps,
  ctx: RequestContext,
  principal: Principal,
  code: string,
  channel: CodeChannel = 'email',
): Promise<void> {
  const c = CHANNELS[channel];
  c.offered(deps);
  const handle = sessionHandle(ctx, channel);
  const proven = await consumeEmailCode(deps, 'enrol', handle, principal.identityId, code, channel);
  if (!proven) {
    await recordRequestEvent(deps, ctx, c.events.enabled, 'failure', principal.identityId, {
      reason: 'invalid_code',
    });
    throw invalidEmailCode();
  }
  const target = await c.target(deps, principal);
  if (!target.verified) throw c.notVerified();
  if (!sameAddress(proven.address, target.address)) throw c.changed();
  await c.store(deps).enable(principal.identityId, proven.address, deps.clock());
  await recordEnrolment(ctx.session, channel);
  await recordRequestEvent(deps, ctx, c.events.enabled, 'success', principal.identityId);
  await notifyOwner(deps, principal.email, { kind: 'factor_added', factor: channel });
}

/** DELETE /mfa/email (/mfa/sms): the codes no longer count; the owner is mailed. */
export async function removeEmailFactor(
  deps: EmailFactorDeps,
  ctx: RequestContext,
  principal: Principal,
  channel: CodeChannel = 'email',
): Promise<void> {
  const c = CHANNELS[channel];
  c.offered(deps);
  if (!(await c.store(deps).disable(principal.identityId))) throw c.notEnabled();
  await recordRequestEvent(deps, ctx, c.events.removed, 'success', principal.identityId);
  await notifyOwner(deps, principal.email, { kind: 'factor_removed', factor: channel });
}
