import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { SESSION_CHECKS } from '../../gateway/src/access/routes.js';
import { createApp } from '../../gateway/src/app.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { signedUp } from './harness.js';

const SEED = 20_240_508;
const RUNS = 300;
const BATCH = 10;
const ORIGIN = 'http://localhost:3000';

interface Endpoint {
  method: string;
  path: string;
}

interface RouterLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
  rawPath?: string;
}

/** Every route the assembled app serves under /api, read from its routers (so new routes are fuzzed too). */
function apiEndpoints(gw: TestGateway): Endpoint[] {
  const found = new Map<string, Endpoint>();
  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const path of ([] as string[]).concat(layer.route.path))
          for (const method of Object.keys(layer.route.methods))
            found.set(`${method} ${prefix}${path}`, { method: method.toUpperCase(), path: prefix + path });
      } else if (layer.handle?.stack) {
        const mount = layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  const app = createApp(gw.deps) as unknown as { router: { stack: RouterLayer[] } };
  walk(app.router.stack, '');
  // The session checks answer ahead of the routers, where no walk sees them.
  for (const path of Object.keys(SESSION_CHECKS)) found.set(`get ${path}`, { method: 'GET', path });
  return [...found.values()].filter((e) => e.path.startsWith('/api/'));
}

const nested = (depth: number, leaf: string) => '['.repeat(depth) + leaf + ']'.repeat(depth);
const FIELDS = [
  'email',
  'identifier',
  'password',
  'credential',
  'name',
  'nickname',
  'traits',
  'code',
  'roles',
  'flowId',
];

