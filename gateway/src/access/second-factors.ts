import type { Request } from 'express';
import type { Config } from '../config.js';
import type { AppDeps } from '../deps.js';
import { AppError } from '../http/errors.js';
import type { KratosClient } from '../kratos/client.js';
import type { KratosIdentity } from '../kratos/types.js';
import type { Principal } from '../session/principal.js';
import { checkAuth } from './require-auth.js';

/** A second factor an account can have: a gateway passkey, a Kratos TOTP app, Kratos backup codes. */
export type SecondFactor = 'passkey' | 'totp' | 'lookup_secret';

const KRATOS_FACTORS = ['totp', 'lookup_secret'] as const;

/** What an account has enrolled as second factors, in detail. */
export interface AccountFactors {
  /** Usable passkeys (not suspected of being cloned). */
  passkeyIds: string[];
  /** Factors Kratos keeps: `totp`, `lookup_secret`. */
  kratos: SecondFactor[];
}

/**
 * The one answer to "which second factors does this identity have": its usable passkeys
 * (any passkey not suspected of being cloned: password + passkey is aal2) and the TOTP app
 * and backup codes it enrolled at Kratos. Sign-in (what a session owes), step-up, passkey
 * and account settings, jars and the admin API all ask here. `identity` saves the Kratos
 * call when the caller holds a fresh admin view.
 */
export async function accountFactors(
  deps: Pick<AppDeps, 'db'> & { kratos: Pick<KratosClient, 'getIdentity'> },
  identityId: string,
  identity?: KratosIdentity,
): Promise<AccountFactors> {
  const [passkeys, kratosView] = await Promise.all([
    deps.db.query<{ id: string }>(
      'SELECT id FROM passkey_credentials WHERE identity_id = $1 AND NOT cloned_suspected',
      [identityId],
    ),
    identity ? Promise.resolve(identity) : deps.kratos.getIdentity(identityId),
  ]);
  return {
    passkeyIds: passkeys.rows.map((r) => r.id),
    kratos: KRATOS_FACTORS.filter((type) => kratosView?.credentialTypes.includes(type)),
  };
}

/** The kinds of second factor an identity has (empty: none). */
export async function secondFactorsOf(
  deps: Pick<AppDeps, 'db'> & { kratos: Pick<KratosClient, 'getIdentity'> },
  identityId: string,
  identity?: KratosIdentity,
): Promise<SecondFactor[]> {
  const factors = await accountFactors(deps, identityId, identity);
  return [...(factors.passkeyIds.length > 0 ? (['passkey'] as const) : []), ...factors.kratos];
}

/**
 * The factors the request's session can step up with: the account's passkeys (any
 * session) and, for sessions that hold a Kratos session, its TOTP app or backup codes;
 * never a factor this very session enrolled (it counts from the next sign-in). Looked up
 * only when a guard refuses, never on the happy path.
 */
export async function stepUpMethods(deps: AppDeps, req: Request): Promise<string[]> {
  const p = req.principal;
  if (!p) return [];
  const auth = p.source === 'gateway' ? req.session?.auth : undefined;
  const enrolledHere = new Set(auth?.enrolledHere ?? []);
  const factors = await accountFactors(deps, p.identityId);
  const methods: string[] = [];
  if (factors.passkeyIds.some((id) => !enrolledHere.has(`passkey:${id}`))) methods.push('passkey');
  if (auth?.kratosToken) for (const type of factors.kratos) if (!enrolledHere.has(type)) methods.push(type);
  return methods;
}

/** What a privileged check needs from the app's deps. */
export type PrivilegedDeps = Pick<AppDeps, 'db' | 'clock'> & {
  kratos: Pick<KratosClient, 'getIdentity'>;
  config: Pick<Config, 'PRIVILEGED_MAX_AGE_SECONDS'>;
};

/**
 * A privileged act (adding or removing a factor, changing the e-mail address or the
 * password, a jar's restriction or grants, every admin call): aal2 whenever the account
 * has a second factor, and a recent authentication. A session that still owes its second
 * factor is refused by `checkAuth` itself.
 */
export async function checkPrivileged(
  deps: PrivilegedDeps,
  req: Request,
  options: { allowIncomplete?: boolean } = {},
): Promise<Principal> {
  const now = deps.clock();
  const principal = await checkAuth(req, { allowIncomplete: options.allowIncomplete }, now);
  if (principal.aal !== 'aal2' && (await secondFactorsOf(deps, principal.identityId)).length > 0)
    await checkAuth(req, { aal: 'aal2', allowIncomplete: options.allowIncomplete }, now);
  return checkAuth(
    req,
    { allowIncomplete: options.allowIncomplete, maxAgeSeconds: deps.config.PRIVILEGED_MAX_AGE_SECONDS },
    now,
  );
}

/** Route guard form of `checkPrivileged`. */
export function requirePrivileged(deps: PrivilegedDeps) {
  return async (req: Request, _res: unknown, next: (err?: unknown) => void) => {
    try {
      await checkPrivileged(deps, req);
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Refuses a step-up with a factor this session enrolled itself. */
export function factorTooNew(): AppError {
  return new AppError(
    'factor_enrolled_in_this_session',
    403,
    'A factor added in this session counts from your next sign-in: sign out and sign in again.',
  );
}
