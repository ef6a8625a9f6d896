import { recordRequestEvent } from '../audit/request-event.js';
import type { Config } from '../config.js';
import { AppError } from '../errors/app-error.js';
import { saveTraitsForPhone } from '../kratos/flows/phone-flow.js';
import { submitVerificationCode } from '../kratos/flows/verification-flow.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import { flowExpired, forgetFlow, pendingFlow, rememberFlow } from '../session/pending-flows.js';
import { heldKratosToken } from '../session/sessions.js';
import { afterIdentityChange, type AccountDeps } from './account-context.js';
import { kratosRefusal } from './kratos-refusal.js';

/** What the phone number routes use. */
export type PhoneDeps = AccountDeps & { config: Pick<Config, 'SMS_PROVIDER_URL'> };

/** The answer of the first step: the code went to the number just given. */
export const PHONE_CODE_SENT = {
  status: 'code_sent',
  message: 'A code is on its way to the number.',
} as const;

/** The account's phone number as its owner sees it. */
export interface PhoneStatus {
  phone: string | null;
  verified: boolean;
}

/** Phone numbers exist only where the deployment has an SMS provider. */
export function assertPhoneOffered(deps: { config: Pick<Config, 'SMS_PROVIDER_URL'> }): void {
  if (!deps.config.SMS_PROVIDER_URL)
    throw new AppError('method_disabled', 404, 'Phone numbers are not enabled here.');
}

/**
 * The Kratos session of this gateway session: the number is set through Kratos' settings flow,
 * whose verification hook texts it a code. A session without one (signed in with a passkey
 * alone) cannot do that.
 */
function kratosToken(deps: PhoneDeps, ctx: RequestContext): string {
  const token = heldKratosToken(deps, ctx.session);
  if (!token)
    throw new AppError(
      'kratos_session_required',
      409,
      'Adding a phone number needs a sign-in with a password or a code: sign in that way and try again.',
    );
  return token;
}

const invalidCode = () => new AppError('invalid_code', 400, 'The code is wrong or was used already.');
const expired = () => new AppError('flow_expired', 410, 'This code has expired; ask for a new one.');

/** The caller's phone number and whether it is proven, as Kratos has them now. */
export async function phoneStatus(deps: PhoneDeps, principal: Principal): Promise<PhoneStatus> {
  assertPhoneOffered(deps);
  const identity = await deps.kratos.getIdentity(principal.identityId);
  return { phone: identity?.phone ?? null, verified: identity?.phoneVerified === true };
}

/**
 * Sets the caller's phone number (the identity schema's `phone` trait, E.164) through a Kratos
 * settings flow; Kratos texts it a verification code. The number is a sign-in identifier (a
 * code by SMS), so its route is privileged like an e-mail change. Setting the number it has
 * already, unverified, sends a new code (the trait is dropped and set again: Kratos texts a
 * code only to a number it has not sent one to).
 */
export async function startPhone(
  deps: PhoneDeps,
  ctx: RequestContext,
  principal: Principal,
  phone: string,
): Promise<void> {
  assertPhoneOffered(deps);
  const token = kratosToken(deps, ctx);
  const { phone: current, ...rest } = principal.traits;
  if (current === phone && (await phoneStatus(deps, principal)).verified)
    throw new AppError('phone_verified', 409, 'This phone number is verified already.');
  try {
    if (current === phone) await saveTraitsForPhone(deps.kratos, token, rest, undefined);
    const flow = await saveTraitsForPhone(deps.kratos, token, { ...rest, phone }, phone);
    if (!flow) throw new AppError('kratos_invalid_response', 502, 'The identity service sent no code.');
    await rememberFlow(ctx.session, 'phone', {
      id: flow.flowId,
      expiresAt: flow.expiresAt,
      identityId: principal.identityId,
      address: phone,
    });
  } catch (err) {
    const refusal = kratosRefusal(err, 'invalid_phone', 'This phone number cannot be used.');
    await recordRequestEvent(deps, ctx, 'phone.code_sent', 'failure', principal.identityId, {
      reason: refusal instanceof AppError ? refusal.code : 'error',
    });
    // The trait may have changed before the failure (a number set again is dropped first).
    await afterIdentityChange(deps, ctx, principal.identityId).catch(() => undefined);
    throw refusal;
  }
  await afterIdentityChange(deps, ctx, principal.identityId);
  await recordRequestEvent(deps, ctx, 'phone.code_sent', 'success', principal.identityId);
}

/** Proves the number with the texted code: Kratos marks it verified. */
export async function verifyPhone(
  deps: PhoneDeps,
  ctx: RequestContext,
  principal: Principal,
  code: string,
): Promise<void> {
  assertPhoneOffered(deps);
  const now = deps.clock().getTime();
  const flow = pendingFlow(ctx.session, 'phone', now, principal.identityId);
  if (!flow && flowExpired(ctx.session, 'phone', now)) {
    await forgetFlow(ctx.session, 'phone');
    await recordRequestEvent(deps, ctx, 'phone.verified', 'failure', principal.identityId, {
      reason: 'expired',
    });
    throw expired();
  }
  if (!flow) throw new AppError('phone_not_started', 400, 'Add a phone number first.');
  const outcome = await submitVerificationCode(deps.kratos, flow.id, code);
  if (outcome !== 'verified') {
    await recordRequestEvent(deps, ctx, 'phone.verified', 'failure', principal.identityId, {
      reason: outcome,
    });
    if (outcome === 'expired') {
      await forgetFlow(ctx.session, 'phone');
      throw expired();
    }
    throw invalidCode();
  }
  await forgetFlow(ctx.session, 'phone');
  await afterIdentityChange(deps, ctx, principal.identityId);
  await recordRequestEvent(deps, ctx, 'phone.verified', 'success', principal.identityId);
}

/** Removes the caller's phone number (privileged): it no longer signs in nor gets codes. */
export async function removePhone(deps: PhoneDeps, ctx: RequestContext, principal: Principal): Promise<void> {
  assertPhoneOffered(deps);
  if (typeof principal.traits.phone !== 'string')
    throw new AppError('no_phone', 409, 'This account has no phone number.');
  const token = kratosToken(deps, ctx);
  const { phone: _removed, ...rest } = principal.traits;
  try {
    await saveTraitsForPhone(deps.kratos, token, rest, undefined);
  } catch (err) {
    throw kratosRefusal(err, 'invalid_phone', 'The phone number could not be removed.');
  }
  await forgetFlow(ctx.session, 'phone');
  await afterIdentityChange(deps, ctx, principal.identityId);
  await recordRequestEvent(deps, ctx, 'phone.removed', 'success', principal.identityId);
}
