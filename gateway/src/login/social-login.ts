import { createHash, timingSafeEqual } from 'node:crypto';
import { recordRequestEvent } from '../audit/request-event.js';
import type { Config } from '../config.js';
import { AppError } from '../errors/app-error.js';
import { secondFactorsOf } from '../factors/second-factors.js';
import { normalizeIdentifier } from '../identity/identifier.js';
import {
  duplicateAccountFlow,
  exchangeSocialSession,
  linkedSocialIdentifiers,
  socialProviders,
  startSocialLogin,
  unknownProvider,
  unlinkSocialIdentifier,
  type SocialProvider,
} from '../kratos/flows/social-flow.js';
import type { Principal } from '../session/principal.js';
import { flowExpired, forgetFlow, pendingFlow, rememberFlow } from '../session/pending-flows.js';
import type { RequestContext } from '../session/request-context.js';
import { establishGatewaySession } from '../session/sessions.js';
import { startCodeLogin, submitLoginCode } from '../kratos/flows/code-login-flow.js';
import { assertNotLocked, recordPasswordFailure } from '../lockout/lockout.js';
import { expired, invalidCode } from './code-login.js';
import { checkPasswordAtKratos, type LoginDeps } from './password-login.js';

/** What social sign-in uses. */
export type SocialLoginDeps = LoginDeps & { config: Pick<Config, 'PUBLIC_BASE_URL'> };

/** Where the browser lands after the provider and Kratos: the gateway's callback, with the flow's binding. */
const CALLBACK_PATH = '/api/auth/oidc/callback';

const callbackUrl = (deps: Pick<SocialLoginDeps, 'config'>, binding: string) =>
  `${new URL(CALLBACK_PATH, deps.config.PUBLIC_BASE_URL).href}?binding=${binding}`;

const digest = (value: string) => createHash('sha256').update(value).digest();
const sameSecret = (expected: string, given: string) => timingSafeEqual(digest(expected), digest(given));

/** The providers this deployment offers (those of kratos/social-sign-in.yml). */
export function listSocialProviders(
  deps: Pick<SocialLoginDeps, 'kratos' | 'clock'>,
): Promise<SocialProvider[]> {
  return socialProviders(deps.kratos, deps.clock().getTime());
}

async function providerNamed(deps: Pick<SocialLoginDeps, 'kratos' | 'clock'>, id: string) {
  const provider = (await listSocialProviders(deps)).find((p) => p.id === id);
  if (!provider) throw unknownProvider();
  return provider;
}

/**
 * Starts a social sign-in: a Kratos login flow whose return URL carries a fresh random binding,
 * remembered (with the init code) in this browser's pre-session. Answers where the browser goes.
 */
export async function startSocialSignIn(
  deps: SocialLoginDeps,
  ctx: RequestContext,
  providerId: string,
): Promise<string> {
  const provider = await providerNamed(deps, providerId);
  const binding = deps.random(24).toString('base64url');
  const flow = await startSocialLogin(deps.kratos, provider, callbackUrl(deps, binding));
  await forgetFlow(ctx.session, 'social_link');
  await rememberFlow(ctx.session, 'social', {
    id: flow.flowId,
    expiresAt: flow.expiresAt,
    initCode: flow.initCode,
    binding,
    provider: provider.id,
  });
  return flow.redirectTo;
}

/** How a social sign-in ended, for the app to show. */
export type SocialOutcome =
  | { status: 'signed_in' }
  | { status: 'account_exists'; provider: string }
  | { status: 'failed'; reason: 'expired' | 'refused' };

const notStarted = () =>
  new AppError('social_not_started', 400, 'This sign-in was not started in this browser. Start again.');

/**
 * The browser is back from the provider (through Kratos). The answer counts only with the
 * binding of the flow this browser started (else 400, nothing changes): a code is exchanged,
 * with the init code only the gateway holds, for Kratos' session, which becomes a gateway
 * session of kind `social` that owes the account's second factor like a password sign-in. A
 * flow instead of a code is Kratos refusing a sign-up whose address is an existing account's:
 * nobody is signed in, and the owner may link the provider by proving the account.
 */
