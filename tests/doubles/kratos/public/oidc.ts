import { randomUUID } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import type { DoubleContext } from '../context.js';
import { errors, KratosError } from '../errors.js';
import { createFlow, flowJson } from '../flows.js';
import { checkReturnTo, configuredUrl, seeOther, setSessionCookie, str, uiUrl, wantsJson } from '../http.js';
import { buildIdentity, identifiersTaken } from '../identities.js';
import {
  discover,
  exchangeCode,
  findProvider,
  initCodeMatches,
  mapClaims,
  oidcCredentialConfig,
  oidcIdentifier,
  openState,
  pkceVerifier,
  sealState,
  sha512,
  supportsPkce,
  withQuery,
  authorizationUrl,
  type Claims,
  type OidcProviderConfig,
  type OidcState,
  type ProviderTokens,
} from '../oidc.js';
import { secretEquals } from '../lookup.js';
import { issueSession, readCookie, sessionFromRequest, sessionJson } from '../sessions.js';
import {
  randomString,
  type LinkingCredential,
  type StoredFlow,
  type StoredIdentity,
  type StoredSession,
} from '../state.js';
import { texts } from '../ui.js';
import { FlowInterrupted, runWebHook } from '../webhooks.js';

/** Kratos' continuity cookie, which binds a browser to the oidc flow it started. */
const CONTINUITY_COOKIE = 'ory_kratos_continuity';

/** Whether a login submission is the oidc method's (Kratos' oidc strategy takes it when a provider is named). */
export function isOidcSubmission(ctx: DoubleContext, body: Record<string, unknown>): boolean {
  if (ctx.oidcProviders.length === 0 || !str(body.provider)) return false;
  const method = str(body.method) ?? '';
  return method === '' || method.toLowerCase() === 'oidc';
}

/**
 * The oidc method on a login or registration flow (the oidc strategy's Login and Register): seals
 * the flow id, provider, PKCE verifier and the init code's hash into `state`, and sends the
 * browser to the provider: 422 `browser_location_change_required` for JSON clients, 303
 * otherwise.
 */
export async function submitOidc(
  ctx: DoubleContext,
  req: Request,
  res: Response,
  flow: StoredFlow,
  body: Record<string, unknown>,
): Promise<void> {
  const provider = findProvider(ctx, str(body.provider) ?? '');
  if (alreadySignedIn(ctx, req, res, flow)) return;
  const discovery = await discover(provider);
  const verifier = supportsPkce(discovery) ? pkceVerifier() : '';
  const state = sealState(ctx, {
    flowId: flow.id,
    provider: provider.id,
    pkceVerifier: verifier,
    initCodeHash: sha512(flow.exchange?.initCode ?? randomUUID()),
  });
  const continuity = randomString(32);
  flow.oidc = { provider: provider.id, state, continuity };
  flow.active = 'oidc';
  res.cookie(CONTINUITY_COOKIE, continuity, { httpOnly: true, path: '/', sameSite: 'lax' });
  const location = authorizationUrl(ctx, provider, discovery, state, verifier, flow.refresh === true);
  if (isJsonRequest(req)) throw errors.browserLocationChangeRequired(location);
  seeOther(res, location);
}

const isJsonRequest = (req: Request): boolean => wantsJson(req) || Boolean(req.is('application/json'));

/**
 * A browser that already has a Kratos session is sent to the return URL; an API flow's
 * exchange then hands out that session (Kratos' alreadyAuthenticated).
 */
function alreadySignedIn(ctx: DoubleContext, req: Request, res: Response, flow: StoredFlow): boolean {
  const session = sessionFromRequest(ctx, req);
  if (!session || flow.refresh) return false;
  if (flow.exchange) flow.exchange.sessionId = session.id;
  seeOther(res, returnToOf(ctx, flow));
  return true;
}

/** The flow's return_to, else `default_browser_return_url`. */
function returnToOf(ctx: DoubleContext, flow: StoredFlow): string {
  if (flow.returnTo) return checkReturnTo(ctx, flow.returnTo).href;
  return configuredUrl(ctx, ctx.config.defaultReturnUrl) ?? `${ctx.publicBaseUrl}/`;
}

