import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { signUpCode } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  echoServer,
  findNginx,
  freePort,
  recordingProxy,
  request,
  startNginx,
  startTestDns,
  type RecordingProxy,
  type Reply,
  type RunningNginx,
  type SeenRequest,
  type TestDns,
} from './harness.js';

const nginxBinary = findNginx();
// In CI a missing nginx is a failure (the suite runs and its setup throws); locally it is a skip.
const skip = !nginxBinary && !process.env.CI ? 'nginx is not installed (apt-get install nginx)' : false;

const INDEX_HTML = '<!doctype html><title>SPA</title><div id="root"></div>';
// The one name of every gateway replica, as the compose network alias `gateway` is.
const GATEWAY_NAME = 'gateway.test';
const REPLICA_ADDRESSES = ['127.0.0.2', '127.0.0.3'];

/** Every regular file below a folder (nginx's temp folders). */
function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe('nginx in front of two gateway replicas', { skip }, () => {
  let gateways: TestGateway[] = [];
  let taps: RecordingProxy[] = [];
  let kratosTap: RecordingProxy;
  let dns: TestDns;
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

  /** Both steps of a sign-up through nginx, with the code the gateway mailed to its sink. */
  async function signUp(email: string, password: string): Promise<Reply> {
    const mail = gateways[0]!.mail!;
    const seenMails = mail.to(email).length;
    const started = await json('/api/auth/register', { email, password });
    assert.equal(started.status, 202, started.body);
    const code = signUpCode((await mail.waitFor(email, seenMails)).raw);
    return json('/api/auth/register/confirm', { email, code });
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
    // Two replicas on one port at two loopback addresses, behind one DNS name.
    const firstTap = await recordingProxy('gateway-1', gateways[0]!.url, seen, {
      host: REPLICA_ADDRESSES[0],
    });
    const replicaPort = Number(firstTap.address.split(':')[1]);
    taps = [
      firstTap,
      await recordingProxy('gateway-2', gateways[1]!.url, seen, {
        host: REPLICA_ADDRESSES[1],
        port: replicaPort,
      }),
    ];
    kratosTap = await recordingProxy('kratos-public', first.kratos.publicUrl, seen);
    protectedApp = await echoServer();
    // nginx starts while the name resolves to no replica at all.
    dns = await startTestDns();
    nginx = await startNginx(nginxBinary, {
      httpPort,
      httpsPort,
      gatewayUpstream: `${GATEWAY_NAME}:${replicaPort}`,
      resolver: `${dns.address} valid=1s ipv6=off`,
      kratosPublicUpstream: kratosTap.address,
      protectedUpstream: protectedApp.address,
      indexHtml: INDEX_HTML,
    });
  });

  after(async () => {
    await nginx?.close();
    for (const tap of [...taps, kratosTap]) await tap?.close();
    await protectedApp?.close();
    await dns?.close();
    for (const gateway of gateways.reverse()) await gateway.close();
  });

  /** Sends requests until `done` holds for the answers (nginx keeps a resolved name for 1 s). */
  async function pollUntil(what: string, done: () => Promise<boolean>): Promise<void> {
    const started = Date.now();
    while (!(await done())) {
      if (Date.now() - started > 15_000) throw new Error(`timed out waiting until ${what}`);
      // Slow enough for nginx's own limit on /api/ (20 requests a second).
      await sleep(300);
    }
  }

  /** Which replica answered `count` fresh requests to /api/auth/session. */
  async function replicasServing(count: number): Promise<string[]> {
    const before = seenAt('/api/auth/session').length;
    for (let i = 0; i < count; i++) await send('/api/auth/session');
    return seenAt('/api/auth/session')
      .slice(before)
      .map((r) => r.upstream);
  }

  describe('names resolved at request time', () => {
    it('started while no replica resolved, and answers 502 until one does', async () => {
      const reply = await send('/api/auth/session');
      assert.equal(reply.status, 502);
      assert.equal(seenAt('/api/auth/session').length, 0);
    });

    it('serves through the first replica as soon as the name resolves to it', async () => {
      dns.set(GATEWAY_NAME, [REPLICA_ADDRESSES[0]!]);
      await pollUntil('gateway-1 answers', async () => (await send('/api/auth/session')).status === 401);
      assert.deepEqual([...new Set(await replicasServing(4))], ['gateway-1']);
    });

    it('follows a recreated replica to its new address', async () => {
      dns.set(GATEWAY_NAME, [REPLICA_ADDRESSES[1]!]);
      await pollUntil('only gateway-2 answers', async () =>
        (await replicasServing(3)).every((name) => name === 'gateway-2'),
      );
    });

    after(() => dns.set(GATEWAY_NAME, REPLICA_ADDRESSES));
  });

  describe('TLS and the plain-HTTP port', () => {
    it('redirects http to https with the same path, on the configured name whatever the Host', async () => {
      const reply = await request(`${httpBase}/api/auth/session?x=1`, {
        headers: { Host: 'evil.example' },
      });
      assert.equal(reply.status, 301);
      assert.equal(reply.headers.location, 'https://localhost/api/auth/session?x=1');
    });

    it('sends HSTS over https and no server version', async () => {
      const reply = await send('/');
      assert.match(String(reply.headers['strict-transport-security']), /max-age=\d{8}/);
      assert.equal(reply.headers.server, 'nginx');
    });
  });

  describe('routing', () => {
    it('proxies /api/ to the gateway, spreading requests over both replicas of the name', async () => {
      // nginx starts each request at a random address of the name, once both resolve.
      await pollUntil(
        'requests reach both replicas',
        async () => new Set(await replicasServing(6)).size === 2,
      );
      for (let i = 0; i < 4; i++) {
        const reply = await send('/api/auth/session');
        assert.equal(reply.status, 401);
        assert.equal(JSON.parse(reply.body).error.code, 'unauthenticated');
      }
    });

    it('does not route /hooks/ from outside', async () => {
      for (const method of ['POST', 'GET']) {
        const reply = await send('/hooks/kratos/after-login', {
          method,
          body: method === 'POST' ? '{}' : undefined,
          headers: { 'Content-Type': 'application/json', 'X-Webhook-Key': 'guess' },
        });
        assert.equal(reply.status, 404, method);
      }
      assert.equal(seenAt('/hooks/').length, 0);
    });

    it('passes no other Kratos public API request: no self-service POST, no API flow, no whoami', async () => {
      const kratosBefore = seen.filter((r) => r.upstream === 'kratos-public').length;
      const attempts: [string, string][] = [
        ['POST', '/.ory/kratos/public/self-service/login?flow=f'],
        ['POST', '/.ory/kratos/public/self-service/registration?flow=f'],
        ['POST', '/.ory/kratos/public/self-service/recovery?flow=f'],
        ['POST', '/.ory/kratos/public/self-service/verification?flow=f'],
        ['PUT', '/.ory/kratos/public/self-service/verification?flow=f'],
        ['POST', '/.ory/kratos/public/self-service/settings?flow=f'],
        ['GET', '/.ory/kratos/public/self-service/login/api'],
        ['GET', '/.ory/kratos/public/self-service/login/browser'],
        ['GET', '/.ory/kratos/public/self-service/registration/api'],
        ['GET', '/.ory/kratos/public/self-service/verification/api'],
        ['GET', '/.ory/kratos/public/sessions/whoami'],
        ['DELETE', '/.ory/kratos/public/self-service/logout/api'],
        ['POST', '/.ory/kratos/public/self-service/methods/oidc/callback/google/../../../../login?flow=f'],
        ['GET', '/.ory/kratos/public/self-service/methods/oidc/callback/google/extra'],
        ['GET', '/.ory/kratos/public/admin/identities'],
        ['GET', '/.ory/kratos/public/'],
      ];
      for (const [method, url] of attempts) {
        const reply = await send(url, {
          method,
          body: method === 'POST' ? 'identifier=a%40example.com&password=guess&method=password' : undefined,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        });
        assert.ok([403, 404, 405].includes(reply.status), `${method} ${url}: ${reply.status}`);
      }
      assert.equal(seen.filter((r) => r.upstream === 'kratos-public').length, kratosBefore);
    });

    it("passes the verification e-mail's link to Kratos: GET, that exact path, with its query", async () => {
      await send('/.ory/kratos/public/self-service/verification?flow=abc&code=123456');
      const last = seen.filter((r) => r.upstream === 'kratos-public').at(-1);
      assert.equal(last?.method, 'GET');
      assert.equal(last?.url, '/self-service/verification?flow=abc&code=123456');
    });

    it('passes OIDC provider callbacks to Kratos (GET and form POST)', async () => {
      await send('/.ory/kratos/public/self-service/methods/oidc/callback/google?code=c&state=s');
      let last = seen.filter((r) => r.upstream === 'kratos-public').at(-1);
      assert.equal(last?.url, '/self-service/methods/oidc/callback/google?code=c&state=s');
      await send('/.ory/kratos/public/self-service/methods/oidc/callback/apple', {
        method: 'POST',
        body: 'code=c&state=s',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      last = seen.filter((r) => r.upstream === 'kratos-public').at(-1);
      assert.equal(`${last?.method} ${last?.url}`, 'POST /self-service/methods/oidc/callback/apple');
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
      const reply = await signUp('nginx-user@example.com', 'a long passphrase 42');
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
  describe('Honey Jar files: plaintext never written to disk by nginx', () => {
    const SIZE = 24 * 1024 * 1024;
    const content = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i += 4) content.writeUInt32BE(i, i);
    let cookie: string;
    let fileUrl: string;

    const bufferedWarnings = () =>
      readFileSync(nginx.errorLog, 'utf8')
        .split('\n')
        .filter((line) => /buffered to a temporary file/.test(line));

    before(async () => {
      const reply = await signUp('nginx-files@example.com', 'a long passphrase 43');
      assert.equal(reply.status, 201, reply.body);
      cookie = (reply.headers['set-cookie'] ?? []).map((line) => line.split(';')[0]).join('; ');
    });

    it('streams an upload to the gateway without a client body temp file', async () => {
      const jar = await json('/api/jars', { name: 'nginx jar' }, { Cookie: cookie });
      assert.equal(jar.status, 201, jar.body);
      const jarId = (JSON.parse(jar.body) as { id: string }).id;
      const upload = await send(`/api/jars/${jarId}/files?name=big.bin`, {
        method: 'POST',
        body: content,
        headers: {
          'Content-Type': 'application/octet-stream',
          Origin: origin,
          'X-CSRF': '1',
          Cookie: cookie,
        },
      });
      assert.equal(upload.status, 201, upload.body);
      fileUrl = `/api/jars/${jarId}/files/${(JSON.parse(upload.body) as { id: string }).id}`;
      assert.deepEqual(bufferedWarnings(), []);
      assert.deepEqual(filesBelow(nginx.tempDir), []);
    });

    it('streams a download to a slow client without a proxy temp file', async () => {
      const started = seenAt(fileUrl).length;
      const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        https
          .get(
            base + fileUrl,
            { ca: nginx.ca, servername: 'localhost', headers: { Cookie: cookie }, agent: false },
            resolve,
          )
          .on('error', reject);
      });
      // The client reads nothing. nginx buffering the download would read the whole file from
      // the gateway into a temp file now; unbuffered, the gateway is held back by the client.
      response.pause();
      assert.equal(response.statusCode, 200);
      const record = () => seenAt(fileUrl)[started];
      let unchanged = 0;
      let lastBytes = -1;
      while (unchanged < 25 && !record()?.responseEnded) {
        const bytes = record()?.responseBytes ?? 0;
        unchanged = bytes === lastBytes ? unchanged + 1 : 0;
        lastBytes = bytes;
        await sleep(20);
      }
      const held = record();
      assert.ok(held, 'the download reached the gateway');
      assert.equal(held.responseEnded, false, 'the gateway could hand the whole file to nginx');
      assert.ok(held.responseBytes < SIZE, `${held.responseBytes} of ${SIZE} bytes left the gateway`);
      assert.deepEqual(filesBelow(nginx.tempDir), []);
      assert.deepEqual(bufferedWarnings(), []);

      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.resume();
      await new Promise((resolve) => response.on('end', resolve));
      const body = Buffer.concat(chunks);
      assert.equal(body.length, SIZE);
      assert.equal(
        createHash('sha256').update(body).digest('hex'),
        createHash('sha256').update(content).digest('hex'),
      );
      assert.deepEqual(bufferedWarnings(), []);
    });
  });
});
