import type { Router } from 'express';
import { z } from 'zod';
import { parseBody } from '../errors/parse-input.js';
import { newPassword } from '../identity/password.js';
import { phoneNumber } from '../identity/phone.js';
import type { PrincipalDeps } from '../session/resolve-principal.js';
import { contextOf, freshSessionAnswer } from '../access/routes.js';
import type { Guard } from '../access/require-auth.js';
import {
  loginWithCode,
  LOGIN_CODE_SENT,
  LOGIN_SMS_CODE_SENT,
  requestLoginCode,
  type CodeLoginDeps,
} from './code-login.js';
import { loginWithPassword, type LoginDeps } from './password-login.js';
import {
  confirmRegistration,
  REGISTRATION_STARTED,
  startRegistration,
  type RegistrationDeps,
} from './register.js';

const identifier = z.string().trim().min(3).max(320);
const email = z.string().trim().max(320).pipe(z.email());
const password = newPassword;

export const loginBody = z.object({ identifier, password: z.string().min(1).max(1024) }).strict();
export const loginCodeRequestBody = z.object({ identifier: email }).strict();
export const loginCodeBody = z
  .object({
    code: z
      .string()
      .trim()
      .regex(/^\d{4,12}$/, 'must be the code from the e-mail'),
  })
  .strict();
export const loginSmsCodeRequestBody = z.object({ phone: phoneNumber }).strict();
export const loginSmsCodeBody = z
  .object({
    code: z
      .string()
      .trim()
      .regex(/^\d{4,12}$/, 'must be the code from the text message'),
  })
  .strict();
export const registerBody = z
  .object({
    email,
    password: password.optional(),
    traits: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export const confirmBody = z
  .object({
    email,
    code: z
      .string()
      .trim()
      .regex(/^\d{6}$/, 'must be the six-digit code from the e-mail'),
    password: password.optional(),
  })
  .strict();

/** POST /register, /register/confirm, /login/password, /login/code(/verify), /login/sms(/verify). */
export function registerLoginRoutes(
  router: Router,
  deps: LoginDeps & CodeLoginDeps & RegistrationDeps & PrincipalDeps & { guard: Guard },
) {
  // Verification-first sign-up: the first step answers the same for a free and a taken
  // address (the mail tells them apart, and only the address's holder reads it).
  router.post('/register', async (req, res) => {
    const body = parseBody(registerBody, req.body);
    await startRegistration(deps, contextOf(req), body);
    res.status(202).json(REGISTRATION_STARTED);
  });

  router.post('/register/confirm', async (req, res) => {
    const body = parseBody(confirmBody, req.body);
    await confirmRegistration(deps, contextOf(req), body);
    res.status(201).json(await freshSessionAnswer(deps, req));
  });

  router.post('/login/password', async (req, res) => {
    const body = parseBody(loginBody, req.body);
    await loginWithPassword(deps, contextOf(req), body);
    res.json(await freshSessionAnswer(deps, req));
  });

  // Sign-in by e-mailed code: the first step answers alike for every address.
  router.post('/login/code', async (req, res) => {
    const { identifier } = parseBody(loginCodeRequestBody, req.body);
    await requestLoginCode(deps, contextOf(req), identifier);
    res.status(202).json(LOGIN_CODE_SENT);
  });

  router.post('/login/code/verify', async (req, res) => {
    const { code } = parseBody(loginCodeBody, req.body);
    const { removedPasskeys } = await loginWithCode(deps, contextOf(req), code);
    res.json({ ...(await freshSessionAnswer(deps, req)), removedPasskeys });
  });

  // Sign-in by texted code (SMS_CODE_LOGIN): the first step answers alike for every number.
  router.post('/login/sms', async (req, res) => {
    const { phone } = parseBody(loginSmsCodeRequestBody, req.body);
    await requestLoginCode(deps, contextOf(req), phone, 'sms');
    res.status(202).json(LOGIN_SMS_CODE_SENT);
  });

  router.post('/login/sms/verify', async (req, res) => {
    const { code } = parseBody(loginSmsCodeBody, req.body);
    await loginWithCode(deps, contextOf(req), code, 'sms');
    res.json({ ...(await freshSessionAnswer(deps, req)), removedPasskeys: [] });
  });
}
