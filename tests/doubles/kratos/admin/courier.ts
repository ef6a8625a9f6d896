import type { Router } from 'express';
import type { DoubleContext } from '../context.js';
import { messageJson } from '../courier.js';
import { errors } from '../errors.js';
import { paginate } from './pagination.js';

/** Courier messages (the emails carrying codes), newest first, filterable by recipient. */
export function registerCourierRoutes(router: Router, ctx: DoubleContext, adminUrl: () => string): void {
  router.get('/admin/courier/messages', (req, res) => {
    const recipient = typeof req.query.recipient === 'string' ? req.query.recipient.toLowerCase() : undefined;
    const status = typeof req.query.status === 'string' ? req.query.status : undefined;
    if (status && !['queued', 'sent', 'processing', 'abandoned'].includes(status)) {
      throw errors.badRequest(`The status ${status} is not a courier message status.`);
    }
    const messages = [...ctx.state.courier]
      .reverse()
      .filter((m) => (!recipient || m.recipient === recipient) && (!status || status === 'sent'));
    const page = paginate(req, res, messages, `${adminUrl()}/admin/courier/messages`);
    res.status(200).json(page.map(messageJson));
  });

  router.get('/admin/courier/messages/:id', (req, res) => {
    const message = ctx.state.courier.find((m) => m.id === req.params.id);
    if (!message) throw errors.notFound('Unable to locate the resource');
    res.status(200).json(messageJson(message));
  });
}
