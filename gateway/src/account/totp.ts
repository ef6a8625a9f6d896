import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { AppError } from '../errors/app-error.js';
import { removeTotpAsAdmin } from '../kratos/flows/admin-credentials.js';
import { createSettingsFlow, updateSettingsFlow } from '../kratos/flows/settings-flow.js';
import { recordEnrolment } from '../session/sessions.js';
import { recordRequestEvent } from '../audit/request-event.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import { heldKratosToken } from '../session/sessions.js';
import { afterIdentityChange, type AccountDeps } from './account-context.js';
import { notifyOwner } from '../notices/account-notices.js';
import { kratosRefusal } from './kratos-refusal.js';
import { forgetFlow, pendingFlow, rememberFlow } from '../session/pending-flows.js';

/** What the user needs to add the account to an authenticator app. */
interface TotpEnrollment {
  secret: string;
  otpauthUri: string;
  /** The otpauth URI as a PNG data URL, for an `<img>`. */
  qrCode: string;
}

/** TOTP lives at Kratos and Kratos enrolls it only through a settings flow of its own session. */
function requireKratosToken(deps: AccountDeps, ctx: RequestContext): string {
  const token = heldKratosToken(deps, ctx.session);
  if (!token) {
    throw new AppError(
      'kratos_session_required',
      409,
      'Authenticator apps and backup codes need a password sign-in; sign in with your password first.',
    );
  }
  return token;
}

/** The otpauth URI authenticator apps read (SHA1, 6 digits, 30 s: what Kratos verifies). */
function otpauthUri(issuer: string, accountName: string, secret: string): string {
  return new TOTP({
    issuer,
    label: accountName,
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    secret: Secret.fromBase32(secret),
  }).toString();
}

/**
 * Starts TOTP enrollment: Kratos offers a secret in a new settings flow, which the gateway
 * keeps for this session until the user confirms a code from the app.
 */
export async function startTotpEnrollment(
  deps: AccountDeps,
  ctx: RequestContext,
  principal: Principal,
): Promise<TotpEnrollment> {
  const token = requireKratosToken(deps, ctx);
  const flow = await createSettingsFlow(deps.kratos, token).catch((err: unknown) => {
    throw kratosRefusal(err, 'totp_unavailable', 'TOTP cannot be set up now.');
  });
  if (!flow.totpSecret)
    throw new AppError('totp_already_enabled', 409, 'An authenticator app is already set up.');
  await rememberFlow(ctx.session, 'totp', {
    id: flow.id,
    expiresAt: flow.expiresAt,
    identityId: principal.identityId,
  });
  const uri = otpauthUri(deps.config.TOTP_ISSUER, principal.email, flow.totpSecret);
  return { secret: flow.totpSecret, otpauthUri: uri, qrCode: await QRCode.toDataURL(uri) };
}

/** Confirms enrollment with a code from the app; Kratos then counts TOTP as a second factor. */
export async function confirmTotpEnrollment(
  deps: AccountDeps,
  ctx: RequestContext,
  principal: Principal,
  code: string,
): Promise<void> {
  const token = requireKratosToken(deps, ctx);
  const flow = pendingFlow(ctx.session, 'totp', deps.clock().getTime(), principal.identityId);
  if (!flow) throw new AppError('totp_enrollment_not_started', 400, 'Start the authenticator set-up first.');
  try {
    await updateSettingsFlow(deps.kratos, token, flow.id, { method: 'totp', totp_code: code });
  } catch (err) {
    const refusal = kratosRefusal(err, 'invalid_code', 'The code is wrong.');
    const reason = refusal instanceof AppError ? refusal.code : 'error';
    await recordRequestEvent(deps, ctx, 'mfa.totp_enabled', 'failure', principal.identityId, { reason });
    throw refusal;
  }
  await forgetFlow(ctx.session, 'totp');
  // The new factor counts from the next sign-in, never for this session; the owner hears of it.
  await recordEnrolment(ctx.session, 'totp');
  await afterIdentityChange(deps, ctx, principal.identityId);
  await recordRequestEvent(deps, ctx, 'mfa.totp_enabled', 'success', principal.identityId);
  await notifyOwner(deps, principal.email, { kind: 'factor_added', factor: 'totp' });
}

/** Removes the authenticator app: a settings flow for Kratos sessions, the admin API otherwise. */
export async function removeTotp(
  deps: AccountDeps,
  ctx: RequestContext,
  principal: Principal,
): Promise<void> {
  const token = heldKratosToken(deps, ctx.session);
  if (token) {
    try {
      const flow = await createSettingsFlow(deps.kratos, token);
      await updateSettingsFlow(deps.kratos, token, flow.id, { method: 'totp', totp_unlink: true });
    } catch (err) {
      throw kratosRefusal(err, 'totp_not_enabled', 'No authenticator app is set up.');
    }
  } else if (!(await removeTotpAsAdmin(deps.kratos, principal.identityId))) {
    throw new AppError('totp_not_enabled', 400, 'No authenticator app is set up.');
  }
  await afterIdentityChange(deps, ctx, principal.identityId);
  await recordRequestEvent(deps, ctx, 'mfa.totp_removed', 'success', principal.identityId, {
    via: token ? 'settings_flow' : 'admin',
  });
}

/**
 * Generates a fresh set of backup codes and confirms it in the same settings flow. The
 * codes are answered once and never stored by the gateway.
 */
export async function regenerateBackupCodes(
  deps: AccountDeps,
  ctx: RequestContext,
  principal: Principal,
): Promise<string[]> {
  const token = requireKratosToken(deps, ctx);
  let codes: string[] | undefined;
  try {
    const flow = await createSettingsFlow(deps.kratos, token);
    const shown = await updateSettingsFlow(deps.kratos, token, flow.id, {
      method: 'lookup_secret',
      lookup_secret_regenerate: true,
    });
    codes = shown.lookupCodes;
    if (codes?.length) {
      await updateSettingsFlow(deps.kratos, token, flow.id, {
        method: 'lookup_secret',
        lookup_secret_confirm: true,
      });
    }
  } catch (err) {
    throw kratosRefusal(err, 'backup_codes_unavailable', 'Backup codes cannot be generated now.');
  }
  if (!codes?.length) throw new AppError('kratos_invalid_response', 502, 'Kratos generated no backup codes.');
  await recordEnrolment(ctx.session, 'lookup_secret');
  await afterIdentityChange(deps, ctx, principal.identityId);
  await recordRequestEvent(deps, ctx, 'mfa.backup_codes_generated', 'success', principal.identityId, {
    count: codes.length,
  });
  await notifyOwner(deps, principal.email, { kind: 'factor_added', factor: 'lookup_secret' });
  return codes;
}
