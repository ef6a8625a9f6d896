import type { Request, Response, Router } from 'express';
import type { DoubleContext } from '../context.js';
import { errors } from '../errors.js';
import { createFlow, flowJson, loadFlow, resetFeedback, originOf } from '../flows.js';
import {
  checkCsrf,
  input,
  sendFlow,
  setCsrfCookie,
  setSessionCookie,
  str,
  uiUrl,
  wantsJson,
  returnUrl,
  seeOther,
} from '../http.js';
import { consumeCode, issueCode } from '../code-flow.js';
import { sendCode } from '../courier.js';
import { findByIdentifier } from '../identities.js';
import { hasSecondFactor, verifyPassword } from '../identity.js';
import { findLookupCode, lookupCodes, lookupConfig } from '../lookup.js';
import { completeFactor, issueSession, sessionAal, sessionFromRequest, sessionJson } from '../sessions.js';
import { randomString, type StoredFlow, type StoredIdentity, type StoredSession } from '../state.js';
import { secretFromUrl, verifyTotp } from '../totp.js';
import { texts } from '../ui.js';
import { runWebHook } from '../webhooks.js';
import { isOidcSubmission, linkRememberedCredential, recordLinkedMethod, submitOidc } from './oidc.js';

/** Login flows: API (`/self-service/login/api`) and browser, password first factor, TOTP and backup codes as second. */
export function registerLoginRoutes(router: Router, ctx: DoubleContext): void {
  router.get('/self-service/login/api', (req, res) => {
    const flow = startLogin(ctx, req, 'api');
    // Kratos hands out a session-token exchange code only to a flow started without a session.
    if (req.query.return_session_token_exchange_code === 'true' && !flow.sessionId) {
      flow.exchange = { initCode: randomString(64), returnToCode: randomString(64) };
      res.status(200).json({ ...flowJson(ctx, flow), session_token_exchange_code: flow.exchange.initCode });
      return;
    }
    sendFlow(res, ctx, flow);
  });

  router.get('/self-service/login/browser', (req, res) => {
    const flow = startLogin(ctx, req, 'browser');
    setCsrfCookie(ctx, res, flow);
    if (wantsJson(req)) return sendFlow(res, ctx, flow);
    seeOther(res, `${uiUrl(ctx, 'login')}?flow=${flow.id}`);
  });

  router.get('/self-service/login/flows', (req, res) => {
    sendFlow(res, ctx, loadFlow(ctx, 'login', req.query.id));
  });

  router.post('/self-service/login', async (req, res) => {
    const flow = loadFlow(ctx, 'login', req.query.flow);
    checkCsrf(ctx, req, flow);
    resetFeedback(flow);
    const body = input(req);
    if (flow.requestedAal !== 'aal2' && isOidcSubmission(ctx, body))
      return submitOidc(ctx, req, res, flow, body);
    const result = await submitLogin(ctx, req, flow);
    if (!result) return answerFailure(ctx, req, res, flow);
    answerSuccess(ctx, req, res, flow, result);
  });
}

/** Creates a login flow honouring `refresh` and `aal`, refusing when a session makes it pointless. */
function startLogin(ctx: DoubleContext, req: Request, type: 'api' | 'browser'): StoredFlow {
  const session = sessionFromRequest(ctx, req);
  const refresh = req.query.refresh === 'true';
  if (req.query.aal === 'aal2') {
    if (!session) throw errors.aal1Required();
    // Kratos answers 400 session_already_available when the session has the requested AAL
    // (selfservice/flow/login/handler.go: ErrAlreadyLoggedIn).
    if (sessionAal(session) === 'aal2' && !refresh) throw errors.alreadyLoggedIn();
    return createFlow(ctx, 'login', type, originOf(req), {
      requestedAal: 'aal2',
      refresh,
      sessionId: session.id,
      identityId: session.identityId,
      messages: [texts.loginMfa()],
    });
  }
  if (session && !refresh) throw errors.alreadyLoggedIn();
  if (session) {
    return createFlow(ctx, 'login', type, originOf(req), {
      refresh: true,
      sessionId: session.id,
      identityId: session.identityId,
      messages: [texts.loginReauth()],
    });
  }
  return createFlow(ctx, 'login', type, originOf(req), { requestedAal: 'aal1' });
}

interface LoginSuccess {
  session: StoredSession;
  identity: StoredIdentity;
}

