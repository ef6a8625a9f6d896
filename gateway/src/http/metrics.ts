import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { collectDefaultMetrics, Counter, Histogram, register } from 'prom-client';
import type { Request, RequestHandler } from 'express';

collectDefaultMetrics();

const httpRequests = new Counter({
  name: 'gateway_http_requests_total',
  help: 'HTTP requests by method, route and status',
  labelNames: ['method', 'route', 'status'] as const,
});

const httpDuration = new Histogram({
  name: 'gateway_http_request_duration_seconds',
  help: 'HTTP request duration',
  labelNames: ['method', 'route'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
});

type Series = { count: { inc(): void }; duration: { observe(seconds: number): void } };

/**
 * Label children, looked up once per method, route and status: prom-client hashes the
 * label set on every `inc`/`observe` with labels, which is measurable on the hot path.
 */
const seriesCache = new Map<string, Series>();
function seriesFor(method: string, route: string, status: string): Series {
  const key = `${method} ${route} ${status}`;
  let series = seriesCache.get(key);
  if (!series) {
    series = {
      count: httpRequests.labels(method, route, status),
      duration: httpDuration.labels(method, route),
    };
    seriesCache.set(key, series);
  }
  return series;
}

/**
 * The full route pattern (`/api/jars/:id/files`), never the raw path: ids would explode the
 * label set. Express restores `req.baseUrl` when a request leaves a router, so by the time
 * the answer is finished the mount path is taken from the original URL instead: the route
 * pattern matched its last segments.
 */
function routeLabel(req: Request): string {
  // Express types `req.route` as any.
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern !== 'string') return 'unmatched';
  const segments = (req.originalUrl.split('?')[0] ?? '').split('/').filter(Boolean);
  const own = pattern.split('/').filter(Boolean).length;
  const mount = segments.slice(0, Math.max(0, segments.length - own)).join('/');
  return `/${mount}${pattern === '/' ? '' : mount ? pattern : pattern.slice(1)}`;
}

/** Counts one finished request and its duration since `started` (process.hrtime.bigint()). */
export function countRequest(method: string, route: string, status: number, started: bigint): void {
  const series = seriesFor(method, route, String(status));
  series.count.inc();
  series.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
}

/** Counts requests by their route pattern (never the raw path: ids would explode the labels). */
export function metricsMiddleware(): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => countRequest(req.method, routeLabel(req), res.statusCode, started));
    next();
  };
}

/** `/metrics` on its own port, meant for the internal network only. */
export async function createMetricsServer(port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    // A collector that fails answers 500 instead of an unhandled rejection.
    register.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': register.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}