export async function finishSocialSignIn(
  deps: SocialLoginDeps,
  ctx: RequestContext,
  query: { binding: string; code?: string | undefined; flow?: string | undefined },
): Promise<SocialOutcome> {
  const now = deps.clock().getTime();
  const flow = pendingFlow(ctx.session, 'social', now);
  if (!flow) {
    if (!flowExpired(ctx.session, 'social', now)) throw notStarted();
    await forgetFlow(ctx.session, 'social');
    await recordRequestEvent(deps, ctx, 'login.social', 'failure', undefined, { reason: 'expired' });
    return { status: 'failed', reason: 'expired' };
  }
  if (!flow.binding || !flow.initCode || !sameSecret(flow.binding, query.binding)) {
    await recordRequestEvent(deps, ctx, 'login.social', 'failure', undefined, { reason: 'binding_mismatch' });
    throw notStarted();
  }
  const provider = flow.provider ?? '';
  // Kratos answers an exchange again: the init code is forgotten before it is used.
  await forgetFlow(ctx.session, 'social');
  const result = query.code ? await exchangeSocialSession(deps.kratos, flow.initCode, query.code) : undefined;
  if (result) {
    const { sessionToken, session } = await deps.kratos.signedIn(result);
    const identityId = session.identity.id;
    await establishGatewaySession(deps, ctx, {
      identityId,
      kind: 'social',
      kratosToken: sessionToken,
      kratosSessionId: session.id,
      methods: [],
    });
    await recordRequestEvent(deps, ctx, 'login.social', 'success', identityId, { method: 'oidc', provider });
    return { status: 'signed_in' };
  }
  const duplicate =
    query.flow && !query.code
      ? await duplicateAccountFlow(deps.kratos, query.flow, callbackUrl(deps, query.binding))
      : undefined;
  if (duplicate && query.flow) {
    await rememberFlow(ctx.session, 'social_link', {
      id: query.flow,
      expiresAt: duplicate.expiresAt,
      address: duplicate.identifier,
      provider,
    });
    await recordRequestEvent(deps, ctx, 'login.social', 'failure', undefined, {
      provider,
      reason: 'account_exists',
    });
    return { status: 'account_exists', provider };
  }
  await recordRequestEvent(deps, ctx, 'login.social', 'failure', undefined, { provider, reason: 'refused' });
  return { status: 'failed', reason: 'refused' };
}

/** The refused social sign-in this browser may link, and whether its account has a second factor. */
async function linkTarget(deps: SocialLoginDeps, ctx: RequestContext, principal: Principal | undefined) {
  const flow = pendingFlow(ctx.session, 'social_link', deps.clock().getTime());
  if (!flow?.address)
    throw new AppError(
      'social_link_not_started',
      400,
      'There is no social sign-in to link here. Start again.',
    );
  const identifier = normalizeIdentifier(flow.address);
  const account = await deps.kratos.findIdentityByIdentifier(identifier);
  const hasSecondFactor = account ? (await secondFactorsOf(deps, account.id, account)).length > 0 : false;
  const provenHere =
    account !== undefined && principal?.identityId === account.id && principal.aal === 'aal2';
  if (hasSecondFactor && !provenHere)
    throw new AppError(
      'aal2_required',
      403,
      'This account has a second factor: sign in to it with both, then link the provider again.',
    );
  return { flow, identifier, provenHere };
}

/** Kratos completed the login on the kept flow and linked the provider: the session, and the audit. */
async function linked(
  deps: SocialLoginDeps,
  ctx: RequestContext,
  target: Awaited<ReturnType<typeof linkTarget>>,
  result: { sessionToken: string; session: { id: string; identity: { id: string } } },
  kind: 'password' | 'code',
): Promise<void> {
  await forgetFlow(ctx.session, 'social_link');
  const identityId = result.session.identity.id;
  if (target.provenHere) {
    // The session that passed the second factor stays; Kratos' new one is not needed.
    await deps.kratos.logoutToken(result.sessionToken);
  } else {
    await establishGatewaySession(deps, ctx, {
      identityId,
      kind,
      kratosToken: result.sessionToken,
      kratosSessionId: result.session.id,
      methods: [],
    });
  }
  await recordRequestEvent(deps, ctx, 'social.linked', 'success', identityId, {
    provider: target.flow.provider,
    proof: kind,
  });
}

