import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createMetricsServer } from '../../gateway/src/http/metrics.js';
import { storageKey } from '../../gateway/src/session/session-store.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { registerAccount } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
});
after(async () => {
  await gw.close();
});

const raw = (path: string, init: RequestInit = {}) => fetch(gw.auth + path, init);

describe('CSRF defense', () => {
  it('refuses a state-changing request without X-CSRF: 1 with 403 csrf_failed', async () => {
    const res = await new Browser(gw.auth).post('/identify', { identifier: 'a@b.co' }, { csrf: false });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'csrf_failed');
  });

  it('refuses an allowed header from a foreign Origin', async () => {
    const res = await new Browser(gw.auth, 'https://evil.example').post('/identify', {
      identifier: 'a@b.co',
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'csrf_failed');
  });

  it('accepts a request without Origin (same-origin navigation, server clients) that carries X-CSRF', async () => {
    const res = await raw('/identify', {
      method: 'POST',
      headers: { 'X-CSRF': '1', 'Content-Type': 'application/json' },
      body: JSON.stringify({ identifier: 'a@b.co' }),
    });
    assert.equal(res.status, 200);
  });

  it('changes nothing when it refuses: no identity is created', async () => {
    const email = uniqueEmail('csrf');
    await new Browser(gw.auth).post('/register', { email, password: STRONG_PASSWORD }, { csrf: false });
    const found = await (
      await fetch(`${gw.kratos.adminUrl}/admin/identities?credentials_identifier=${email}`)
    ).json();
    assert.equal(found.length, 0);
  });

  it('records refusals in the audit log once per client and minute, so a flood cannot fill it', async () => {
    const count = async () =>
      Number(
        (
          await gw.deps.db.query<{ n: string }>(
            `SELECT count(*) AS n FROM audit_events WHERE type = 'csrf.refused'`,
          )
        ).rows[0]!.n,
      );
    const before = await count();
    for (let i = 0; i < 20; i++) {
      const res = await new Browser(gw.auth).post('/logout', {}, { csrf: false });
      assert.equal(res.status, 403);
    }
    const after = await count();
    assert.ok(after - before <= 1, `${after - before} rows for one client`);
    assert.ok(after >= 1);
  });
});

describe('anonymous pre-sessions', () => {
  it('keep a short TTL in Redis, unlike signed-in sessions', async () => {
    const browser = new Browser(gw.auth);
    assert.equal((await browser.post('/identify', { identifier: 'someone@example.com' })).status, 200);
    const sessionKey = () =>
      `${gw.deps.config.REDIS_KEY_PREFIX}sess:${storageKey(browser.cookies.get('gw_session')!)}`;
    const ttl = await gw.deps.kv.client!.ttl(sessionKey());
    assert.ok(ttl > 0 && ttl <= 900, `pre-session TTL ${ttl}`);
    await registerAccount(gw, browser, { email: uniqueEmail('pre'), password: STRONG_PASSWORD });
    const longTtl = await gw.deps.kv.client!.ttl(sessionKey());
    assert.ok(longTtl > 3600, `signed-in TTL ${longTtl}`);
  });
});