/** Bodies that are wrong in every way a client can be wrong. */
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc
    .dictionary(fc.constantFrom(...FIELDS), fc.anything({ maxDepth: 3 }), { maxKeys: 4 })
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{', '{"email":', 'null', '""', '[]', '{"__proto__":{"admin":true}}', '{"constructor":{}}'),
  fc.integer({ min: 100, max: 20_000 }).map((d) => nested(d, '1')),
  fc.integer({ min: 100, max: 5_000 }).map((d) => `{"traits":${nested(d, '{}')}}`),
  fc.constant(JSON.stringify({ email: `${'a'.repeat(150_000)}@example.com`, password: 'x' })),
  fc.constant(JSON.stringify({ identifier: '\u0000\ud800', password: '\uffff'.repeat(2000) })),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=nope',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
);

const param = fc.oneof(
  fc.uuid(),
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.constantFrom('..', '%00', 'a'.repeat(3000), '__proto__', 'null', '-1'),
);

const cookie = fc.constantFrom(
  'own',
  '',
  'gw_session=garbage',
  'gw_session=s%3Aforged.signature',
  'gw_session=',
  `gw_session=${'x'.repeat(6000)}`,
  'ory_kratos_session=not-a-session',
  'gw_session=a; gw_session=b',
  '=; ;;',
);

const request = (endpoints: Endpoint[]) =>
  fc.record({
    endpoint: fc.constantFrom(...endpoints),
    body,
    contentType,
    param,
    cookie,
    csrf: fc.constantFrom('1', '1', '0', undefined),
    origin: fc.constantFrom(ORIGIN, ORIGIN, 'https://evil.example', 'null', undefined),
    query: fc.constantFrom('', '?aal=aal3', '?role=' + 'r'.repeat(500), '?a[b][c]=1', '?aal=aal1&aal=aal2'),
  });

type FuzzRequest = typeof request extends (e: Endpoint[]) => fc.Arbitrary<infer R> ? R : never;

let gw: TestGateway;
let ownCookie: string;
let endpoints: Endpoint[];
const seen: { status: number; method: string; path: string }[] = [];

async function send(r: FuzzRequest) {
  const path = r.endpoint.path.replace(/:[A-Za-z]+/g, () => encodeURIComponent(r.param)) + r.query;
  const headers: Record<string, string> = {};
  if (r.contentType) headers['Content-Type'] = r.contentType;
  if (r.csrf) headers['X-CSRF'] = r.csrf;
  if (r.origin) headers.Origin = r.origin;
  const jar = r.cookie === 'own' ? ownCookie : r.cookie;
  if (jar) headers.Cookie = jar;
  const hasBody = !['GET', 'HEAD'].includes(r.endpoint.method);
  const res = await fetch(gw.url + path, {
    method: r.endpoint.method,
    headers,
    body: hasBody ? r.body : undefined,
  });
  await res.arrayBuffer();
  seen.push({ status: res.status, method: r.endpoint.method, path: r.endpoint.path });
  return res.status;
}

async function counts() {
  const one = async (sql: string) => Number((await gw.deps.db.query<{ n: string }>(sql)).rows[0]!.n);
  return {
    identities: gw.kratos.state.identities.size,
    // Kratos' web hook deliveries are audited too; they follow a request, they are not one.
    successAudits: await one(
      `SELECT count(*) AS n FROM audit_events WHERE outcome = 'success' AND type <> 'webhook.received'`,
    ),
    passkeys: await one('SELECT count(*) AS n FROM passkey_credentials'),
    jars: await one('SELECT count(*) AS n FROM jars'),
  };
}

before(async () => {
  gw = await startTestGateway({
    env: {
      RATE_LIMIT_LOGIN: '100000/60',
      RATE_LIMIT_REGISTRATION: '100000/60',
      RATE_LIMIT_IDENTIFY: '100000/60',
      RATE_LIMIT_PASSKEY: '100000/60',
      RATE_LIMIT_RECOVERY: '100000/60',
      RATE_LIMIT_VERIFICATION: '100000/60',
      RATE_LIMIT_SECOND_FACTOR: '100000/60',
    },
  });
  const user = await signedUp(gw);
  ownCookie = user.browser.cookieHeader();
  endpoints = apiEndpoints(gw);
});
after(() => gw.close());

describe('fuzzing every JSON endpoint under /api', () => {
  it('finds the routes from the routers, and the session checks ahead of them', () => {
    const names = endpoints.map((e) => `${e.method} ${e.path}`);
    for (const expected of [
      'POST /api/auth/login/password',
      'GET /api/auth/session',
      'POST /api/auth/register',
    ])
      assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
  });

  it(`answers ${RUNS * BATCH} malformed requests without a 5xx, a crash or a change of state`, async () => {
    const before = await counts();
    await fc.assert(
      fc.asyncProperty(
        fc.array(request(endpoints), { minLength: BATCH, maxLength: BATCH }),
        async (batch) => {
          const statuses = await Promise.all(batch.map(send));
          statuses.forEach((status, i) =>
            assert.ok(status < 500, `${status} for ${JSON.stringify(batch[i]).slice(0, 500)}`),
          );
        },
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'the process is still up');
    // The cases reached every layer: CSRF and auth refusals, the body parser and the validators.
    const statuses = new Set(seen.map((s) => s.status));
    for (const expected of [400, 401, 403, 413, 415])
      assert.ok(statuses.has(expected), `no ${expected} among ${[...statuses].join(', ')}`);
    const accepted = seen.filter((s) => s.status < 300 && s.method !== 'GET');
    const after = await counts();
    const created = (path: string) => accepted.filter((a) => a.path === path).length;
    // Only a confirmed sign-up creates an identity (POST /register answers 202 and creates none).
    assert.equal(after.identities, before.identities + created('/api/auth/register/confirm'));
    assert.equal(after.jars, before.jars + created('/api/jars'));
    assert.equal(after.passkeys, before.passkeys + created('/api/auth/passkeys'));
    assert.ok(
      after.successAudits - before.successAudits <= accepted.length,
      `${after.successAudits - before.successAudits} success audit rows for ${accepted.length} accepted requests`,
    );
  });
});
