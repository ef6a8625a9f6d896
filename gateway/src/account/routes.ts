import type { NextFunction, Request, Response, Router } from 'express';
import { z } from 'zod';
import { requireAuth } from '../access/require-auth.js';
import { checkPrivileged, requirePrivileged } from '../access/second-factors.js';
import type { AppDeps } from '../deps.js';
import { parseBody } from '../http/middleware.js';
import { MIN_PASSWORD_LENGTH } from '../login/routes.js';
import { freshSessionAnswer } from '../session/routes.js';
import { changePassword } from './password.js';
import { updateProfile } from './profile.js';
import { completeRecovery, requestRecovery } from './recovery.js';
import { stepUpWithKratosFactor } from './step-up.js';
import { confirmTotpEnrollment, regenerateBackupCodes, removeTotp, startTotpEnrollment } from './totp.js';
import { completeVerification, requestVerification } from './verification.js';

const email = z.string().trim().max(320).pipe(z.email());
export const emailCode = z
  .string()
  .trim()
  .regex(/^\d{4,12}$/, 'must be the code from the e-mail');
export const totpCode = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'must be 6 digits');
export const backupCode = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9-]{4,64}$/, 'must be one of your backup codes');

export const recoveryBody = z.object({ email }).strict();
export const verificationBody = z.object({ email: email.optional() }).strict();
export const codeBody = (code: z.ZodType<string>) => z.object({ code }).strict();
export const profileBody = z.object({ traits: z.record(z.string(), z.unknown()) }).strict();
export const passwordBody = z
  .object({
    password: z
      .string()
      .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
      .max(1024),
  })
  .strict();

/** The first step of recovery and verification answers alike for every address. */
const CODE_SENT = {
  status: 'code_sent',
  message: 'If the address belongs to an account, a code is on its way.',
};

/**
 * POST /password: a privileged act (aal2 when the account has a second factor, recent
 * authentication), but open to sessions that must change their password (that is the way
 * out of that state) or register a first passkey.
 */
function passwordGuard(deps: AppDeps) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      await checkPrivileged(deps, req, { allowIncomplete: true });
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Recovery, verification, profile, password, TOTP, backup codes and Kratos step-up. */
export function registerAccountRoutes(router: Router, deps: AppDeps) {
  const signedIn = requireAuth({}, deps.clock);
  // Enrolling a factor: aal2 once the account has one, recent authentication always.
  const privileged = requirePrivileged(deps);
  const recentAal2 = requireAuth(
    { aal: 'aal2', maxAgeSeconds: deps.config.PRIVILEGED_MAX_AGE_SECONDS },
    deps.clock,
  );
  const owingSecondFactor = requireAuth({ allowIncomplete: true }, deps.clock);

  router.post('/recovery', async (req, res) => {
    await requestRecovery(deps, req, parseBody(recoveryBody, req.body).email);
    res.status(202).json(CODE_SENT);
  });

  router.post('/recovery/code', async (req, res) => {
    const { removedPasskeys } = await completeRecovery(
      deps,
      req,
      parseBody(codeBody(emailCode), req.body).code,
    );
    res.json({ ...(await freshSessionAnswer(deps, req)), removedPasskeys });
  });

  router.post('/verification', async (req, res) => {
    await requestVerification(deps, req, parseBody(verificationBody, req.body).email);
    res.status(202).json(CODE_SENT);
  });

  router.post('/verification/code', async (req, res) => {
    const { removedPasskeys } = await completeVerification(
      deps,
      req,
      parseBody(codeBody(emailCode), req.body).code,
    );
    res.json({ verified: true, removedPasskeys });
  });

  router.patch('/profile', signedIn, async (req, res) => {
    await updateProfile(deps, req, parseBody(profileBody, req.body).traits);
    res.json(await freshSessionAnswer(deps, req));
  });

  router.post('/password', passwordGuard(deps), async (req, res) => {
    await changePassword(deps, req, parseBody(passwordBody, req.body).password);
    res.json(await freshSessionAnswer(deps, req));
  });

  router.post('/mfa/totp', privileged, async (req, res) => {
    const enrollment = await startTotpEnrollment(deps, req);
    res.setHeader('Cache-Control', 'no-store');
    res.json(enrollment);
  });

  router.post('/mfa/totp/confirm', privileged, async (req, res) => {
    await confirmTotpEnrollment(deps, req, parseBody(codeBody(totpCode), req.body).code);
    res.json(await freshSessionAnswer(deps, req));
  });

  router.delete('/mfa/totp', recentAal2, async (req, res) => {
    await removeTotp(deps, req);
    res.status(204).end();
  });

  router.post('/mfa/backup-codes', privileged, async (req, res) => {
    const codes = await regenerateBackupCodes(deps, req);
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ codes });
  });

  router.post('/step-up/totp', owingSecondFactor, async (req, res) => {
    const { code } = parseBody(codeBody(totpCode), req.body);
    await stepUpWithKratosFactor(deps, req, { method: 'totp', code });
    res.json(await freshSessionAnswer(deps, req));
  });

  router.post('/step-up/backup-code', owingSecondFactor, async (req, res) => {
    const { code } = parseBody(codeBody(backupCode), req.body);
    await stepUpWithKratosFactor(deps, req, { method: 'lookup_secret', code });
    res.json(await freshSessionAnswer(deps, req));
  });
}
