import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { DoubleContext } from './context.js';
import { errors, kratosError, KratosError } from './errors.js';
import { flowJson } from './flows.js';
import { readCookie, SESSION_COOKIE } from './sessions.js';
import type { StoredFlow, StoredSession } from './state.js';

/** The submitted fields, whether sent as JSON or as a form; nested `traits.x` form keys become objects. */
export function input(req: Request): Record<string, unknown> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (req.is('application/json')) return body;
  const nested: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) setPath(nested, key.split('.'), value);
  return nested;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  const [head, ...rest] = path;
  if (!head) return;
  if (rest.length === 0) {
    target[head] = value;
    return;
  }
  const child = (target[head] ??= {}) as Record<string, unknown>;
  setPath(child, rest, value);
}

export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
export const isTrue = (value: unknown): boolean => value === true || value === 'true';

/** Browsers asking for JSON (SPA) get JSON; others get redirects. */
export const wantsJson = (req: Request): boolean => (req.get('accept') ?? '').includes('application/json');

export function sendFlow(res: Response, ctx: DoubleContext, flow: StoredFlow, status = 200): void {
  res.status(status).json(flowJson(ctx, flow));
}

/** Name of the CSRF cookie; Kratos derives it from its base URL. */
export const csrfCookieName = (ctx: DoubleContext): string =>
  `csrf_token_${createHash('sha256').update(ctx.publicUrl).digest('hex').slice(0, 16)}`;

export function setCsrfCookie(ctx: DoubleContext, res: Response, flow: StoredFlow): void {
  res.cookie(csrfCookieName(ctx), flow.csrfToken, { httpOnly: true, path: '/', sameSite: 'lax' });
}

/** Browser flows need the CSRF token both in the form and in the cookie; API flows need none. */
export function checkCsrf(ctx: DoubleContext, req: Request, flow: StoredFlow): void {
  if (flow.type !== 'browser') return;
  const submitted = str(input(req).csrf_token);
  const cookie = readCookie(req.get('cookie'), csrfCookieName(ctx));
  if (!submitted || submitted !== flow.csrfToken || cookie !== flow.csrfToken) throw errors.csrf();
}

export function setSessionCookie(res: Response, session: StoredSession): void {
  res.cookie(SESSION_COOKIE, session.cookie, { httpOnly: true, path: '/', sameSite: 'lax' });
}

/** The UI URL of a flow from kratos.yml, or a placeholder page of the double when unset. */
export function uiUrl(ctx: DoubleContext, kind: keyof DoubleContext['config']['uiUrls']): string {
  const configured = ctx.config.uiUrls[kind];
  return configured && !configured.includes('${') ? configured : `${ctx.publicUrl}/ui/${kind}`;
}

/**
 * A kratos.yml URL with `${PUBLIC_BASE_URL}` filled in (the double's `publicBaseUrl`);
 * undefined when unset or holding another placeholder.
 */
export function configuredUrl(ctx: DoubleContext, value: string | undefined): string | undefined {
  const filled = value?.replaceAll('${PUBLIC_BASE_URL}', ctx.publicBaseUrl);
  return filled && !filled.includes('${') ? filled : undefined;
}

/**
 * Kratos' return_to check (x.SecureRedirectTo): the URL, resolved against the default return
 * URL, must start with one of `selfservice.allowed_return_urls` or the public URL's
 * `/self-service`; otherwise 400 `self_service_flow_return_to_forbidden`.
 */
export function checkReturnTo(ctx: DoubleContext, raw: string): URL {
  const fallback = configuredUrl(ctx, ctx.config.defaultReturnUrl) ?? `${ctx.publicBaseUrl}/`;
  let url: URL;
  try {
    url = new URL(raw, fallback);
  } catch {
    throw errors.badRequest(
      `Unable to parse the return_to query parameter as an URL: parse "${raw}": invalid URL`,
    );
  }
  const allowed = [
    ...ctx.config.allowedReturnUrls.map((u) => configuredUrl(ctx, u)),
    `${ctx.publicUrl}/self-service`,
  ];
  for (const entry of allowed) {
    const match = entry ? /^([a-z][a-z0-9+.-]*:)\/\/([^/?#]*)([^?#]*)/i.exec(entry) : null;
    if (!match) continue;
    const [, scheme = '', host = '', path = ''] = match;
    const hostAllowed = host.startsWith('*')
      ? url.host.toLowerCase().endsWith(host.slice(1).toLowerCase())
      : url.host.toLowerCase() === host.toLowerCase();
    if (scheme.toLowerCase() === url.protocol && hostAllowed && url.pathname.startsWith(path || '/'))
      return url;
  }
  throw kratosError(400, {
    id: 'self_service_flow_return_to_forbidden',
    reason: `Requested return_to URL ${JSON.stringify(url.href)} is not allowed.`,
  });
}

export function returnUrl(ctx: DoubleContext, flow?: StoredFlow): string {
  const configured = ctx.config.defaultReturnUrl;
  return flow?.returnTo ?? (configured && !configured.includes('${') ? configured : `${ctx.publicUrl}/`);
}

/** Writes KratosErrors as Kratos does, malformed JSON as 400, anything else as 500. */
export function errorHandler(error: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(error);
  if (error instanceof KratosError) {
    res.status(error.status).json(error.body);
    return;
  }
  const status = (error as { status?: number }).status;
  const kratos =
    status === 400
      ? errors.badRequest('The request body could not be decoded.')
      : errors.internal('Unexpected error in the Kratos double.');
  if (kratos.status === 500) console.error('kratos double:', error);
  res.status(kratos.status).json(kratos.body);
}

/** 404 in Kratos' error format for routes the double does not serve. */
export function notFoundHandler(_req: Request, res: Response): void {
  const error = errors.notFound();
  res.status(error.status).json(error.body);
}

/** A 303 See Other without a body, as the API document declares for Kratos' redirects. */
export function seeOther(res: Response, location: string): void {
  res.status(303).location(location).end();
}
