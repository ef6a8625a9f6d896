import type { RequestHandler, Router } from 'express';
import { z } from 'zod';
import { AppError } from '../errors/app-error.js';
import { parseBody } from '../errors/parse-input.js';
import { handleDelivery, registrationAnswer, type HookDeps } from './handle-delivery.js';
import { HOOKS, UNSAVED_IDENTITY_ID, hookPayload } from './payload.js';
import { requireWebhookKey } from './webhook-key.js';

const hookName = z.enum(HOOKS);

/**
 * `/hooks/kratos/<hook>`: server-to-server calls from Kratos, outside `/api` (no
 * cookies, no CORS, no CSRF header): authenticated by the shared key header instead.
 */
export function registerKratosHookRoutes(router: Router, deps: HookDeps, jsonBody: RequestHandler): void {
  router.use(
    requireWebhookKey(deps.config.KRATOS_WEBHOOK_API_KEY, (req) =>
      deps.audit.record({
        type: 'webhook.refused',
        outcome: 'denied',
        ip: req.ip,
        requestId: req.requestId,
        details: { path: req.path, keyPresent: req.get('x-webhook-key') !== undefined },
      }),
    ),
  );
  // The body is read only once the key matched.
  router.use(jsonBody);

  router.post('/:hook', async (req, res) => {
    const hook = hookName.safeParse(req.params.hook);
    if (!hook.success) throw new AppError('not_found', 404, 'No such web hook.');
    const payload = parseBody(hookPayload, req.body);
    if (payload.event !== hook.data)
      throw new AppError('invalid_request', 400, `event: must be ${hook.data} on this hook.`);
    // Before the identity is stored there is nothing to record: only the defaults to answer.
    if (hook.data === 'registration-defaults') return res.json(registrationAnswer(deps, payload));
    if (payload.identity.id === UNSAVED_IDENTITY_ID)
      throw new AppError('invalid_request', 400, 'identity.id: the identity is not stored yet.');
    await handleDelivery(deps, { ip: req.ip, requestId: req.requestId }, hook.data, payload);
    res.status(204).end();
  });
}
