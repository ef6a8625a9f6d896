import type { RequestHandler, Router } from 'express';
import { z } from 'zod';
import { checkPrivileged, requirePrivileged } from '../access/privileged.js';
import type { Caller, Guard } from '../access/require-auth.js';
import type { Config } from '../config.js';
import { AppError } from '../errors/app-error.js';
import { emptyBody, parseBody } from '../errors/parse-input.js';
import { codeBody, emailFactorCode, smsFactorCode, totpCode } from '../factors/codes.js';
import {
  assertEmailFactorOffered,
  assertSmsFactorOffered,
  EMAIL_CODE_SENT,
  SMS_CODE_SENT,
} from '../factors/email-factor.js';
import { newPassword } from '../identity/password.js';
import { phoneNumber } from '../identity/phone.js';
import type { PrincipalDeps } from '../session/resolve-principal.js';
import { contextOf, freshSessionAnswer } from '../access/routes.js';
import type { AccountDeps } from './account-context.js';
import {
  confirmEmailFactor,
  emailFactorStatus,
  removeEmailFactor,
  startEmailFactor,
  type EmailFactorDeps,
} from './email-factor.js';
import { changePassword } from './password.js';
import {
  assertPhoneOffered,
  PHONE_CODE_SENT,
  phoneStatus,
  removePhone,
  startPhone,
  verifyPhone,
} from './phone.js';
import { mergedTraits, updateProfile } from './profile.js';
import { completeRecovery, requestRecovery } from './recovery.js';
import { confirmTotpEnrollment, regenerateBackupCodes, removeTotp, startTotpEnrollment } from './totp.js';
import { completeVerification, requestVerification } from './verification.js';

const email = z.string().trim().max(320).pipe(z.email());
export const emailCode = z
  .string()
  .trim()
  .regex(/^\d{4,12}$/, 'must be the code from the e-mail');

export const recoveryBody = z.object({ email }).strict();
export const verificationBody = z.object({ email: email.optional() }).strict();
export const profileBody = z.object({ traits: z.record(z.string(), z.unknown()) }).strict();
export const passwordBody = z.object({ password: newPassword }).strict();
export const phoneBody = z.object({ phone: phoneNumber }).strict();
export const smsCode = z
  .string()
  .trim()
  .regex(/^\d{4,12}$/, 'must be the code from the text message');

/** The first step of recovery and verification answers alike for every address. */
const CODE_SENT = {
  status: 'code_sent',
  message: 'If the address belongs to an account, a code is on its way.',
};

/** What the account routes use. */
type AccountRouteDeps = AccountDeps &
  EmailFactorDeps &
  PrincipalDeps & { guard: Guard; config: Pick<Config, 'PRIVILEGED_MAX_AGE_SECONDS' | 'SMS_PROVIDER_URL'> };