const loginUiUrl = (ctx: DoubleContext): string =>
  configuredUrl(ctx, ctx.config.uiUrls.login) ?? uiUrl(ctx, 'login');

/** The provider callback, the session-token exchange and the error page. */
export function registerOidcRoutes(router: Router, ctx: DoubleContext): void {
  const callback = async (req: Request, res: Response) => {
    await handleCallback(ctx, req, res);
  };
  router.get('/self-service/methods/oidc/callback/:provider', callback);
  router.get('/self-service/methods/oidc/callback', callback);

  router.get('/sessions/token-exchange', (req, res) => {
    const initCode = str(req.query.init_code) ?? '';
    const returnToCode = str(req.query.return_to_code) ?? '';
    if (!initCode || !returnToCode)
      throw errors.badRequest('"init_code" and "return_to_code" query params must be set');
    // Kratos answers the same pair again for as long as the exchange exists.
    const exchange = [...ctx.state.flows.values()]
      .map((f) => f.exchange)
      .find(
        (e) =>
          e?.sessionId && secretEquals(e.initCode, initCode) && secretEquals(e.returnToCode, returnToCode),
      );
    const session = exchange?.sessionId ? ctx.state.sessions.get(exchange.sessionId) : undefined;
    if (!session) throw errors.resourceNotFound('no session yet for this "code"');
    res.status(200).json({
      session_token: session.token,
      session: sessionJson(ctx, session, { includeIdentity: true, includeDevices: false }),
    });
  });

  router.get('/self-service/errors', (req, res) => {
    const id = str(req.query.id) ?? '';
    const stored = ctx.selfServiceErrors.get(id);
    if (!stored) throw errors.notFound();
    res.status(200).json({
      id,
      error: stored.error,
      created_at: new Date(stored.createdAt).toISOString(),
      updated_at: new Date(stored.createdAt).toISOString(),
    });
  });
}

/** An error before the flow is known goes to the error page (selfservice/errorx Forward). */
function forwardToErrorPage(ctx: DoubleContext, req: Request, res: Response, error: KratosError): void {
  if (wantsJson(req)) {
    res.status(error.status).json(error.body);
    return;
  }
  const id = randomUUID();
  ctx.selfServiceErrors.set(id, { error: error.body.error as Record<string, unknown>, createdAt: ctx.now() });
  const page = configuredUrl(ctx, ctx.config.uiUrls.error) ?? uiUrl(ctx, 'error');
  seeOther(res, withQuery(page, { id }));
}

/** An error on a known flow: API flows answer it as JSON, browser flows show the error page. */
function flowError(ctx: DoubleContext, req: Request, res: Response, flow: StoredFlow, error: unknown): void {
  // Anything else is a fault of the double itself, for the error handler to log and answer.
  if (!(error instanceof KratosError)) throw error;
  const kratos = error;
  if (flow.type === 'api') {
    res.status(kratos.status).json(kratos.body);
    return;
  }
  forwardToErrorPage(ctx, req, res, kratos);
}

const badRequest = (reason: string) => errors.badRequest(reason);

