import type { Router } from 'express';
import { issueCode } from '../code-flow.js';
import { durationMs } from '../config.js';
import type { DoubleContext } from '../context.js';
import { errors } from '../errors.js';
import { createFlow } from '../flows.js';
import { uiUrl } from '../http.js';
import { iso } from '../state.js';

/**
 * `POST /admin/recovery/code`: an operator-issued recovery code. It opens a recovery flow already
 * waiting for a code, which is returned instead of emailed.
 */
export function registerAdminRecoveryRoutes(router: Router, ctx: DoubleContext): void {
  router.post('/admin/recovery/code', (req, res) => {
    const body = (req.body ?? {}) as { identity_id?: unknown; expires_in?: unknown; flow_type?: unknown };
    const identity =
      typeof body.identity_id === 'string' ? ctx.state.identities.get(body.identity_id) : undefined;
    if (!identity) throw errors.notFound('The requested identity could not be found.');
    const address = identity.recoveryAddresses[0]?.value;
    if (!address) throw errors.badRequest('The identity has no recovery address.');
    const lifespan = body.expires_in === undefined ? ctx.config.codeLifespanMs : durationMs(body.expires_in);
    if (lifespan === undefined) throw errors.badRequest('expires_in must be a duration such as "15m".');
    const flow = createFlow(ctx, 'recovery', body.flow_type === 'api' ? 'api' : 'browser', {
      path: '/self-service/recovery',
    });
    flow.expiresAt = ctx.now() + lifespan;
    const code = issueCode(ctx, flow, address, identity.id);
    if (flow.code) flow.code.expiresAt = flow.expiresAt;
    res.status(201).json({
      recovery_link: `${uiUrl(ctx, 'recovery')}?flow=${flow.id}`,
      recovery_code: code,
      expires_at: iso(flow.expiresAt),
    });
  });
}