/**
 * Links the provider of a refused social sign-in to the account whose address it asserted:
 * the owner proves the account on the flow Kratos kept, and Kratos links the provider account
 * as that login completes. The proof is the password (lock and wrong-password count as for any
 * password sign-in) or a code mailed to the address (for accounts without a password). An
 * account with a second factor is linked only from a session of that account that has passed
 * it, which stays as it is: one factor never adds a way in. Otherwise the link signs the owner in.
 */
export async function linkSocialWithPassword(
  deps: SocialLoginDeps,
  ctx: RequestContext,
  principal: Principal | undefined,
  password: string,
): Promise<void> {
  const target = await linkTarget(deps, ctx, principal);
  const result = await checkPasswordAtKratos(
    deps,
    ctx,
    { identifier: target.identifier, password },
    target.flow.id,
  );
  await linked(deps, ctx, target, result, 'password');
}

/** Mails a code for the link (Kratos' code method on the kept flow). */
export async function requestSocialLinkCode(
  deps: SocialLoginDeps,
  ctx: RequestContext,
  principal: Principal | undefined,
): Promise<void> {
  const target = await linkTarget(deps, ctx, principal);
  await assertNotLocked(deps, ctx, target.identifier, 'code');
  await startCodeLogin(deps.kratos, target.identifier, target.flow.id);
  await recordRequestEvent(deps, ctx, 'login.code_requested', 'success', undefined, {
    purpose: 'social_link',
  });
}

/** Links with the mailed code; wrong codes count towards the lock, as for a sign-in by code. */
export async function linkSocialWithCode(
  deps: SocialLoginDeps,
  ctx: RequestContext,
  principal: Principal | undefined,
  code: string,
): Promise<void> {
  const target = await linkTarget(deps, ctx, principal);
  await assertNotLocked(deps, ctx, target.identifier, 'code');
  const outcome = await submitLoginCode(deps.kratos, target.flow.id, target.identifier, code);
  if (outcome.status === 'expired') {
    await forgetFlow(ctx.session, 'social_link');
    throw expired();
  }
  if (outcome.status === 'invalid_code') {
    await recordRequestEvent(deps, ctx, 'login.code', 'failure', undefined, { reason: 'invalid_code' });
    await recordPasswordFailure(deps, ctx, target.identifier);
    throw invalidCode();
  }
  await linked(deps, ctx, target, await deps.kratos.signedIn(outcome.result), 'code');
}

/** The providers linked to the account, by provider id (each once). */
export async function linkedProviders(
  deps: Pick<SocialLoginDeps, 'kratos'>,
  identityId: string,
): Promise<string[]> {
  const identifiers = await linkedSocialIdentifiers(deps.kratos, identityId);
  return [...new Set(identifiers.map((id) => id.slice(0, id.indexOf(':'))))];
}

/**
 * Unlinks a provider from the account. Never the last way in: the account keeps a password, a
 * passkey or another provider.
 */
export async function unlinkProvider(
  deps: SocialLoginDeps,
  ctx: RequestContext,
  principal: Principal,
  providerId: string,
): Promise<void> {
  const identifiers = await linkedSocialIdentifiers(deps.kratos, principal.identityId);
  const ofProvider = identifiers.filter((id) => id.startsWith(`${providerId}:`));
  if (ofProvider.length === 0)
    throw new AppError('not_linked', 404, 'No account of this provider is linked.');
  const identity = await deps.kratos.getIdentity(principal.identityId);
  const hasPassword = identity?.credentialTypes.includes('password') ?? false;
  const hasPasskey = (await secondFactorsOf(deps, principal.identityId, identity)).includes('passkey');
  const otherProviders = identifiers.length - ofProvider.length;
  if (!hasPassword && !hasPasskey && otherProviders === 0)
    throw new AppError(
      'last_credential',
      409,
      'This provider is your only way to sign in. Add a passkey or a password first.',
    );
  for (const identifier of ofProvider)
    await unlinkSocialIdentifier(deps.kratos, principal.identityId, identifier);
  await recordRequestEvent(deps, ctx, 'social.unlinked', 'success', principal.identityId, {
    provider: providerId,
  });
}
