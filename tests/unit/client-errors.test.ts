import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createGatewayClient, describeError } from '../../clients/typescript/src/index.js';

/**
 * The client's error mapping against a real HTTP server that answers what a gateway, a proxy
 * in front of it or a dead network can: every failure settles into a typed value, none throws.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_req, res) => res.end();
const seen: IncomingMessage[] = [];
let server: Server;
let baseUrl: string;

before(async () => {
  server = createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const apiError = (code: string, message: string, details?: unknown) => ({
  error: { code, message, details },
});

describe('@auth-gateway/client error mapping', () => {
  it('answers the data of a 2xx', async () => {
    handler = json(200, { jars: [] });
    const gw = createGatewayClient({ baseUrl });
    assert.deepEqual(await gw.run((api) => api.GET('/api/jars')), { ok: true, data: { jars: [] } });
  });

  it('sends X-CSRF on state-changing requests only', async () => {
    handler = json(200, {});
    const gw = createGatewayClient({ baseUrl });
    seen.length = 0;
    await gw.run((api) => api.GET('/api/jars'));
    await gw.run((api) => api.POST('/api/jars', { body: { name: 'Taxes' } }));
    assert.equal(seen[0]!.headers['x-csrf'], undefined);
    assert.equal(seen[1]!.headers['x-csrf'], '1');
  });

  it('turns an API refusal into kind "api" with its code, details and Retry-After', async () => {
    handler = json(429, apiError('rate_limited', 'Too many attempts.'), { 'Retry-After': '30' });
    const gw = createGatewayClient({ baseUrl });
    const result = await gw.run((api) =>
      api.POST('/api/auth/login/password', { body: { identifier: 'a@b.c', password: 'x' } }),
    );
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.error, {
      kind: 'api',
      status: 429,
      code: 'rate_limited',
      message: 'Too many attempts.',
      retryAfterSeconds: 30,
    });
    assert.equal(describeError(result.error), 'Too many attempts. Try again in 30 seconds.');
  });

  it('turns a 5xx into kind "server" whether or not it carries the error body', async () => {
    const gw = createGatewayClient({ baseUrl });
    handler = json(503, apiError('kratos_unavailable', 'Kratos is down.'));
    const withBody = await gw.run((api) => api.GET('/api/jars'));
    assert.deepEqual(!withBody.ok && withBody.error, {
      kind: 'server',
      status: 503,
      code: 'kratos_unavailable',
      message: 'Kratos is down.',
    });
    handler = (_req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' });
      res.end('<html><body>Bad Gateway</body></html>');
    };
    const fromProxy = await gw.run((api) => api.GET('/api/jars'));
    assert.equal(!fromProxy.ok && fromProxy.error.kind, 'server');
    assert.equal(!fromProxy.ok && fromProxy.error.kind === 'server' && fromProxy.error.status, 502);
    assert.equal(
      !fromProxy.ok && describeError(fromProxy.error),
      'Something went wrong on our side. Please try again in a moment.',
    );
  });

  it('turns an answer it cannot read into kind "unexpected", never a throw', async () => {
    const gw = createGatewayClient({ baseUrl });
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>app</title>');
    };
    const html = await gw.run((api) => api.GET('/api/jars'));
    assert.deepEqual(!html.ok && html.error.kind, 'unexpected');
    handler = (_req, res) => {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('no such thing');
    };
    const plain = await gw.run((api) => api.GET('/api/jars'));
    assert.deepEqual(!plain.ok && plain.error, {
      kind: 'unexpected',
      status: 404,
      message: 'The service answered 404 in a form this app cannot read.',
    });
  });

  it('turns a network failure into kind "network"', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const gw = createGatewayClient({ baseUrl: `http://127.0.0.1:${port}` });
    const result = await gw.run((api) => api.GET('/api/jars'));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.error.kind, 'network');
  });

  it('asks the step-up handler on 403 aal2_required and retries the call once after it', async () => {
    let calls = 0;
    handler = (req, res) => {
      calls++;
      if (calls === 1)
        return json(403, apiError('aal2_required', 'Step up.', { methods: ['passkey'] }))(req, res);
      json(200, { jars: [] })(req, res);
    };
    const asked: unknown[] = [];
    const gw = createGatewayClient({
      baseUrl,
      onAal2Required: async (error) => {
        asked.push(error.details);
        return true;
      },
    });
    const result = await gw.run((api) => api.GET('/api/jars'));
    assert.deepEqual(result, { ok: true, data: { jars: [] } });
    assert.equal(calls, 2);
    assert.deepEqual(asked, [{ methods: ['passkey'] }]);
  });

  it('gives the refusal back when the step-up is declined or fails', async () => {
    handler = json(403, apiError('aal2_required', 'Step up.'));
    for (const onAal2Required of [async () => false, async () => Promise.reject(new Error('closed'))]) {
      const gw = createGatewayClient({ baseUrl, onAal2Required });
      const result = await gw.run((api) => api.GET('/api/jars'));
      assert.equal(!result.ok && result.error.kind === 'api' && result.error.code, 'aal2_required');
    }
  });
});
