import { AppError } from '../errors/app-error.js';
import { accountFactors, type FactorDeps } from '../factors/second-factors.js';
import type { Principal } from '../session/principal.js';
import type { GatewayAuth } from '../session/session-data.js';
import { signedInByInbox } from '../session/sessions.js';

/**
 * The factors a session can step up with: the account's passkeys (any session) and, for
 * sessions that hold a Kratos session, its TOTP app or backup codes, and for gateway sessions
 * that did not sign in by an e-mailed code, e-mailed codes if the owner turned them on; never
 * a factor this very session enrolled (it counts from the next sign-in). Looked up only when a guard
 * refuses, never on the happy path.
 */
export async function stepUpMethods(
  deps: FactorDeps,
  principal: Principal | undefined,
  auth: GatewayAuth | undefined,
): Promise<string[]> {
  if (!principal) return [];
  const held = principal.source === 'gateway' ? auth : undefined;
  const enrolledHere = new Set(held?.enrolledHere ?? []);
  const factors = await accountFactors(deps, principal.identityId);
  const methods: string[] = [];
  if (factors.passkeyIds.some((id) => !enrolledHere.has(`passkey:${id}`))) methods.push('passkey');
  if (held?.kratosToken) for (const type of factors.kratos) if (!enrolledHere.has(type)) methods.push(type);
  if (held && factors.emailAddress && !signedInByInbox(held.kind) && !enrolledHere.has('email'))
    methods.push('email');
  if (held && factors.phoneNumber && !signedInByInbox(held.kind) && !enrolledHere.has('sms'))
    methods.push('sms');
  return methods;
}

/** Refuses a step-up with a factor this session enrolled itself. */
export function factorTooNew(): AppError {
  return new AppError(
    'factor_enrolled_in_this_session',
    403,
    'A factor added in this session counts from your next sign-in: sign out and sign in again.',
  );
}
