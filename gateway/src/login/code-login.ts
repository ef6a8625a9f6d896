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

/** What sign-in by e-mailed or texted code uses. */
export type CodeLoginDeps = LoginDeps & {
  config: Pick<Config, 'EMAIL_CODE_LOGIN' | 'SMS_CODE_LOGIN'>;
  passkeys: Pick<PasskeyStore, 'removeUnverifiedEra'>;
};

/** How a sign-in code travels: e-mailed to the address, or texted to the phone number (E.164). */
export type CodeChannel = 'email' | 'sms';

/** The one answer of the first step, whatever the address. */
export const LOGIN_CODE_SENT = {
  status: 'code_sent',
  message: 'If the address belongs to an account, a code is on its way.',
} as const;

/** The one answer of the first step by SMS, whatever the number. */
export const LOGIN_SMS_CODE_SENT = {
  status: 'code_sent',
  message: 'If the number belongs to an account, a code is on its way.',
} as const;

/** What differs between the two channels: the switch, the pending flow, the words. */
const CHANNELS = {
  email: {
    enabled: (config: CodeLoginDeps['config']) => config.EMAIL_CODE_LOGIN,
    flow: 'login_code',
    disabled: 'Sign-in by e-mailed code is not enabled here.',
  },
  sms: {
    enabled: (config: CodeLoginDeps['config']) => config.SMS_CODE_LOGIN,
    flow: 'login_sms_code',
    disabled: 'Sign-in by texted code is not enabled here.',
  },
} as const;

/**
 * The first step answers no sooner than this. Kratos stores a code and queues a mail for an
 * address with an account and does neither for another, which a stopwatch could tell apart;
 * both answers wait until the same moment instead.
 */
const CODE_REQUEST_FLOOR_MS = 250;

function assertEnabled(deps: Pick<CodeLoginDeps, 'config'>, channel: CodeChannel) {
  if (!CHANNELS[channel].enabled(deps.config))
    throw new AppError('method_disabled', 404, CHANNELS[channel].disabled);
}

/**
 * Whether Kratos may text a sign-in code to `phone`. Kratos sends one to any phone trait, proven
 * or not; a number nobody proved (a typo, or a number its owner never held) must not open the
 * account, so the gateway asks Kratos for a code only for a verified number.
 */
async function mayTextCode(deps: Pick<CodeLoginDeps, 'kratos'>, phone: string): Promise<boolean> {
  const identity = await deps.kratos.findIdentityByIdentifier(phone);
  return identity?.phone === phone && identity.phoneVerified === true;
}

export const invalidCode = () => new AppError('invalid_code', 400, 'The code is wrong or was used already.');
export const expired = () => new AppError('flow_expired', 410, 'This code has expired; ask for a new one.');

/**
 * Asks Kratos to e-mail or text a sign-in code (its `code` method, passwordless). The answer
 * never depends on whether the address or number has an account: Kratos' refusal of an unknown
 * one is taken like its "code sent", the flow is kept in this browser's pre-session either way,
 * the audit event names no identity, and the answer waits for the same floor. A number that is
 * not verified gets no code at all (see mayTextCode), and the same answer.
 */
export async function requestLoginCode(
  deps: CodeLoginDeps,
  ctx: RequestContext,
  rawIdentifier: string,
  channel: CodeChannel = 'email',
): Promise<void> {
  assertEnabled(deps, channel);
  const started = performance.now();
  try {
    const identifier = channel === 'email' ? normalizeIdentifier(rawIdentifier) : rawIdentifier.trim();
    const refused = channel === 'sms' && !(await mayTextCode(deps, identifier));
    const flow = await startCodeLogin(deps.kratos, refused ? undefined : identifier);
    await rememberFlow(ctx.session, CHANNELS[channel].flow, {
      id: flow.flowId,
      expiresAt: flow.expiresAt,
      address: identifier,
      ...(refused && { refused }),
    });
    await recordRequestEvent(deps, ctx, 'login.code_requested', 'success', undefined, { channel });
  } finally {
    // Also a failure of the identity service answers no sooner for one number than another.
    const left = CODE_REQUEST_FLOOR_MS - (performance.now() - started);
    if (left > 0) await sleep(left);
  }
}

/**
 * Signs in with the e-mailed (or texted) code: Kratos completes the flow this browser started
 * and hands over a session at aal1 (method `code`), which becomes a gateway session of kind
 * `code` (`sms_code` for a text).
 * Afterwards it is exactly a password sign-in: the second factors the account has now are
 * recorded, so a session of an account with one owes it. A locked identifier is refused
 * (423) and a wrong code counts towards the lock, as a wrong password does. An e-mailed code
 * proved the address (Kratos marks it verified): passkeys planted before it was proven go.
 */
export async function loginWithCode(
  deps: CodeLoginDeps,
  ctx: RequestContext,
  code: string,
  channel: CodeChannel = 'email',
): Promise<{ removedPasskeys: RemovedPasskey[] }> {
  assertEnabled(deps, channel);
  const name = CHANNELS[channel].flow;
  const now = deps.clock().getTime();
  const flow = pendingFlow(ctx.session, name, now);
  if (!flow && flowExpired(ctx.session, name, now)) {
    await forgetFlow(ctx.session, name);
    await recordRequestEvent(deps, ctx, 'login.code', 'failure', undefined, { reason: 'expired', channel });
    throw expired();
  }
  if (!flow?.address) throw new AppError('code_login_not_started', 400, 'Ask for a sign-in code first.');
  const identifier = flow.address;
  await assertNotLocked(deps, ctx, identifier, 'code');
  let outcome;
  try {
    // A flow for which no code was sent takes no code: wrong, as for a number without an account.
    outcome = flow.refused
      ? ({ status: 'invalid_code' } as const)
      : await submitLoginCode(deps.kratos, flow.id, identifier, code);
  } catch (err) {
    if (err instanceof KratosHttpError)
      await recordRequestEvent(deps, ctx, 'login.code', 'failure', undefined, {
        reason: 'rejected',
        channel,
      });
    throw err;
  }
  if (outcome.status === 'expired') {
    await forgetFlow(ctx.session, name);
    await recordRequestEvent(deps, ctx, 'login.code', 'failure', undefined, { reason: 'expired', channel });
    throw expired();
  }
  if (outcome.status === 'invalid_code') {
    await recordRequestEvent(deps, ctx, 'login.code', 'failure', undefined, {
      reason: 'invalid_code',
      channel,
    });
    await recordPasswordFailure(deps, ctx, identifier);
    throw invalidCode();
  }
  const { sessionToken, session } = await deps.kratos.signedIn(outcome.result);
  const identityId = session.identity.id;
  // An e-mailed code proved the address: passkeys planted before that go. A texted one proved
  // only the phone number, which says nothing of who planted them.
  const removedPasskeys =
    channel === 'email' ? await removePasskeysPlantedBeforeProof(deps, ctx, identityId, 'code_login') : [];
  await establishGatewaySession(deps, ctx, {
    identityId,
    kind: channel === 'sms' ? 'sms_code' : 'code',
    kratosToken: sessionToken,
    kratosSessionId: session.id,
    methods: [],
  });
  await recordRequestEvent(deps, ctx, 'login.code', 'success', identityId, {
    method: 'code',
    channel,
    ...(removedPasskeys.length > 0 && { removedPasskeys: removedPasskeys.map((p) => p.id) }),
  });
  return { removedPasskeys };
}
