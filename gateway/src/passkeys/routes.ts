import type { Request, Router } from 'express';
import { z } from 'zod';
import { checkAuth, requireAuth } from '../access/require-auth.js';
import { checkPrivileged } from '../access/second-factors.js';
import type { AppDeps } from '../deps.js';
import { AppError, notFound } from '../http/errors.js';
import { parseBody } from '../http/middleware.js';
import type { Principal } from '../session/principal.js';
import { freshSessionAnswer } from '../session/routes.js';
import { auditCeremony } from './context.js';
import { authenticationCredential, nickname, registrationCredential } from './credential-json.js';
import { loginOptions, loginOptionsFor, loginWithPasskey } from './login.js';
import { listPasskeys, removePasskey, renamePasskey } from './management.js';
import { registerPasskey, registrationOptions } from './registration.js';
import { stepUpOptions, stepUpWithPasskey } from './step-up.js';

export const loginOptionsBody = z
  .object({ identifier: z.string().trim().min(3).max(320).optional() })
  .strict();
export const assertionBody = z.object({ credential: authenticationCredential }).strict();
export const registrationBody = z
  .object({ credential: registrationCredential, nickname: nickname.optional() })
  .strict();
export const renameBody = z.object({ nickname }).strict();
export const emptyBody = z.object({}).strict();
const passkeyId = z.string().min(1).max(1366);

/** The `:id` of a passkey route; one that cannot be a credential id is simply not found. */
function idParam(req: Request): string {
  const id = passkeyId.safeParse(req.params.id);
  if (!id.success) throw notFound('Passkey');
  return id.data;
}

/** Records a refused ceremony (any 4xx) before the refusal is answered. */
async function auditFailure<T>(deps: AppDeps, req: Request, type: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      await auditCeremony(deps, req, {
        type,
        outcome: 'failure',
        identityId: req.principal?.identityId,
        details: { reason: err.code },
      });
    }
    throw err;
  }
}

/**
 * Who may register a passkey: a passwordless sign-up that still needs its first one, or
 * a complete session whose sign-in is recent and, when the account has a second factor
 * already, at aal2 (a password alone cannot plant a key; nor can a stolen old session).
 */
async function registrant(deps: AppDeps, req: Request): Promise<Principal> {
  const principal = await checkAuth(req, { allowIncomplete: true }, deps.clock());
  if (principal.passkeyEnrollmentRequired) return principal;
  return checkPrivileged(deps, req);
}

/** Sessions that still owe a second factor may step up: that is how they pay it. */
const stepUpCaller = (deps: AppDeps, req: Request) => checkAuth(req, { allowIncomplete: true }, deps.clock());

/**
 * POST /login/passkey/options, /login/passkey, /step-up/options, /step-up;
 * GET /passkeys, POST /passkeys/options, /passkeys, PATCH and DELETE /passkeys/:id.
 */
export function registerPasskeyRoutes(router: Router, deps: AppDeps) {
  router.post('/login/passkey/options', async (req, res) => {
    const { identifier } = parseBody(loginOptionsBody, req.body);
    res.json(identifier ? await loginOptionsFor(deps, req, identifier) : await loginOptions(deps, req));
  });

  router.post('/login/passkey', async (req, res) => {
    await auditFailure(deps, req, 'login.passkey', async () => {
      const { credential } = parseBody(assertionBody, req.body);
      await loginWithPasskey(deps, req, credential);
    });
    res.json(await freshSessionAnswer(deps, req));
  });

  router.post('/step-up/options', async (req, res) => {
    const principal = await stepUpCaller(deps, req);
    parseBody(emptyBody, req.body);
    res.json(await stepUpOptions(deps, req, principal));
  });

  router.post('/step-up', async (req, res) => {
    const principal = await stepUpCaller(deps, req);
    await auditFailure(deps, req, 'step_up.passkey', async () => {
      const { credential } = parseBody(assertionBody, req.body);
      await stepUpWithPasskey(deps, req, principal, credential);
    });
    res.json(await freshSessionAnswer(deps, req));
  });

  router.get('/passkeys', requireAuth({}, deps.clock), async (req, res) => {
    res.json({ passkeys: await listPasskeys(deps, req.principal!.identityId) });
  });

  router.post('/passkeys/options', async (req, res) => {
    const principal = await registrant(deps, req);
    parseBody(emptyBody, req.body);
    res.json(await registrationOptions(deps, req, principal));
  });

  router.post('/passkeys', async (req, res) => {
    const principal = await registrant(deps, req);
    await auditFailure(deps, req, 'passkey.added', async () => {
      const body = parseBody(registrationBody, req.body);
      await registerPasskey(deps, req, principal, body);
    });
    res.status(201).json(await freshSessionAnswer(deps, req));
  });

  router.patch('/passkeys/:id', requireAuth({}, deps.clock), async (req, res) => {
    const id = idParam(req);
    const body = parseBody(renameBody, req.body);
    res.json(await renamePasskey(deps, req, req.principal!, id, body.nickname));
  });

  router.delete(
    '/passkeys/:id',
    requireAuth({ aal: 'aal2', maxAgeSeconds: deps.config.PRIVILEGED_MAX_AGE_SECONDS }, deps.clock),
    async (req, res) => {
      await removePasskey(deps, req, req.principal!, idParam(req));
      res.status(204).end();
    },
  );
}
