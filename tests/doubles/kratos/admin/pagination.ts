import type { Request, Response } from 'express';

const DEFAULT_PAGE_SIZE = 250;
const MAX_PAGE_SIZE = 1000;

/**
 * Pages a list the way Kratos' admin APIs do: `page_size` + opaque `page_token` with a `Link`
 * header (`rel="first"`, `rel="next"`), or the deprecated `per_page` + `page` with X-Total-Count.
 */
export function paginate<T>(req: Request, res: Response, items: T[], basePath: string): T[] {
  const legacy = req.query.per_page !== undefined || req.query.page !== undefined;
  const size = clamp(Number(req.query.page_size ?? req.query.per_page ?? DEFAULT_PAGE_SIZE));
  const offset = legacy
    ? Math.max(0, Number(req.query.page ?? 0) || 0) * size
    : decodeToken(req.query.page_token);
  const page = items.slice(offset, offset + size);
  const link = (params: string): string => `<${basePath}?${params}>`;
  const links = [`${link(`page_size=${size}&page_token=${encodeToken(0)}`)}; rel="first"`];
  if (offset + size < items.length) {
    const next = legacy
      ? `per_page=${size}&page=${offset / size + 1}`
      : `page_size=${size}&page_token=${encodeToken(offset + size)}`;
    links.push(`${link(next)}; rel="next"`);
  }
  res.setHeader('link', links.join(','));
  res.setHeader('x-total-count', String(items.length));
  return page;
}

function clamp(size: number): number {
  if (!Number.isFinite(size) || size < 1) return DEFAULT_PAGE_SIZE;
  return Math.min(Math.floor(size), MAX_PAGE_SIZE);
}

const encodeToken = (offset: number): string => Buffer.from(JSON.stringify({ offset })).toString('base64url');

function decodeToken(token: unknown): number {
  if (typeof token !== 'string' || token === '') return 0;
  try {
    const offset = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown })
      .offset;
    return typeof offset === 'number' && offset >= 0 ? offset : 0;
  } catch {
    return 0;
  }
}
