import type { Request, Router } from 'express';
import { z } from 'zod';
import type { Guard } from '../access/require-auth.js';
import { emptyBody, parseBody } from '../errors/parse-input.js';
import { auditRefusal, type CeremonyDeps } from '../factors/ceremony.js';
import { backupCode, codeBody, emailFactorCode, smsFactorCode, totpCode } from '../factors/codes.js';
import {
  assertEmailFactorOffered,
  assertSmsFactorOffered,
  EMAIL_CODE_SENT,
  SMS_CODE_SENT,
} from '../factors/email-factor.js';
import { authenticationCredential } from '../factors/credential-json.js';
import { contextOf, freshSessionAnswer } from '../access/routes.js';
import type { PrincipalDeps } from '../session/resolve-principal.js';
import { emailStepUpOptions, stepUpWithEmailCode, type EmailStepUpDeps } from './email-code.js';
import { stepUpWithKratosFactor, type KratosFactorDeps } from './kratos-factor.js';
import { stepUpOptions, stepUpWithPasskey } from './passkey.js';

const assertionBody = z.object({ credential: authenticationCredential }).strict();

/** What the step-up routes use. */
type StepUpDeps = CeremonyDeps & KratosFactorDeps & EmailStepUpDeps & PrincipalDeps & { guard: Guard };

/** Sessions that still owe a second factor may step up: that is how they pay it. */
const stepUpCaller = (deps: Pick<StepUpDeps, 'guard'>, req: Request) =>
  deps.guard.check(req, { allowIncomplete: true });

/**
 * POST /step-up/options and /step-up (a passkey), /step-up/totp and /step-up/backup-code
 * (a Kratos factor), /step-up/email/options and /step-up/email (an e-mailed code, where
 * EMAIL_CODE_MFA is on), /step-up/sms/options and /step-up/sms (a texted code, where
 * SMS_CODE_MFA is on): each raises the session in place and answers the session.
 */
export function registerStepUpRoutes(router: Router, deps: StepUpDeps) {
  router.post('/step-up/options', async (req, res) => {
    const principal = await stepUpCaller(deps, req);
    parseBody(emptyBody, req.body);
    res.json(await stepUpOptions(deps, contextOf(req), principal));
  });

  router.post('/step-up', async (req, res) => {
    const principal = await stepUpCaller(deps, req);
    const ctx = contextOf(req);
    await auditRefusal(deps, ctx, 'step_up.passkey', async () => {
      const { credential } = parseBody(assertionBody, req.body);
      await stepUpWithPasskey(deps, ctx, principal, credential);
    });
    res.json(await freshSessionAnswer(deps, req));
  });

  router.post('/step-up/totp', async (req, res) => {
    const principal = await stepUpCaller(deps, req);
    const { code } = parseBody(codeBody(totpCode), req.body);
    await stepUpWithKratosFactor(deps, contextOf(req), principal, { method: 'totp', code });
    res.json(await freshSessionAnswer(deps, req));
  });

  router.post('/step-up/backup-code', async (req, res) => {
    const principal = await stepUpCaller(deps, req);
    const { code } = parseBody(codeBody(backupCode), req.body);
    await stepUpWithKratosFactor(deps, contextOf(req), principal, { method: 'lookup_secret', code });
    res.json(await freshSessionAnswer(deps, req));
  });

  router.post('/step-up/email/options', async (req, res) => {
    assertEmailFactorOffered(deps);
    const principal = await stepUpCaller(deps, req);
    parseBody(emptyBody, req.body ?? {});
    await emailStepUpOptions(deps, contextOf(req), principal);
    res.status(202).json(EMAIL_CODE_SENT);
  });

  router.post('/step-up/email', async (req, res) => {
    assertEmailFactorOffered(deps);
    const principal = await stepUpCaller(deps, req);
    const { code } = parseBody(codeBody(emailFactorCode), req.body);
    await stepUpWithEmailCode(deps, contextOf(req), principal, code);
    res.json(await freshSessionAnswer(deps, req));
  });

  // The same with a texted code, where SMS_CODE_MFA is on.
  router.post('/step-up/sms/options', async (req, res) => {
    assertSmsFactorOffered(deps);
    const principal = await stepUpCaller(deps, req);
    parseBody(emptyBody, req.body ?? {});
    await emailStepUpOptions(deps, contextOf(req), principal, 'sms');
    res.status(202).json(SMS_CODE_SENT);
  });

  router.post('/step-up/sms', async (req, res) => {
    assertSmsFactorOffered(deps);
    const principal = await stepUpCaller(deps, req);
    const { code } = parseBody(codeBody(smsFactorCode), req.body);
    await stepUpWithEmailCode(deps, contextOf(req), principal, code, 'sms');
    res.json(await freshSessionAnswer(deps, req));
  });
}
