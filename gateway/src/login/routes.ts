import type { Response, Router } from 'express';
import { z } from 'zod';
import { emptyBody, parseBody } from '../errors/parse-input.js';
import { newPassword } from '../identity/password.js';
import { phoneNumber } from '../identity/phone.js';
import type { PrincipalDeps } from '../session/resolve-principal.js';
import { contextOf, freshSessionAnswer } from '../access/routes.js';
import type { Guard } from '../access/require-auth.js';
import type { Config } from '../config.js';
import {
  loginWithCode,
  LOGIN_CODE_SENT,
  LOGIN_SMS_CODE_SENT,
  requestLoginCode,
  type CodeLoginDeps,
} from './code-login.js';
import { loginWithPassword, type LoginDeps } from './password-login.js';
import {
  finishSocialSignIn,
  linkedProviders,
  linkSocialWithCode,
  linkSocialWithPassword,
  listSocialProviders,
  requestSocialLinkCode,
  startSocialSignIn,
  unlinkProvider,
  type SocialLoginDeps,
  type SocialOutcome,
} from './social-login.js';
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

const providerId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be a provider id (lower-case letters, digits, - and _)');
const opaque = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[\w.~-]+$/, 'must be the value the sign-in sent');

export const socialProviderParams = z.object({ provider: providerId }).strict();
// Not strict: what else Kratos adds to its redirect (`no_org_ui`, …) is ignored.
export const socialCallbackQuery = z.object({
  binding: opaque,
  code: opaque.optional(),
  flow: z.uuid().optional(),
});
export const socialLinkBody = z.object({ password: z.string().min(1).max(1024) }).strict();

/** A 303 with no body: the browser follows it; nothing else reads it. */
const seeOther = (res: Response, url: string) => res.status(303).location(url).end();

/** Where the app shows how a social sign-in ended (the app's own URL, read by the React app). */
function landing(outcome: SocialOutcome): string {
  if (outcome.status === 'signed_in') return '/';
  const query = new URLSearchParams({ social: outcome.status });
  if (outcome.status === 'account_exists') query.set('provider', outcome.provider);
  else query.set('reason', outcome.reason);
  return `/?${query.toString()}`;
}

/**
 * Social sign-in (Kratos' oidc method, providers from kratos/social-sign-in.yml):
 * GET /social-providers, GET /oidc/:provider (to the provider), GET /oidc/callback (back),
 * POST /social-links (link a refused sign-in's provider), GET /social-links, DELETE /social-links/:provider.
 */
export function registerSocialRoutes(
  router: Router,
  deps: SocialLoginDeps &
    PrincipalDeps & { guard: Guard; config: Pick<Config, 'PRIVILEGED_MAX_AGE_SECONDS'> },
) {
  router.get('/social-providers', async (_req, res) => {
    res.json({ providers: await listSocialProviders(deps) });
  });

  // Before /oidc/:provider: `callback` is no provider id.
  router.get('/oidc/callback', async (req, res) => {
    const query = parseBody(socialCallbackQuery, req.query);
    const outcome = await finishSocialSignIn(deps, contextOf(req), query);
    seeOther(res, landing(outcome));
  });

  router.get('/oidc/:provider', async (req, res) => {
    const { provider } = parseBody(socialProviderParams, req.params);
    seeOther(res, await startSocialSignIn(deps, contextOf(req), provider));
  });

  router.post('/social-links', async (req, res) => {
    const { password } = parseBody(socialLinkBody, req.body);
    await linkSocialWithPassword(deps, contextOf(req), req.principal, password);
    res.json(await freshSessionAnswer(deps, req));
  });

  router.post('/social-links/code', async (req, res) => {
    parseBody(emptyBody, req.body);
    await requestSocialLinkCode(deps, contextOf(req), req.principal);
    res.status(202).json(LOGIN_CODE_SENT);
  });

  router.post('/social-links/code/verify', async (req, res) => {
    const { code } = parseBody(loginCodeBody, req.body);
    await linkSocialWithCode(deps, contextOf(req), req.principal, code);
    res.json(await freshSessionAnswer(deps, req));
  });

  router.get('/social-links', deps.guard.require(), async (req, res) => {
    const principal = await deps.guard.check(req, {});
    res.json({ providers: await linkedProviders(deps, principal.identityId) });
  });

  router.delete(
    '/social-links/:provider',
    deps.guard.require({ maxAgeSeconds: deps.config.PRIVILEGED_MAX_AGE_SECONDS }),
    async (req, res) => {
      const principal = await deps.guard.check(req, {});
      const { provider } = parseBody(socialProviderParams, req.params);
      await unlinkProvider(deps, contextOf(req), principal, provider);
      res.status(204).end();
    },
  );
}