/** Recovery, verification, profile, password, TOTP, backup codes and e-mailed codes as a second factor. */
export function registerAccountRoutes(router: Router, deps: AccountRouteDeps) {
  const signedIn = deps.guard.require();
  // Enrolling a factor: aal2 once the account has one, recent authentication always; open
  // to a session whose mandatory second factor is overdue (that is the way out of it).
  const enrolment = requirePrivileged(deps, { enrolment: true });
  const recentAal2 = deps.guard.require({
    aal: 'aal2',
    maxAgeSeconds: deps.config.PRIVILEGED_MAX_AGE_SECONDS,
  });
  // The password may change from sessions that must change it (that is the way out of that
  // state) or that still register their first passkey.
  const passwordGuard = requirePrivileged(deps, { allowIncomplete: true });
  const caller = (req: Caller) => deps.guard.check(req, { allowIncomplete: true });

  router.post('/recovery', async (req, res) => {
    await requestRecovery(deps, contextOf(req), parseBody(recoveryBody, req.body).email);
    res.status(202).json(CODE_SENT);
  });

  router.post('/recovery/code', async (req, res) => {
    const { code } = parseBody(codeBody(emailCode), req.body);
    const { removedPasskeys } = await completeRecovery(deps, contextOf(req), code);
    res.json({ ...(await freshSessionAnswer(deps, req)), removedPasskeys });
  });

  router.post('/verification', async (req, res) => {
    await requestVerification(deps, contextOf(req), parseBody(verificationBody, req.body).email);
    res.status(202).json(CODE_SENT);
  });

  router.post('/verification/code', async (req, res) => {
    const { code } = parseBody(codeBody(emailCode), req.body);
    const { removedPasskeys } = await completeVerification(deps, contextOf(req), code);
    res.json({ verified: true, removedPasskeys });
  });

  router.patch('/profile', signedIn, async (req, res) => {
    const principal = await caller(req);
    const { traits } = parseBody(profileBody, req.body);
    // The phone number is proven by a texted code: it changes only through /phone.
    if ('phone' in traits)
      throw new AppError(
        'invalid_request',
        400,
        'traits.phone: change the phone number through /api/auth/phone.',
        {
          details: { field: 'traits.phone' },
        },
      );
    // Changing the e-mail address changes how the account signs in and recovers: privileged.
    if (mergedTraits(principal, traits).email !== principal.traits.email) await checkPrivileged(deps, req);
    await updateProfile(deps, contextOf(req), principal, traits);
    res.json(await freshSessionAnswer(deps, req));
  });

  router.post('/password', passwordGuard, async (req, res) => {
    const principal = await caller(req);
    await changePassword(deps, contextOf(req), principal, parseBody(passwordBody, req.body).password);
    res.json(await freshSessionAnswer(deps, req));
  });

  router.post('/mfa/totp', enrolment, async (req, res) => {
    const enrollment = await startTotpEnrollment(deps, contextOf(req), await caller(req));
    res.setHeader('Cache-Control', 'no-store');
    res.json(enrollment);
  });

  router.post('/mfa/totp/confirm', enrolment, async (req, res) => {
    const principal = await caller(req);
    const { code } = parseBody(codeBody(totpCode), req.body);
    await confirmTotpEnrollment(deps, contextOf(req), principal, code);
    res.json(await freshSessionAnswer(deps, req));
  });

  router.delete('/mfa/totp', recentAal2, async (req, res) => {
    await removeTotp(deps, contextOf(req), await caller(req));
    res.status(204).end();
  });

  router.post('/mfa/backup-codes', enrolment, async (req, res) => {
    const codes = await regenerateBackupCodes(deps, contextOf(req), await caller(req));
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ codes });
  });

  // E-mailed codes as a second factor: where EMAIL_CODE_MFA is off the routes do not exist,
  // whoever asks (the configuration answers before any guard).
  const emailOffered: RequestHandler = (_req, _res, next) => {
    try {
      assertEmailFactorOffered(deps);
      next();
    } catch (err) {
      next(err);
    }
  };
  // Reading the state is open to a session whose mandatory enrolment is overdue: it may enrol this.
  const enrolmentOpen = deps.guard.require({ enrolment: true });

  router.get('/mfa/email', emailOffered, enrolmentOpen, async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await emailFactorStatus(deps, await caller(req)));
  });

  router.post('/mfa/email', emailOffered, enrolment, async (req, res) => {
    const principal = await caller(req);
    parseBody(emptyBody, req.body ?? {});
    await startEmailFactor(deps, contextOf(req), principal);
    res.status(202).json(EMAIL_CODE_SENT);
  });

  router.post('/mfa/email/confirm', emailOffered, enrolment, async (req, res) => {
    const principal = await caller(req);
    const { code } = parseBody(codeBody(emailFactorCode), req.body);
    await confirmEmailFactor(deps, contextOf(req), principal, code);
    res.json(await freshSessionAnswer(deps, req));
  });

  router.delete('/mfa/email', emailOffered, recentAal2, async (req, res) => {
    await removeEmailFactor(deps, contextOf(req), await caller(req));
    res.status(204).end();
  });

  // Texted codes as a second factor (SMS_CODE_MFA): the same rules as e-mailed ones.
  const smsOffered: RequestHandler = (_req, _res, next) => {
    try {
      assertSmsFactorOffered(deps);
      next();
    } catch (err) {
      next(err);
    }
  };

  router.get('/mfa/sms', smsOffered, enrolmentOpen, async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await emailFactorStatus(deps, await caller(req), 'sms'));
  });

  router.post('/mfa/sms', smsOffered, enrolment, async (req, res) => {
    const principal = await caller(req);
    parseBody(emptyBody, req.body ?? {});
    await startEmailFactor(deps, contextOf(req), principal, 'sms');
    res.status(202).json(SMS_CODE_SENT);
  });

  router.post('/mfa/sms/confirm', smsOffered, enrolment, async (req, res) => {
    const principal = await caller(req);
    const { code } = parseBody(codeBody(smsFactorCode), req.body);
    await confirmEmailFactor(deps, contextOf(req), principal, code, 'sms');
    res.json(await freshSessionAnswer(deps, req));
  });

  router.delete('/mfa/sms', smsOffered, recentAal2, async (req, res) => {
    await removeEmailFactor(deps, contextOf(req), await caller(req), 'sms');
    res.status(204).end();
  });

  // The phone number (only with an SMS provider): set it (a sign-in identifier, so privileged),
  // prove it with the texted code, remove it (privileged).
  const phoneOffered: RequestHandler = (_req, _res, next) => {
    try {
      assertPhoneOffered(deps);
      next();
    } catch (err) {
      next(err);
    }
  };
  const privileged = requirePrivileged(deps);

  router.get('/phone', phoneOffered, signedIn, async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await phoneStatus(deps, await caller(req)));
  });

  router.post('/phone', phoneOffered, privileged, async (req, res) => {
    const principal = await caller(req);
    const { phone } = parseBody(phoneBody, req.body);
    await startPhone(deps, contextOf(req), principal, phone);
    res.status(202).json(PHONE_CODE_SENT);
  });

  router.post('/phone/verify', phoneOffered, signedIn, async (req, res) => {
    const principal = await caller(req);
    const { code } = parseBody(codeBody(smsCode), req.body);
    await verifyPhone(deps, contextOf(req), principal, code);
    res.json(await phoneStatus(deps, principal));
  });

  router.delete('/phone', phoneOffered, privileged, async (req, res) => {
    await removePhone(deps, contextOf(req), await caller(req));
    res.status(204).end();
  });
}