/** Kratos' ValidateCallback, then the code exchange and the sign-in or sign-up. */
async function handleCallback(ctx: DoubleContext, req: Request, res: Response): Promise<void> {
  const stateParam = str(req.query.state) ?? '';
  if (!stateParam) {
    return forwardToErrorPage(
      ctx,
      req,
      res,
      badRequest(
        'Unable to complete OpenID Connect flow because the OpenID Provider did not return the state query parameter.',
      ),
    );
  }
  const state = openState(ctx, stateParam);
  if (!state) {
    return forwardToErrorPage(
      ctx,
      req,
      res,
      badRequest('Unable to complete OpenID Connect flow because the state parameter is invalid.'),
    );
  }
  const fromUrl = req.params.provider;
  if (fromUrl && fromUrl !== state.provider) {
    return forwardToErrorPage(
      ctx,
      req,
      res,
      badRequest('Unable to complete OpenID Connect flow: provider mismatch between internal state and URL.'),
    );
  }
  const flow = ctx.state.flows.get(state.flowId);
  if (!flow || (flow.kind !== 'login' && flow.kind !== 'registration')) {
    return forwardToErrorPage(ctx, req, res, errors.notFound());
  }
  try {
    if (flow.expiresAt <= ctx.now()) throw errors.flowExpired(flow.expiresAt, ctx.now());
    checkBinding(ctx, req, flow, state, stateParam);
    const providerError = str(req.query.error);
    if (providerError) {
      throw badRequest(
        `Unable to complete OpenID Connect flow because the OpenID Provider returned error "${providerError}": ${str(req.query.error_description) ?? ''}`,
      );
    }
    const code = str(req.query.code) ?? str(req.query.authCode) ?? '';
    if (!code) {
      throw badRequest(
        'Unable to complete OpenID Connect flow because the OpenID Provider did not return the code query parameter.',
      );
    }
    if (alreadySignedIn(ctx, req, res, flow)) return;
    const provider = findProvider(ctx, state.provider);
    const { claims, tokens } = await exchangeCode(ctx, provider, code, state.pkceVerifier);
    flow.active = 'oidc';
    await signInOrUp(ctx, req, res, flow, provider, claims, tokens);
  } catch (error) {
    if (res.headersSent) throw error;
    flowError(ctx, req, res, flow, error);
  }
}

/**
 * The state must belong to this flow: an API flow with an exchange code proves it by the init
 * code's hash, every other flow by the continuity cookie of the browser that submitted it.
 */
function checkBinding(
  ctx: DoubleContext,
  req: Request,
  flow: StoredFlow,
  state: OidcState,
  stateParam: string,
): void {
  if (flow.type === 'api' && flow.exchange) {
    if (!initCodeMatches(state, flow.exchange.initCode)) {
      throw badRequest(
        'Unable to complete OpenID Connect flow because the query state parameter does not match the state parameter from the code.',
      );
    }
    return;
  }
  const cookie = readCookie(req.get('cookie'), CONTINUITY_COOKIE);
  if (!cookie || !flow.oidc || !secretEquals(cookie, flow.oidc.continuity)) {
    throw badRequest(
      "The browser does not contain the necessary cookie to resume the session. This is a security violation and was blocked. Please clear your browser's cookies and cache and try again.",
    );
  }
  if (!secretEquals(stateParam, flow.oidc.state)) {
    throw badRequest(
      'Unable to complete OpenID Connect flow because the query state parameter does not match the state parameter from the session cookie.',
    );
  }
}

/** The identity holding exactly this oidc identifier. */
function findByOidcIdentifier(ctx: DoubleContext, identifier: string): StoredIdentity | undefined {
  return [...ctx.state.identities.values()].find((i) => i.credentials.oidc?.identifiers.includes(identifier));
}

/**
 * A known provider account signs in (processLogin); an unknown one signs up through a new
 * registration flow (processRegistration), unless its e-mail is already an account's.
 */
async function signInOrUp(
  ctx: DoubleContext,
  req: Request,
  res: Response,
  flow: StoredFlow,
  provider: OidcProviderConfig,
  claims: Claims,
  tokens: ProviderTokens,
): Promise<void> {
  const existing = findByOidcIdentifier(ctx, oidcIdentifier(provider.id, claims.sub));
  if (existing) {
    // A registration flow carries on as a login flow (registrationToLogin), its exchange with it.
    const login =
      flow.kind === 'login'
        ? flow
        : carryOn(ctx, req, flow, 'login', { requestedAal: 'aal1', active: 'oidc' });
    if (existing.state !== 'active') throw errors.identityDisabled(existing.id);
    const session = issueSession(ctx, existing, 'oidc', req, provider.id);
    await runWebHook(ctx, 'login', login, existing, session);
    finish(ctx, req, res, login, session);
    return;
  }
  // A login flow carries on as a registration flow (processLogin), its exchange with it.
  const registration = flow.kind === 'registration' ? flow : carryOn(ctx, req, flow, 'registration', {});
  await signUp(ctx, req, res, registration, provider, claims, tokens);
}