async function submitLogin(
  ctx: DoubleContext,
  req: Request,
  flow: StoredFlow,
): Promise<LoginSuccess | undefined> {
  const body = input(req);
  const method = str(body.method);
  if (flow.requestedAal === 'aal2') {
    if (method === 'totp') return secondFactor(ctx, req, flow, () => checkTotp(ctx, flow, body.totp_code));
    if (method === 'lookup_secret')
      return secondFactor(ctx, req, flow, (identity) => useLookupCode(ctx, flow, identity, body));
  } else if (method === 'password') {
    return passwordLogin(ctx, req, flow, body);
  } else if (method === 'code' && ctx.config.codePasswordless) {
    return codeLogin(ctx, req, flow, body);
  }
  flow.messages.push(texts.loginNoStrategy());
  return undefined;
}

async function passwordLogin(
  ctx: DoubleContext,
  req: Request,
  flow: StoredFlow,
  body: Record<string, unknown>,
): Promise<LoginSuccess | undefined> {
  const identifier = str(body.identifier) ?? '';
  const password = str(body.password) ?? '';
  flow.values.identifier = identifier;
  flow.active = 'password';
  if (!identifier) flow.nodeMessages.identifier = [texts.required('identifier')];
  if (!password) flow.nodeMessages.password = [texts.required('password')];
  if (!identifier || !password) return undefined;
  const identity = findByIdentifier(ctx, 'password', identifier);
  const valid = identity && verifyPassword(password, identity.credentials.password?.config.hashed_password);
  if (!identity || !valid || (flow.identityId && flow.identityId !== identity.id)) {
    flow.messages.push(texts.invalidCredentials());
    return undefined;
  }
  if (identity.state !== 'active') {
    flow.messages.push(texts.generic('This account was disabled.'));
    return undefined;
  }
  if (!linkRememberedCredential(ctx, flow, identity)) return undefined;
  const existing = flow.sessionId ? ctx.state.sessions.get(flow.sessionId) : undefined;
  if (existing) completeFactor(ctx, existing, 'password', 'aal1');
  const session = existing ?? issueSession(ctx, identity, 'password', req);
  recordLinkedMethod(ctx, flow, session);
  await runWebHook(ctx, 'login', flow, identity, session);
  return { session, identity };
}

/** Kratos lets a login code be guessed this many times; then the flow wants a new code. */
const MAX_CODE_ATTEMPTS = 5;

/**
 * Passwordless sign-in by an e-mailed code (selfservice/strategy/code/strategy_login.go): the
 * first submission sends a code and answers 400 with the flow in `sent_email`; an identifier
 * without a code credential gets 4000035 and no mail. The second submission checks the code
 * (4010008 when wrong, 4000001 once it was guessed too often) and signs in at aal1.
 */
async function codeLogin(
  ctx: DoubleContext,
  req: Request,
  flow: StoredFlow,
  body: Record<string, unknown>,
): Promise<LoginSuccess | undefined> {
  flow.codeJustSent = false;
  // Kratos echoes transient_payload only on the answer that sent the code.
  flow.transientPayload = undefined;
  if (flow.state === 'passed_challenge') {
    flow.messages.push(texts.loginNoStrategy());
    return undefined;
  }
  const identifier = (str(body.identifier) ?? str(body.address) ?? '').trim().toLowerCase();
  if (flow.state !== 'sent_email' || str(body.resend) === 'code') {
    if (!identifier) {
      flow.nodeMessages.identifier = [texts.required('identifier')];
      return undefined;
    }
    const identity = findByIdentifier(ctx, 'code', identifier);
    if (!identity) {
      flow.messages.push(texts.noCodeCredentials());
      return undefined;
    }
    // Kratos sends the code whatever the identity's state; a disabled one is refused at sign-in.
    const code = issueCode(ctx, flow, identifier, identity.id);
    flow.values.identifier = identifier;
    flow.codeJustSent = true;
    flow.transientPayload = {};
    sendCode(ctx, 'login_code_valid', identifier, code, ctx.schema.codeChannel(identity.traits, identifier));
    flow.messages.push(texts.loginCodeSent());
    return undefined;
  }
  flow.values.identifier = identifier;
  const code = str(body.code) ?? '';
  if (!code) flow.nodeMessages.code = [texts.required('code')];
  else if (!identifier) flow.nodeMessages.identifier = [texts.required('identifier')];
  if (!code || !identifier) return undefined;
  if (flow.failedAttempts >= MAX_CODE_ATTEMPTS) {
    flow.messages.push(texts.generic('The request was submitted too often. Please request another code.'));
    return undefined;
  }
  const valid = consumeCode(ctx, flow, code);
  flow.transientPayload = undefined;
  if (!valid) {
    flow.messages.push(texts.loginCodeInvalid());
    return undefined;
  }
  const identity = ctx.state.identities.get(flow.code?.identityId ?? '');
  if (!identity) throw errors.internal('The identity of this login flow no longer exists.');
  if (identity.state !== 'active') throw errors.identityDisabled(identity.id);
  // The code proves the address; Kratos marks it verified without a verification time.
  for (const record of identity.verifiableAddresses) {
    if (record.value !== flow.code?.address || record.verified) continue;
    Object.assign(record, { verified: true, status: 'completed', updatedAt: ctx.now() });
  }
  flow.state = 'passed_challenge';
  if (!linkRememberedCredential(ctx, flow, identity)) return undefined;
  const session = issueSession(ctx, identity, 'code', req);
  recordLinkedMethod(ctx, flow, session);
  await runWebHook(ctx, 'login', flow, identity, session);
  return { session, identity };
}