describe('CORS', () => {
  it('answers a preflight from an allowed origin with credentials allowed', async () => {
    const res = await raw('/login/password', {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://localhost:3000',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-csrf',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /X-CSRF/i);
  });

  it('refuses a preflight from any other origin', async () => {
    const res = await raw('/login/password', {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
  it('lets an allowed origin read the session checks with credentials, and no other origin', async () => {
    for (const path of ['/session', '/verify', '/sessions']) {
      const allowed = await raw(path, { headers: { Origin: 'http://localhost:3000' } });
      assert.equal(allowed.status, 401, path);
      assert.equal(allowed.headers.get('access-control-allow-origin'), 'http://localhost:3000', path);
      assert.equal(allowed.headers.get('access-control-allow-credentials'), 'true', path);
      assert.match(allowed.headers.get('access-control-expose-headers') ?? '', /X-Request-Id/, path);
      assert.match(allowed.headers.get('vary') ?? '', /Origin/, path);
      const other = await raw(path, { headers: { Origin: 'https://evil.example' } });
      assert.equal(other.headers.get('access-control-allow-origin'), null, path);
      assert.equal(other.headers.get('access-control-allow-credentials'), null, path);
    }
  });
});

describe('request bodies', () => {
  const post = (body: string, contentType = 'application/json') =>
    raw('/login/password', { method: 'POST', headers: { 'X-CSRF': '1', 'Content-Type': contentType }, body });

  it('answers 400 invalid_json for malformed JSON', async () => {
    const res = await post('{"identifier": ');
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.code, 'invalid_json');
  });

  it('answers 415 for a body that is not JSON', async () => {
    const res = await post('identifier=a&password=b', 'application/x-www-form-urlencoded');
    assert.equal(res.status, 415);
    assert.equal((await res.json()).error.code, 'unsupported_media_type');
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await post(JSON.stringify({ identifier: 'a@b.co', password: 'x'.repeat(200_000) }));
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, 'payload_too_large');
  });

  it('never answers 500 to odd bodies', async () => {
    for (const body of [
      'null',
      '[]',
      '"str"',
      '123',
      'true',
      '{"__proto__": {"x": 1}}',
      '{"identifier": {"$gt": ""}}',
    ]) {
      const res = await post(body);
      assert.ok(res.status >= 400 && res.status < 500, `${body} → ${res.status}`);
    }
  });

  it('answers 404 JSON for an unknown endpoint', async () => {
    const res = await raw('/nope');
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, 'not_found');
  });
});

describe('security headers and request ids', () => {
  it('sends a strict CSP, no X-Powered-By and no HSTS over http', async () => {
    const res = await raw('/session');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-powered-by'), null);
    assert.equal(res.headers.get('strict-transport-security'), null);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  it('gives every answer a request id and keeps a well-formed incoming one', async () => {
    const res = await raw('/session', { headers: { 'X-Request-Id': 'req-12345678' } });
    assert.equal(res.headers.get('x-request-id'), 'req-12345678');
    const generated = await raw('/session', { headers: { 'X-Request-Id': 'bad id with spaces' } });
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });
});

describe('metrics', () => {
  it('counts requests by route pattern on the internal metrics listener', async () => {
    const server = await createMetricsServer(0, '127.0.0.1');
    try {
      for (let i = 0; i < 3; i++) await raw('/session');
      const { port } = server.address() as AddressInfo;
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('gateway_http_requests_total{') &&
            l.includes('route="/api/auth/session"') &&
            l.includes('status="401"'),
        );
      assert.ok(line, 'a series for GET /api/auth/session 401');
      assert.ok(Number(line.split(' ').pop()) >= 3);
      assert.match(
        text,
        /gateway_http_request_duration_seconds_count\{method="GET",route="\/api\/auth\/session"\} \d+/,
      );
      assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
    } finally {
      server.close();
    }
  });

  it('is not served on the public port', async () => {
    assert.equal((await fetch(`${gw.url}/metrics`)).status, 404);
  });
});

describe('health', () => {
  it('GET /healthz answers ok and GET /readyz checks Redis, Postgres, Kratos and the keys', async () => {
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    const ready = await fetch(`${gw.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual((await ready.json()).checks, { redis: 'ok', database: 'ok', kratos: 'ok', keys: 'ok' });
  });

  it('GET /readyz answers 503 naming Kratos while it is down, and recovers', async () => {
    await gw.kratos.stop();
    try {
      const res = await fetch(`${gw.url}/readyz`);
      assert.equal(res.status, 503);
      assert.equal((await res.json()).checks.kratos, 'down');
      const login = await new Browser(gw.auth).post('/login/password', {
        identifier: 'a@b.co',
        password: 'whatever-123',
      });
      assert.equal(login.status, 503);
      assert.equal(login.body.error.code, 'kratos_unavailable');
    } finally {
      await gw.kratos.start();
    }
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
  });
});
