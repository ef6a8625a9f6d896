import { setTimeout as sleep } from 'node:timers/promises';
import { flowExpired, forgetFlow, pendingFlow, rememberFlow } from '../session/pending-flows.js';
import { recordRequestEvent } from '../audit/request-event.js';
import type { Config } from '../config.js';
import { AppError } from '../errors/app-error.js';
import type { PasskeyStore } from '../factors/passkey-store.js';
import { removePasskeysPlantedBeforeProof, type RemovedPasskey } from '../factors/planted-passkeys.js';
import { normalizeIdentifier } from '../identity/identifier.js';
import { KratosHttpError } from '../kratos/client.js';
import { startCodeLogin, submitLoginCode } from '../kratos/flows/code-login-flow.js';
import { assertNotLocked, recordPasswordFailure } from '../lockout/lockout.js';
import type { RequestContext } from '../session/request-context.js';
import { establishGatewaySession } from '../session/sessions.js';
import type { LoginDeps } from './password-login.js';

/** What sign-in by e-mailed code uses. */
export type CodeLoginDeps = LoginDeps & {
  config: Pick<Config, 'EMAIL_CODE_LOGIN'>;
  passkeys: Pick<PasskeyStore, 'removeUnverifiedEra'>;
};

/** The one answer of the first step, whatever the address. */
export const LOGIN_CODE_SENT = {
  status: 'code_sent',
  message: 'If the address belongs to an account, a code is on its way.',
} as const;

/**
 * The first step answers no sooner than this. Kratos stores a code and queues a mail for an
 * address with an account and does neither for another, which a stopwatch could tell apart;
 * both answers wait until the same moment instead.
 */
const CODE_REQUEST_FLOOR_MS = 250;

function assertEnabled(deps: Pick<CodeLoginDeps, 'config'>) {
  if (!deps.config.EMAIL_CODE_LOGIN)
    throw new AppError('method_disabled', 404, 'Sign-in by e-mailed code is not enabled here.');
}

export const invalidCode = () => new AppError('invalid_code', 400, 'The code is wrong or was used already.');
export const expired = () => new AppError('flow_expired', 410, 'This code has expired; ask for a new one.');

/**
 * Asks Kratos to e-mail a sign-in code (its `code` method, passwordless). The answer never
 * depends on whether the address has an account: Kratos' refusal of an unknown address is
 * taken like its "code sent", the flow is kept in this browser's pre-session either way, the
 * audit event names no identity, and the answer waits for the same floor.
 */
export async function requestLoginCode(
  deps: CodeLoginDeps,
  ctx: RequestContext,
  rawIdentifier: string,
): Promise<void> {
  assertEnabled(deps);
  const started = performance.now();
  const identifier = normalizeIdentifier(rawIdentifier);
  const flow = await startCodeLogin(deps.kratos, identifier);
  await rememberFlow(ctx.session, 'login_code', {
    id: flow.flowId,
    expiresAt: flow.expiresAt,
    address: identifier,
  });
  await recordRequestEvent(deps, ctx, 'login.code_requested', 'success');
  const left = CODE_REQUEST_FLOOR_MS - (performance.now() - started);
  if (left > 0) await sleep(left);
}

/**
 * Signs in with the e-mailed code: Kratos completes the flow this browser started and hands
 * over a session at aal1 (method `code`), which becomes a gateway session of kind `code`.
 * Afterwards it is exactly a password sign-in: the second factors the account has now are
 * recorded, so a session of an account with one owes it. A locked identifier is refused
 * (423) and a wrong code counts towards the lock, as a wrong password does. The code proved
 * the address (Kratos marks it verified): passkeys planted before it was proven go.
 */
export async function loginWithCode(
  deps: CodeLoginDeps,
  ctx: RequestContext,
  code: string,
): Promise<{ removedPasskeys: RemovedPasskey[] }> {
  assertEnabled(deps);
  const now = deps.clock().getTime();
  const flow = pendingFlow(ctx.session, 'login_code', now);
  if (!flow && flowExpired(ctx.session, 'login_code', now)) {
    await forgetFlow(ctx.session, 'login_code');
    await recordRequestEvent(deps, ctx, 'login.code', 'failure', undefined, { reason: 'expired' });
    throw expired();
  }
  if (!flow?.address) throw new AppError('code_login_not_started', 400, 'Ask for a sign-in code first.');
  const identifier = flow.address;
  await assertNotLocked(deps, ctx, identifier, 'code');
  let outcome;
  try {
    outcome = await submitLoginCode(deps.kratos, flow.id, identifier, code);
  } catch (err) {
    if (err instanceof KratosHttpError)
      await recordRequestEvent(deps, ctx, 'login.code', 'failure', undefined, { reason: 'rejected' });
    throw err;
  }
  if (outcome.status === 'expired') {
    await forgetFlow(ctx.session, 'login_code');
    await recordRequestEvent(deps, ctx, 'login.code', 'failure', undefined, { reason: 'expired' });
    throw expired();
  }
  if (outcome.status === 'invalid_code') {
    await recordRequestEvent(deps, ctx, 'login.code', 'failure', undefined, { reason: 'invalid_code' });
    await recordPasswordFailure(deps, ctx, identifier);
    throw invalidCode();
  }
  const { sessionToken, session } = await deps.kratos.signedIn(outcome.result);
  const identityId = session.identity.id;
  const removedPasskeys = await removePasskeysPlantedBeforeProof(deps, ctx, identityId, 'code_login');
  await establishGatewaySession(deps, ctx, {
    identityId,
    kind: 'code',
    kratosToken: sessionToken,
    kratosSessionId: session.id,
    methods: [],
  });
  await recordRequestEvent(deps, ctx, 'login.code', 'success', identityId, {
    method: 'code',
    ...(removedPasskeys.length > 0 && { removedPasskeys: removedPasskeys.map((p) => p.id) }),
  });
  return { removedPasskeys };
}