/** Runs a second-factor check for the session the aal2 flow was created for. */
async function secondFactor(
  ctx: DoubleContext,
  req: Request,
  flow: StoredFlow,
  check: (identity: StoredIdentity) => boolean,
): Promise<LoginSuccess | undefined> {
  const session = sessionFromRequest(ctx, req);
  if (!session || session.id !== flow.sessionId) throw errors.noSession();
  const identity = ctx.state.identities.get(session.identityId);
  if (!identity || !check(identity)) return undefined;
  completeFactor(ctx, session, flow.active === 'totp' ? 'totp' : 'lookup_secret', 'aal2');
  await runWebHook(ctx, 'login', flow, identity, session);
  return { session, identity };
}

function checkTotp(ctx: DoubleContext, flow: StoredFlow, code: unknown): boolean {
  flow.active = 'totp';
  const identity = flow.identityId ? ctx.state.identities.get(flow.identityId) : undefined;
  const secret = secretFromUrl(identity?.credentials.totp?.config.totp_url);
  if (!secret) {
    flow.messages.push(texts.noTotpDevice());
    return false;
  }
  if (verifyTotp(secret, code, ctx.now())) return true;
  flow.nodeMessages.totp_code = [texts.totpWrong()];
  return false;
}

function useLookupCode(
  ctx: DoubleContext,
  flow: StoredFlow,
  identity: StoredIdentity,
  body: Record<string, unknown>,
): boolean {
  flow.active = 'lookup_secret';
  const codes = lookupCodes(identity);
  if (codes.length === 0) {
    flow.messages.push(texts.noLookup());
    return false;
  }
  const match = findLookupCode(codes, str(body.lookup_secret) ?? '');
  if (!match || match.usedAt) {
    flow.nodeMessages.lookup_secret = [match ? texts.lookupUsedAlready() : texts.lookupInvalid()];
    return false;
  }
  match.usedAt = ctx.now();
  const credential = identity.credentials.lookup_secret;
  if (credential) {
    credential.config = lookupConfig(codes);
    credential.updatedAt = ctx.now();
  }
  return true;
}

function answerFailure(ctx: DoubleContext, req: Request, res: Response, flow: StoredFlow): void {
  if (flow.type === 'browser' && !wantsJson(req)) {
    seeOther(res, `${uiUrl(ctx, 'login')}?flow=${flow.id}`);
    return;
  }
  sendFlow(res, ctx, flow, 400);
}

function answerSuccess(
  ctx: DoubleContext,
  req: Request,
  res: Response,
  flow: StoredFlow,
  result: LoginSuccess,
): void {
  // A flow completed by code stays, passed (a second submission finds no strategy).
  if (flow.active !== 'code') ctx.state.flows.delete(flow.id);
  if (flow.type === 'api') {
    // Kratos omits the identity while the session does not satisfy whoami's required AAL
    // (selfservice/flow/login/hook.go: "If AAL is not satisfied, we omit the identity").
    const owesFactor =
      ctx.config.whoamiRequiredAal === 'highest_available' &&
      hasSecondFactor(result.identity) &&
      sessionAal(result.session) !== 'aal2';
    res.status(200).json({
      session: sessionJson(ctx, result.session, { includeIdentity: !owesFactor, includeDevices: true }),
      session_token: result.session.token,
      continue_with: flow.active === 'code' ? null : [],
    });
    return;
  }
  result.session.cookie ??= randomString(64);
  setSessionCookie(res, result.session);
  const redirectTo = returnUrl(ctx, flow);
  if (!wantsJson(req)) return seeOther(res, redirectTo);
  res.status(200).json({
    session: sessionJson(ctx, result.session),
    continue_with: [{ action: 'redirect_browser_to', redirect_browser_to: redirectTo }],
  });
}
