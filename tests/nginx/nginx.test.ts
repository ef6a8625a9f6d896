import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  echoServer,
  findNginx,
  freePort,
  recordingProxy,
  request,
  startNginx,
  type RecordingProxy,
  type Reply,
  type RunningNginx,
  type SeenRequest,
} from './harness.js';

const nginxBinary = findNginx();
// In CI a missing nginx is a failure (the suite runs and its setup throws); locally it is a skip.
const skip = !nginxBinary && !process.env.CI ? 'nginx is not installed (apt-get install nginx)' : false;

const INDEX_HTML = '<!doctype html><title>SPA</title><div id="root"></div>';

describe('nginx in front of two gateway replicas', { skip }, () => {
  let gateways: TestGateway[] = [];
  let taps: RecordingProxy[] = [];
  let kratosTap: RecordingProxy;
  let protectedApp: Awaited<ReturnType<typeof echoServer>>;
  let nginx: RunningNginx;
  let base: string;
  let httpBase: string;
  let origin: string;
  const seen: SeenRequest[] = [];

  /** An https request through nginx that trusts the test certificate. */
  function send(path: string, options: Parameters<typeof request>[1] = {}): Promise<Reply> {
    return request(base + path, { ...options, ca: nginx.ca });
  }

  function json(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    return send(path, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', Origin: origin, 'X-CSRF': '1', ...headers },
    });
  }

  function seenAt(pathPrefix: string): SeenRequest[] {
    return seen.filter((r) => r.url.startsWith(pathPrefix));
  }

  before(async () => {
    if (!nginxBinary)
      throw new Error('CI is set but nginx is not installed: install the Debian package nginx');
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    base = `https://127.0.0.1:${httpsPort}`;
    httpBase = `http://127.0.0.1:${httpPort}`;
    origin = `https://localhost:${httpsPort}`;
    const env = { PUBLIC_BASE_URL: origin, TRUST_PROXY_HOPS: '1' };
    const first = await startTestGateway({ env });
    gateways = [first, await startTestGateway({ env, share: first })];
    taps = [
      await recordingProxy('gateway-1', gateways[0]!.url, seen),
      await recordingProxy('gateway-2', gateways[1]!.url, seen),
    ];
    kratosTap = await recordingProxy('kratos-public', first.kratos.publicUrl, seen);
    protectedApp = await echoServer();
    nginx = await startNginx(nginxBinary, {
      httpPort,
      httpsPort,
      gatewayUpstreams: [taps[0]!.address, taps[1]!.address],
      kratosPublicUpstream: kratosTap.address,
      protectedUpstream: protectedApp.address,
      indexHtml: INDEX_HTML,
    });
  });

  after(async () => {
    await nginx?.close();
    for (const tap of [...taps, kratosTap]) await tap?.close();
    await protectedApp?.close();
    for (const gateway of gateways.reverse()) await gateway.close();
  });

  describe('TLS and the plain-HTTP port', () => {
    it('redirects http to https with the same path', async () => {
      const reply = await request(`${httpBase}/api/auth/session?x=1`);
      assert.equal(reply.status, 301);
      assert.equal(reply.headers.location, 'https://127.0.0.1/api/auth/session?x=1');
    });

    it('sends HSTS over https and no server version', async () => {
      const reply = await send('/');
      assert.match(String(reply.headers['strict-transport-security']), /max-age=\d{8}/);
      assert.equal(reply.headers.server, 'nginx');
    });
  });

  describe('routing', () => {
    it('proxies /api/ to the gateway, spreading requests over both replicas', async () => {
      const before = seenAt('/api/auth/session').length;
      for (let i = 0; i < 6; i++) {
        const reply = await send('/api/auth/session');
        assert.equal(reply.status, 401);
        assert.equal(JSON.parse(reply.body).error.code, 'unauthenticated');
      }
      const served = seenAt('/api/auth/session').slice(before);
      assert.equal(served.length, 6);
      assert.deepEqual([...new Set(served.map((r) => r.upstream))].sort(), ['gateway-1', 'gateway-2']);
    });

    it('proxies /hooks/ to the gateway', async () => {
      const reply = await json('/hooks/kratos/after-login', { identity: { id: 'x' } });
      assert.equal(seenAt('/hooks/kratos/after-login').length, 1);
      assert.ok(reply.status >= 400, 'no web hook is accepted without its key');
      assert.match(String(reply.headers['content-type']), /application\/json/, 'answered by the gateway');
    });

    it('proxies the Kratos public API under /.ory/kratos/public/ without the prefix', async () => {
      const reply = await send('/.ory/kratos/public/sessions/whoami');
      assert.equal(reply.status, 401);
      assert.ok(seen.some((r) => r.upstream === 'kratos-public' && r.url === '/sessions/whoami'));
    });

    it('serves the SPA, with index.html for client-side routes', async () => {
      const reply = await send('/settings/security');
      assert.equal(reply.status, 200);
      assert.equal(reply.body, INDEX_HTML);
      assert.match(String(reply.headers['content-security-policy']), /script-src 'self'/);
    });
  });

  describe('forwarded headers', () => {
    it('tells the gateway the real client address and https, ignoring a forged X-Forwarded-For', async () => {
      await send('/api/auth/session?forwarded', {
        headers: { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'http' },
      });
      const [seenRequest] = seenAt('/api/auth/session?forwarded');
      assert.equal(seenRequest?.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(seenRequest?.headers['x-forwarded-proto'], 'https');
      assert.equal(seenRequest?.headers['x-real-ip'], '127.0.0.1');
    });

    it('strips forged X-User-* headers before the gateway', async () => {
      await send('/api/auth/session?forged', { headers: { 'X-User-Id': 'admin', 'X-User-Roles': 'admin' } });
      const [seenRequest] = seenAt('/api/auth/session?forged');
      assert.ok(seenRequest, 'the request reached the gateway');
      assert.equal(seenRequest.headers['x-user-id'], undefined);
      assert.equal(seenRequest.headers['x-user-roles'], undefined);
    });
  });

  describe('limits', () => {
    it('answers 429 with Retry-After once a client exceeds the login rate, before the gateway', async () => {
      const attempt = () =>
        json('/api/auth/login/password', { identifier: 'nobody@example.com', password: 'wrong-password-1' });
      // Sent together, so the leaky bucket has no time to drain between them.
      const replies = await Promise.all(Array.from({ length: 9 }, attempt));
      const atGateway = seenAt('/api/auth/login/password').length;
      // nginx's own 429s never reach the gateway, and carry no RateLimit header (the gateway's do).
      const limited = replies.filter((r) => r.status === 429 && !r.headers['ratelimit']);
      assert.equal(atGateway + limited.length, 9, `statuses ${replies.map((r) => r.status).join(',')}`);
      // rate 10r/m with burst 5: six pass (seven if the clock ticks over), the rest stop at nginx.
      assert.ok(atGateway >= 6 && atGateway <= 7, `${atGateway} reached the gateway`);
      assert.equal(limited[0]?.headers['retry-after'], '60');
      assert.equal(JSON.parse(limited[0]?.body ?? '{}').error.code, 'rate_limited');
    });

    it('refuses a body over 1 MiB with 413 before it reaches the gateway', async () => {
      const reply = await send('/api/auth/identify', {
        method: 'POST',
        body: Buffer.alloc(2 * 1024 * 1024, 'a'),
        headers: { 'Content-Type': 'application/json', Origin: origin, 'X-CSRF': '1' },
      });
      assert.equal(reply.status, 413);
      assert.equal(JSON.parse(reply.body).error.code, 'payload_too_large');
      assert.equal(seenAt('/api/auth/identify').length, 0);
    });

    it('lets file uploads larger than 1 MiB through to the gateway', async () => {
      const reply = await send('/api/jars/some-jar/files?name=big.bin', {
        method: 'POST',
        body: Buffer.alloc(3 * 1024 * 1024, 'b'),
        headers: { 'Content-Type': 'application/octet-stream', Origin: origin, 'X-CSRF': '1' },
      });
      assert.notEqual(reply.status, 413);
      assert.equal(seenAt('/api/jars/some-jar/files').length, 1);
    });
  });

  describe('internal endpoints', () => {
    for (const path of ['/metrics', '/api/metrics', '/healthz', '/readyz']) {
      it(`does not expose ${path}`, async () => {
        const reply = await send(path);
        assert.equal(reply.status, 404);
        assert.equal(seen.filter((r) => r.url === path).length, 0);
      });
    }
  });

  describe('the auth_request-protected example upstream', () => {
    let cookie: string;

    before(async () => {
      const reply = await json('/api/auth/register', {
        email: 'nginx-user@example.com',
        password: 'a long passphrase 42',
      });
      assert.equal(reply.status, 201, reply.body);
      const setCookie = reply.headers['set-cookie'] ?? [];
      cookie = setCookie.map((line) => line.split(';')[0]).join('; ');
      assert.ok(cookie, 'a session cookie');
    });

    it('refuses an anonymous request with 401 and never reaches the upstream', async () => {
      const before = protectedApp.seen.length;
      const reply = await send('/app/report', {
        headers: { 'X-User-Id': 'forged', 'X-User-Roles': 'admin' },
      });
      assert.equal(reply.status, 401);
      assert.equal(protectedApp.seen.length, before);
    });

    it('passes the signed-in user on as X-User-* headers, replacing forged ones, without the cookie', async () => {
      const reply = await send('/app/report', {
        headers: {
          Cookie: cookie,
          'X-User-Id': 'forged',
          'X-User-Email': 'forged@example.com',
          'X-User-Roles': 'admin',
          'X-Auth-AAL': 'aal2',
        },
      });
      assert.equal(reply.status, 200, reply.body);
      const { url, headers } = JSON.parse(reply.body) as { url: string; headers: Record<string, string> };
      assert.equal(url, '/app/report');
      assert.match(headers['x-user-id'] ?? '', /^[0-9a-f-]{36}$/);
      assert.notEqual(headers['x-user-id'], 'forged');
      assert.equal(headers['x-user-email'], 'nginx-user@example.com');
      assert.equal(headers['x-auth-aal'], 'aal1');
      // A new user has no role: nginx then sends no X-User-Roles at all, and never the forged one.
      assert.notEqual(headers['x-user-roles'], 'admin');
      assert.equal(headers.cookie, undefined);
    });

    it('asked the gateway through /api/auth/verify with the original URI', async () => {
      const verifications = seenAt('/api/auth/verify');
      assert.ok(verifications.length >= 2);
      assert.equal(verifications.at(-1)?.headers['x-original-uri'], '/app/report');
      assert.equal(verifications.at(-1)?.headers['content-length'], undefined);
    });
  });
});
