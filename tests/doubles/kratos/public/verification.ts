import type { Router } from 'express';
import { consumeCode, isEmail, issueCode } from '../code-flow.js';
import type { DoubleContext } from '../context.js';
import { sendCode } from '../courier.js';
import { errors } from '../errors.js';
import { createFlow, loadFlow, resetFeedback, originOf } from '../flows.js';
import { checkCsrf, input, sendFlow, setCsrfCookie, str, uiUrl, wantsJson, seeOther } from '../http.js';
import { findByVerifiableAddress } from '../identities.js';
import type { StoredFlow, StoredIdentity } from '../state.js';
import { texts } from '../ui.js';
import { runWebHook } from '../webhooks.js';

/** Email verification with the `code` method, through API and browser flows. */
export function registerVerificationRoutes(router: Router, ctx: DoubleContext): void {
  router.get('/self-service/verification/api', (req, res) => {
    requireEnabled(ctx);
    sendFlow(res, ctx, createFlow(ctx, 'verification', 'api', originOf(req)));
  });

  router.get('/self-service/verification/browser', (req, res) => {
    requireEnabled(ctx);
    const flow = createFlow(ctx, 'verification', 'browser', originOf(req));
    setCsrfCookie(ctx, res, flow);
    if (wantsJson(req)) return sendFlow(res, ctx, flow);
    seeOther(res, `${uiUrl(ctx, 'verification')}?flow=${flow.id}`);
  });

  router.get('/self-service/verification/flows', (req, res) => {
    sendFlow(res, ctx, loadFlow(ctx, 'verification', req.query.id));
  });

  router.post('/self-service/verification', async (req, res) => {
    const flow = loadFlow(ctx, 'verification', req.query.flow);
    checkCsrf(ctx, req, flow);
    resetFeedback(flow);
    const ok = await submitVerification(ctx, flow, input(req));
    // Kratos answers a wrong or used code with 200 and the message on the flow (4070006).
    const wrongCode = flow.messages.some((m) => m.id === 4070006);
    sendFlow(res, ctx, flow, ok || wrongCode ? 200 : 400);
  });
}

function requireEnabled(ctx: DoubleContext): void {
  if (!ctx.config.verificationEnabled) throw errors.badRequest('Verification is not enabled.');
}

async function submitVerification(
  ctx: DoubleContext,
  flow: StoredFlow,
  body: Record<string, unknown>,
): Promise<boolean> {
  if (str(body.method) !== 'code') {
    flow.messages.push(texts.verificationNoStrategy());
    return false;
  }
  const code = str(body.code);
  if (code !== undefined && code !== '') return verifyCode(ctx, flow, code);
  return sendVerificationCode(ctx, flow, str(body.email) ?? '');
}

function sendVerificationCode(ctx: DoubleContext, flow: StoredFlow, email: string): boolean {
  flow.values.email = email;
  if (!email) flow.nodeMessages.email = [texts.required('email')];
  else if (!isEmail(email)) flow.nodeMessages.email = [texts.generic(`"${email}" is not valid "email"`)];
  if (flow.nodeMessages.email) return false;
  const address = email.trim().toLowerCase();
  const identity = findByVerifiableAddress(ctx, address);
  const code = issueCode(ctx, flow, address, identity?.id);
  if (identity) sendCode(ctx, 'verification_code_valid', address, code);
  flow.messages.push(texts.verificationCodeSent());
  return true;
}

async function verifyCode(ctx: DoubleContext, flow: StoredFlow, code: string): Promise<boolean> {
  if (flow.state === 'passed_challenge' || !consumeCode(ctx, flow, code)) {
    flow.values.code = code;
    flow.messages.push(texts.verificationCodeInvalid());
    return false;
  }
  const identity = ctx.state.identities.get(flow.code?.identityId ?? '');
  if (!identity) throw errors.internal('The identity of this verification flow no longer exists.');
  markVerified(ctx, identity, flow.code?.address ?? '');
  flow.state = 'passed_challenge';
  if (flow.postHook) flow.transientPayload = undefined;
  flow.messages.push(texts.verificationSuccessful());
  await runWebHook(ctx, 'verification', flow, identity);
  return true;
}

/** Marks an address verified, as a successful verification (or recovery) code proves ownership. */
export function markVerified(ctx: DoubleContext, identity: StoredIdentity, address: string): void {
  const now = ctx.now();
  for (const record of identity.verifiableAddresses) {
    if (record.value !== address || record.verified) continue;
    Object.assign(record, { verified: true, verifiedAt: now, status: 'completed', updatedAt: now });
  }
}

/**
 * Kratos' verification hook after registration: sends a code to each unverified address and
 * points the client at the verification flow (`continue_with: show_verification_ui`).
 */
export function startVerificationAfterRegistration(
  ctx: DoubleContext,
  type: 'api' | 'browser',
  identity: StoredIdentity,
  after: 'registration' | 'settings' = 'registration',
): Record<string, unknown>[] {
  if (!ctx.config.verificationEnabled) return [];
  // After settings only addresses still `pending` get a code (selfservice/hook/verification.go):
  // one already sent a code is left alone, so that every settings change does not send another.
  return identity.verifiableAddresses
    .filter((address) => (after === 'settings' ? address.status === 'pending' : !address.verified))
    .map((address) => {
      const flow = createFlow(ctx, 'verification', type, { path: `/self-service/verification/${type}` });
      flow.postHook = true;
      const code = issueCode(ctx, flow, address.value, identity.id);
      sendCode(ctx, 'verification_code_valid', address.value, code, address.via ?? 'email');
      address.status = 'sent';
      flow.messages.push(texts.verificationCodeSent());
      return {
        action: 'show_verification_ui',
        flow: {
          id: flow.id,
          verifiable_address: address.value,
          ...(type === 'browser' ? { url: `${uiUrl(ctx, 'verification')}?flow=${flow.id}` } : {}),
        },
      };
    });
}
