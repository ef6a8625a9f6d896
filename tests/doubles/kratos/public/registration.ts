import type { Request, Response, Router } from 'express';
import type { DoubleContext } from '../context.js';
import { errors } from '../errors.js';
import { createFlow, flowJson, loadFlow, resetFeedback, originOf } from '../flows.js';
import {
  checkCsrf,
  input,
  returnUrl,
  sendFlow,
  setCsrfCookie,
  setSessionCookie,
  str,
  uiUrl,
  wantsJson,
  seeOther,
} from '../http.js';
import { buildIdentity, identifiersTaken } from '../identities.js';
import { identityJson } from '../identity.js';
import { passwordProblem } from '../password-policy.js';
import { issueSession, sessionFromRequest, sessionJson } from '../sessions.js';
import { randomString, type StoredFlow, type StoredIdentity, type StoredSession } from '../state.js';
import { texts } from '../ui.js';
import { startVerificationAfterRegistration } from './verification.js';
import { FlowInterrupted, runWebHook } from '../webhooks.js';
import { isOidcSubmission, submitOidc } from './oidc.js';

/** Password registration through API and browser flows, with Kratos' `session` hook after it. */
export function registerRegistrationRoutes(router: Router, ctx: DoubleContext): void {
  router.get('/self-service/registration/api', (req, res) => {
    if (sessionFromRequest(ctx, req)) throw errors.alreadyLoggedIn();
    const flow = createFlow(ctx, 'registration', 'api', originOf(req));
    if (req.query.return_session_token_exchange_code === 'true') {
      flow.exchange = { initCode: randomString(64), returnToCode: randomString(64) };
      res.status(200).json({ ...flowJson(ctx, flow), session_token_exchange_code: flow.exchange.initCode });
      return;
    }
    sendFlow(res, ctx, flow);
  });

  router.get('/self-service/registration/browser', (req, res) => {
    if (sessionFromRequest(ctx, req)) return seeOther(res, returnUrl(ctx));
    const flow = createFlow(ctx, 'registration', 'browser', originOf(req));
    setCsrfCookie(ctx, res, flow);
    if (wantsJson(req)) return sendFlow(res, ctx, flow);
    seeOther(res, `${uiUrl(ctx, 'registration')}?flow=${flow.id}`);
  });

  router.get('/self-service/registration/flows', (req, res) => {
    sendFlow(res, ctx, loadFlow(ctx, 'registration', req.query.id));
  });

  router.post('/self-service/registration', async (req, res) => {
    const flow = loadFlow(ctx, 'registration', req.query.flow);
    checkCsrf(ctx, req, flow);
    resetFeedback(flow);
    if (isOidcSubmission(ctx, input(req))) return submitOidc(ctx, req, res, flow, input(req));
    const identity = await register(ctx, flow, input(req));
    if (!identity) return answerFailure(ctx, req, res, flow);
    const session = issueSession(ctx, identity, 'password', req);
    answerSuccess(ctx, req, res, flow, identity, session);
  });
}

/** Validates, runs the pre-persist web hook, then stores the identity; undefined when the flow failed. */
async function register(
  ctx: DoubleContext,
  flow: StoredFlow,
  body: Record<string, unknown>,
): Promise<StoredIdentity | undefined> {
  if (str(body.method) !== 'password') {
    flow.messages.push(texts.registrationNoStrategy());
    return undefined;
  }
  flow.active = 'password';
  const traits = (body.traits && typeof body.traits === 'object' ? body.traits : {}) as Record<
    string,
    unknown
  >;
  const password = str(body.password) ?? '';
  rememberTraits(flow, traits);
  if (!validate(ctx, flow, traits, password)) return undefined;
  const identity = buildIdentity(ctx, { traits, password });
  try {
    await runWebHook(ctx, 'registration', flow, identity, undefined, 'pre-persist');
  } catch (error) {
    if (error instanceof FlowInterrupted) return undefined;
    throw error;
  }
  if (identifiersTaken(ctx, identity)) {
    flow.messages.push(texts.duplicateCredentials());
    return undefined;
  }
  ctx.state.identities.set(identity.id, identity);
  await runWebHook(ctx, 'registration', flow, identity, undefined, 'post-persist');
  return identity;
}

function validate(
  ctx: DoubleContext,
  flow: StoredFlow,
  traits: Record<string, unknown>,
  password: string,
): boolean {
  for (const problem of ctx.schema.check(traits)) {
    flow.nodeMessages[problem.node] = [...(flow.nodeMessages[problem.node] ?? []), problem.message];
  }
  const passwordMessage = password
    ? passwordProblem(password, ctx.schema.identifiers(traits, 'password'), {
        minLength: ctx.config.minPasswordLength,
        similarityCheck: ctx.config.identifierSimilarityCheck,
      })
    : texts.required('password');
  if (passwordMessage) flow.nodeMessages.password = [passwordMessage];
  return Object.keys(flow.nodeMessages).length === 0;
}

/** Echoes submitted traits into the nodes (`traits.email` …), as Kratos does on a failed submission. */
function rememberTraits(flow: StoredFlow, traits: Record<string, unknown>, prefix = 'traits'): void {
  for (const [key, value] of Object.entries(traits)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      rememberTraits(flow, value as Record<string, unknown>, `${prefix}.${key}`);
    } else {
      flow.values[`${prefix}.${key}`] = value;
    }
  }
}

function answerFailure(ctx: DoubleContext, req: Request, res: Response, flow: StoredFlow): void {
  if (flow.type === 'browser' && !wantsJson(req)) {
    seeOther(res, `${uiUrl(ctx, 'registration')}?flow=${flow.id}`);
    return;
  }
  sendFlow(res, ctx, flow, 400);
}

function answerSuccess(
  ctx: DoubleContext,
  req: Request,
  res: Response,
  flow: StoredFlow,
  identity: StoredIdentity,
  session: StoredSession,
): void {
  ctx.state.flows.delete(flow.id);
  const continueWith: Record<string, unknown>[] = startVerificationAfterRegistration(
    ctx,
    flow.type,
    identity,
  );
  if (flow.type === 'api') {
    continueWith.push({ action: 'set_ory_session_token', ory_session_token: session.token });
    res.status(200).json({
      identity: identityJson(identity, ctx.publicUrl, { admin: false }),
      session: sessionJson(ctx, session),
      session_token: session.token,
      continue_with: continueWith,
    });
    return;
  }
  session.cookie = randomString(64);
  setSessionCookie(res, session);
  const redirectTo = returnUrl(ctx, flow);
  if (!wantsJson(req)) return seeOther(res, redirectTo);
  res.status(200).json({
    identity: identityJson(identity, ctx.publicUrl, { admin: false }),
    session: sessionJson(ctx, session),
    continue_with: [...continueWith, { action: 'redirect_browser_to', redirect_browser_to: redirectTo }],
  });
}