/**
 * The flow Kratos makes to carry on a social sign-in of the other kind: same type and
 * return_to, the callback URL with the return_to taken over as its request URL, and the
 * session-token exchange moved to it (MoveToNewFlow).
 */
function carryOn(
  ctx: DoubleContext,
  req: Request,
  from: StoredFlow,
  kind: 'login' | 'registration',
  extra: Partial<StoredFlow>,
): StoredFlow {
  const next = createFlow(
    ctx,
    kind,
    from.type,
    { path: '', returnTo: from.returnTo },
    { requestUrl: takeOverReturnTo(ctx, req, from), active: 'oidc', exchange: from.exchange, ...extra },
  );
  from.exchange = undefined;
  return next;
}

/** Where the sign-in or sign-up ends: the code for the exchange, the session itself, or a cookie. */
function finish(
  ctx: DoubleContext,
  req: Request,
  res: Response,
  flow: StoredFlow,
  session: StoredSession,
): void {
  const returnTo = returnToOf(ctx, flow);
  if (flow.type === 'api' && flow.exchange) {
    flow.exchange.sessionId = session.id;
    seeOther(res, withQuery(returnTo, { code: flow.exchange.returnToCode }));
    return;
  }
  if (flow.type === 'api') {
    res.status(200).json({
      session: sessionJson(ctx, session),
      session_token: session.token,
      continue_with: [],
    });
    return;
  }
  session.cookie ??= randomString(64);
  setSessionCookie(res, session);
  if (wantsJson(req)) {
    res.status(200).json({ session: sessionJson(ctx, session), continue_with: [] });
    return;
  }
  seeOther(res, returnTo);
}

/** The callback URL with the login flow's return_to carried over (x.TakeOverReturnToParameter). */
function takeOverReturnTo(ctx: DoubleContext, req: Request, from: StoredFlow): string {
  const callbackUrl = `${ctx.publicUrl}${req.originalUrl}`;
  const returnTo = new URL(from.requestUrl).searchParams.get('return_to');
  return returnTo ? withQuery(callbackUrl, { return_to: returnTo }) : callbackUrl;
}

async function signUp(
  ctx: DoubleContext,
  req: Request,
  res: Response,
  registration: StoredFlow,
  provider: OidcProviderConfig,
  claims: Claims,
  tokens: ProviderTokens,
): Promise<void> {
  const mapped = mapClaims(claims);
  const problems = ctx.schema.check(mapped.traits);
  if (problems.length > 0) {
    for (const problem of problems) {
      registration.nodeMessages[problem.node] = [
        ...(registration.nodeMessages[problem.node] ?? []),
        problem.message,
      ];
    }
    return registrationFailed(ctx, req, res, registration);
  }
  const identity = buildIdentity(ctx, { traits: mapped.traits });
  const now = ctx.now();
  for (const address of identity.verifiableAddresses) {
    if (!mapped.verifiedAddresses.some((v) => v.value === address.value)) continue;
    Object.assign(address, {
      verified: true,
      status: 'completed',
      verifiedAt: Math.round(now / 1000) * 1000,
      updatedAt: now,
    });
  }
  identity.credentials.oidc = {
    type: 'oidc',
    identifiers: [oidcIdentifier(provider.id, claims.sub)],
    config: oidcCredentialConfig(provider.id, claims.sub, tokens),
    version: 0,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await runWebHook(ctx, 'registration', registration, identity, undefined, 'pre-persist');
  } catch (error) {
    if (error instanceof FlowInterrupted) return registrationFailed(ctx, req, res, registration);
    throw error;
  }
  const duplicate = duplicateIdentifier(ctx, identity);
  if (duplicate) {
    const linking: LinkingCredential = {
      provider: provider.id,
      providerLabel: provider.label || provider.id,
      subject: claims.sub,
      duplicateIdentifier: duplicate,
      config: identity.credentials.oidc.config,
    };
    return askToLink(ctx, req, res, registration, linking);
  }
  ctx.state.identities.set(identity.id, identity);
  await runWebHook(ctx, 'registration', registration, identity, undefined, 'post-persist');
  const session = issueSession(ctx, identity, 'oidc', req, provider.id);
  finish(ctx, req, res, registration, session);
}

