import type { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { parseBody } from '../http/middleware.js';
import { withPasskeyOptions } from '../passkeys/login.js';
import { freshSessionAnswer } from '../session/routes.js';
import { identify } from './identify.js';
import { loginWithPassword } from './password-login.js';
import { confirmRegistration, REGISTRATION_STARTED, startRegistration } from './register.js';

const identifier = z.string().trim().min(3).max(320);
const email = z.string().trim().max(320).pipe(z.email());
export const MIN_PASSWORD_LENGTH = 12;
const password = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(1024);

export const identifyBody = z.object({ identifier }).strict();
export const loginBody = z.object({ identifier, password: z.string().min(1).max(1024) }).strict();
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

/** POST /identify, /register, /register/confirm, /login/password. */
export function registerLoginRoutes(router: Router, deps: AppDeps) {
  router.post('/identify', async (req, res) => {
    const body = parseBody(identifyBody, req.body);
    res.json(await withPasskeyOptions(deps, req, await identify(deps, body.identifier)));
  });

  // Verification-first sign-up: the first step answers the same for a free and a taken
  // address (the mail tells them apart, and only the address's holder reads it).
  router.post('/register', async (req, res) => {
    const body = parseBody(registerBody, req.body);
    await startRegistration(deps, req, body);
    res.status(202).json(REGISTRATION_STARTED);
  });

  router.post('/register/confirm', async (req, res) => {
    const body = parseBody(confirmBody, req.body);
    await confirmRegistration(deps, req, body);
    res.status(201).json(await freshSessionAnswer(deps, req));
  });

  router.post('/login/password', async (req, res) => {
    const body = parseBody(loginBody, req.body);
    await loginWithPassword(deps, req, body);
    res.json(await freshSessionAnswer(deps, req));
  });
}
