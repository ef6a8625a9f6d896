import type { Request, Router } from 'express';
import { consumeCode, isEmail, issueCode } from '../code-flow.js';
import type { DoubleContext } from '../context.js';
import { sendCode } from '../courier.js';
import { errors } from '../errors.js';
import { createFlow, loadFlow, resetFeedback, originOf } from '../flows.js';
import { checkCsrf, input, sendFlow, setCsrfCookie, str, uiUrl, wantsJson, seeOther } from '../http.js';
import { findByRecoveryAddress } from '../identities.js';
import { issueSession, revokeSessions, sessionFromRequest } from '../sessions.js';
import type { StoredFlow } from '../state.js';
import { texts } from '../ui.js';
import { runWebHook } from '../webhooks.js';
import { createSettingsFlow } from './settings.js';
import { markVerified } from './verification.js';

/** Account recovery with the `code` method: a code by email, then a privileged session and a settings flow. */
export function registerRecoveryRoutes(router: Router, ctx: DoubleContext): void {
  router.get('/self-service/recovery/api', (req, res) => {
    startable(ctx, req);
    sendFlow(res, ctx, createFlow(ctx, 'recovery', 'api', originOf(req)));
  });

  router.get('/self-service/recovery/browser', (req, res) => {
    startable(ctx, req);
    const flow = createFlow(ctx, 'recovery', 'browser', originOf(req));
    setCsrfCookie(ctx, res, flow);
    if (wantsJson(req)) return sendFlow(res, ctx, flow);
    seeOther(res, `${uiUrl(ctx, 'recovery')}?flow=${flow.id}`);
  });

  router.get('/self-service/recovery/flows', (req, res) => {
    sendFlow(res, ctx, loadFlow(ctx, 'recovery', req.query.id));
  });

  router.post('/self-service/recovery', async (req, res) => {
    const flow = loadFlow(ctx, 'recovery', req.query.flow);
    checkCsrf(ctx, req, flow);
    resetFeedback(flow);
    const ok = await submitRecovery(ctx, req, flow, input(req));
    // Without continue_with transitions Kratos sends an API client that recovered away with
    // 422 browser_location_change_required, after the recovery hooks ran (sessions revoked).
    if (ok && flow.state === 'passed_challenge' && flow.type === 'api' && !ctx.config.continueWithTransitions)
      throw errors.browserLocationChangeRequired(`${uiUrl(ctx, 'settings')}`);
    // Kratos answers a wrong or used code with 200 and the message on the flow (4060006).
    const wrongCode = flow.messages.some((m) => m.id === 4060006);
    sendFlow(res, ctx, flow, ok || wrongCode ? 200 : 400);
  });
}

/** Recovery is for people without a session; Kratos refuses to start it for a signed-in one. */
function startable(ctx: DoubleContext, req: Request): void {
  if (!ctx.config.recoveryEnabled) throw errors.badRequest('Recovery is not enabled.');
  if (sessionFromRequest(ctx, req)) throw errors.alreadyLoggedIn();
}

async function submitRecovery(
  ctx: DoubleContext,
  req: Request,
  flow: StoredFlow,
  body: Record<string, unknown>,
): Promise<boolean> {
  flow.transientPayload = {};
  if (str(body.method) !== 'code') {
    flow.messages.push(texts.recoveryNoStrategy());
    return false;
  }
  const code = str(body.code);
  if (code !== undefined && code !== '') return recover(ctx, req, flow, code);
  return sendRecoveryCode(ctx, flow, str(body.email) ?? '');
}

/** Answers the same way whether or not the address belongs to someone (no account enumeration). */
function sendRecoveryCode(ctx: DoubleContext, flow: StoredFlow, email: string): boolean {
  flow.values.email = email;
  if (!email) flow.nodeMessages.email = [texts.required('email')];
  else if (!isEmail(email)) flow.nodeMessages.email = [texts.generic(`"${email}" is not valid "email"`)];
  if (flow.nodeMessages.email) return false;
  const address = email.trim().toLowerCase();
  const identity = findByRecoveryAddress(ctx, address);
  const code = issueCode(ctx, flow, address, identity?.state === 'active' ? identity.id : undefined);
  if (identity?.state === 'active') sendCode(ctx, 'recovery_code_valid', address, code);
  flow.messages.push(texts.recoveryCodeSent());
  return true;
}

async function recover(ctx: DoubleContext, req: Request, flow: StoredFlow, code: string): Promise<boolean> {
  if (flow.state === 'passed_challenge' || !consumeCode(ctx, flow, code)) {
    flow.values.code = code;
    flow.messages.push(texts.recoveryCodeInvalid());
    return false;
  }
  const identity = ctx.state.identities.get(flow.code?.identityId ?? '');
  if (!identity) throw errors.internal('The identity of this recovery flow no longer exists.');
  markVerified(ctx, identity, flow.code?.address ?? '');
  const session = issueSession(ctx, identity, 'code_recovery', req);
  if (ctx.config.revokeSessionsAfter.has('recovery')) revokeSessions(ctx, identity.id, session.id);
  const settings = await createSettingsFlow(ctx, req, flow.type, session, identity);
  const minutes = ctx.config.privilegedSessionMaxAgeMs / 60_000;
  flow.state = 'passed_challenge';
  flow.messages.push(
    texts.recoverySuccessful(minutes, session.authenticatedAt + ctx.config.privilegedSessionMaxAgeMs),
  );
  flow.continueWith = [
    ...(flow.type === 'api' ? [{ action: 'set_ory_session_token', ory_session_token: session.token }] : []),
    {
      action: 'show_settings_ui',
      flow: { id: settings.id, url: `${uiUrl(ctx, 'settings')}?flow=${settings.id}` },
    },
  ];
  await runWebHook(ctx, 'recovery', flow, identity, session);
  return true;
}