/** The first identifier of the new identity that another identity holds (Kratos' ConflictingIdentity). */
function duplicateIdentifier(ctx: DoubleContext, identity: StoredIdentity): string | undefined {
  if (!identifiersTaken(ctx, identity)) return undefined;
  for (const type of ['password', 'code'] as const) {
    for (const identifier of ctx.schema.identifiers(identity.traits, type)) {
      const holder = [...ctx.state.identities.values()].find(
        (i) => i.id !== identity.id && i.credentials[type]?.identifiers.includes(identifier),
      );
      if (holder) return identifier;
    }
  }
  return undefined;
}

/**
 * A social sign-up that failed validation or a hook (registration ErrorHandler): an API flow
 * with an exchange code sends the browser to its return_to as it is, nothing else; other API
 * flows answer the registration flow, browser flows go to the registration page.
 */
function registrationFailed(ctx: DoubleContext, req: Request, res: Response, registration: StoredFlow): void {
  if (registration.type === 'browser' && !wantsJson(req)) {
    res
      .status(302)
      .location(withQuery(uiUrl(ctx, 'registration'), { flow: registration.id }))
      .end();
    return;
  }
  if (registration.type === 'api' && registration.exchange) {
    seeOther(res, registration.returnTo ?? returnToOf(ctx, registration));
    return;
  }
  res.status(400).json(flowJson(ctx, registration));
}

/**
 * Kratos refuses to make a second account for an e-mail that is already an account's: it makes
 * a login flow that remembers the provider account and links it once the owner signs in there.
 */
function askToLink(
  ctx: DoubleContext,
  req: Request,
  res: Response,
  registration: StoredFlow,
  linking: LinkingCredential,
): void {
  const loginUi = loginUiUrl(ctx);
  const flow = carryOn(ctx, req, registration, 'login', {
    requestedAal: 'aal1',
    linking,
    messages: [texts.loginLink(linking.duplicateIdentifier, linking.providerLabel, loginUi)],
  });
  const base = flow.type === 'api' ? returnToOf(ctx, registration) : loginUi;
  const location = withQuery(base, { flow: flow.id, no_org_ui: 'true' });
  if (wantsJson(req)) {
    res.status(200).json(flowJson(ctx, flow));
    return;
  }
  seeOther(res, location);
}

/**
 * On a successful sign-in on an account-linking flow, links the remembered provider account to
 * the identity (login hook maybeLinkCredentials); false when the duplicate identifier is not
 * one of the identity's, and the sign-in is refused.
 */
export function linkRememberedCredential(
  ctx: DoubleContext,
  flow: StoredFlow,
  identity: StoredIdentity,
): boolean {
  const linking = flow.linking;
  if (!linking) return true;
  const holds = Object.values(identity.credentials).some((c) =>
    c?.identifiers.includes(linking.duplicateIdentifier),
  );
  if (!holds) {
    flow.messages.push(texts.linkedCredentialsMismatch());
    return false;
  }
  const now = ctx.now();
  const identifier = oidcIdentifier(linking.provider, linking.subject);
  const added = (linking.config.providers ?? []) as Record<string, unknown>[];
  const current = identity.credentials.oidc;
  if (current) {
    current.identifiers = [...current.identifiers, identifier];
    current.config = {
      providers: [...((current.config.providers ?? []) as Record<string, unknown>[]), ...added],
    };
    current.updatedAt = now;
  } else {
    identity.credentials.oidc = {
      type: 'oidc',
      identifiers: [identifier],
      config: { providers: added },
      version: 0,
      createdAt: now,
      updatedAt: now,
    };
  }
  identity.updatedAt = now;
  return true;
}

/** The linked credential counts as a completed method of the session (without its provider). */
export function recordLinkedMethod(ctx: DoubleContext, flow: StoredFlow, session: StoredSession): void {
  if (!flow.linking) return;
  session.methods.push({ method: 'oidc', aal: 'aal1', completedAt: ctx.now() });
}
