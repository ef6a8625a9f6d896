import type { Request, Router } from 'express';
import { z } from 'zod';
import { checkPrivileged } from '../access/privileged.js';
import type { Guard } from '../access/require-auth.js';
import { notFound } from '../errors/app-error.js';
import { emptyBody, parseBody } from '../errors/parse-input.js';
import { auditRefusal } from '../factors/ceremony.js';
import { authenticationCredential, nickname, registrationCredential } from '../factors/credential-json.js';
import type { Principal } from '../session/principal.js';
import type { PrincipalDeps } from '../session/resolve-principal.js';
import { contextOf, freshSessionAnswer } from '../access/routes.js';
import type { PasskeyDeps } from './deps.js';
import { identify } from './identify.js';
import { loginOptions, loginOptionsFor, loginWithPasskey, withPasskeyOptions } from './login.js';
import { listPasskeys, removePasskey, renamePasskey } from './management.js';
import { registerPasskey, registrationOptions } from './registration.js';

export const identifyBody = z.object({ identifier: z.string().trim().min(3).max(320) }).strict();
export const loginOptionsBody = z
  .object({ identifier: z.string().trim().min(3).max(320).optional() })
  .strict();
export const assertionBody = z.object({ credential: authenticationCredential }).strict();
export const registrationBody = z
  .object({ credential: registrationCredential, nickname: nickname.optional() })
  .strict();
export const renameBody = z.object({ nickname }).strict();
const passkeyId = z.string().min(1).max(1366);

/** What the passkey routes use. */
type PasskeyRouteDeps = PasskeyDeps &
  PrincipalDeps & { guard: Guard; config: { PRIVILEGED_MAX_AGE_SECONDS: number } };

/** The `:id` of a passkey route; one that cannot be a credential id is simply not found. */
function idParam(req: Request): string {
  const id = passkeyId.safeParse(req.params.id);
  if (!id.success) throw notFound('Passkey');
  return id.data;
}

/**
 * Who may register a passkey: a passwordless sign-up that still needs its first one, or
 * a complete session whose sign-in is recent and, when the account has a second factor
 * already, at aal2 (a password alone cannot plant a key; nor can a stolen old session).
 */
async function registrant(deps: PasskeyRouteDeps, req: Request): Promise<Principal> {
  const principal = await deps.guard.check(req, { allowIncomplete: true });
  if (principal.passkeyEnrollmentRequired) return principal;
  return checkPrivileged(deps, req, { enrolment: true });
}

/**
 * POST /identify, /login/passkey/options, /login/passkey;
 * GET /passkeys, POST /passkeys/options, /passkeys, PATCH and DELETE /passkeys/:id.
 */
export function registerPasskeyRoutes(router: Router, deps: PasskeyRouteDeps) {
  router.post('/identify', async (req, res) => {
    const body = parseBody(identifyBody, req.body);
    res.json(await withPasskeyOptions(deps, contextOf(req), await identify(deps, body.identifier)));
  });

  router.post('/login/passkey/options', async (req, res) => {
    const { identifier } = parseBody(loginOptionsBody, req.body);
    const ctx = contextOf(req);
    res.json(identifier ? await loginOptionsFor(deps, ctx, identifier) : await loginOptions(deps, ctx));
  });

  router.post('/login/passkey', async (req, res) => {
    const ctx = contextOf(req);
    const identity = await auditRefusal(deps, ctx, 'login.passkey', () =>
      loginWithPasskey(deps, ctx, parseBody(assertionBody, req.body).credential),
    );
    res.json(await freshSessionAnswer(deps, req, identity));
  });

  router.get('/passkeys', async (req, res) => {
    const principal = await deps.guard.check(req, {});
    res.json({ passkeys: await listPasskeys(deps, principal.identityId) });
  });

  router.post('/passkeys/options', async (req, res) => {
    const principal = await registrant(deps, req);
    parseBody(emptyBody, req.body);
    res.json(await registrationOptions(deps, contextOf(req), principal));
  });

  router.post('/passkeys', async (req, res) => {
    const principal = await registrant(deps, req);
    const ctx = contextOf(req);
    await auditRefusal(deps, ctx, 'passkey.added', async () => {
      const body = parseBody(registrationBody, req.body);
      await registerPasskey(deps, ctx, principal, body);
    });
    res.status(201).json(await freshSessionAnswer(deps, req));
  });

  router.patch('/passkeys/:id', async (req, res) => {
    const principal = await deps.guard.check(req, {});
    const id = idParam(req);
    const body = parseBody(renameBody, req.body);
    res.json(await renamePasskey(deps, contextOf(req), principal, id, body.nickname));
  });

  const recentAal2 = deps.guard.require({
    aal: 'aal2',
    maxAgeSeconds: deps.config.PRIVILEGED_MAX_AGE_SECONDS,
  });
  router.delete('/passkeys/:id', recentAal2, async (req, res) => {
    const principal = await deps.guard.check(req, {});
    await removePasskey(deps, contextOf(req), principal, idParam(req));
    res.status(204).end();
  });
}
