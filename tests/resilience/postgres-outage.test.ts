import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { checkpointDir, readCheckpoints } from '../../gateway/src/audit/checkpoints.js';
import { verifyAuditChain } from '../../gateway/src/audit/verify-chain.js';
import { resolveAuditChainKey } from '../../gateway/src/keys/audit-chain-key.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { eventually, signedUp, startTcpProxy, type TcpProxy } from './harness.js';

const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const name = `gw_resilience_${randomBytes(5).toString('hex')}`;
let admin: pg.Client | undefined;
let direct: pg.Client;
let proxy: TcpProxy;
let gw: TestGateway;

async function reachable(): Promise<boolean> {
  admin = new pg.Client({ connectionString: base.toString(), connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
    return true;
  } catch {
    admin = undefined;
    return false;
  }
}

before(async () => {
  if (!(await reachable())) {
    // In CI a missing Postgres is a failure, not a skip.
    if (process.env.CI) throw new Error(`no Postgres at ${base.host}: set DATABASE_URL`);
    return;
  }
  await admin!.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  direct = new pg.Client({ connectionString: url.toString() });
  await direct.connect();
  proxy = await startTcpProxy({ host: base.hostname, port: Number(base.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  gw = await startTestGateway({ env: { DATABASE_URL: url.toString(), RATE_LIMIT_LOGIN: '100/60' } });
});

after(async () => {
  if (!admin) return;
  await gw?.close();
  await proxy?.close();
  await direct?.end();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});

const auditRows = async () =>
  Number((await direct.query('SELECT count(*) AS n FROM audit_events')).rows[0].n);
const jarCount = async () => Number((await direct.query('SELECT count(*) AS n FROM jars')).rows[0].n);

describe('Postgres unavailable', () => {
  it('answers 503 (never 500) while the database is gone, writes nothing, and recovers', async (t) => {
    if (!admin) return t.skip('no Postgres server reachable');
    const user = await signedUp(gw);
    const api = new Browser(`${gw.url}/api`);
    for (const [k, v] of user.browser.cookies) api.cookies.set(k, v);
    const rowsBefore = await auditRows();
    const jarsBefore = await jarCount();

    proxy.cut();
    const started = Date.now();
    const during = {
      createJar: await api.post('/jars', { name: 'During the outage' }),
      listPasskeys: await user.browser.get('/passkeys'),
      login: await new Browser(gw.auth).post('/login/password', {
        identifier: user.email,
        password: STRONG_PASSWORD,
      }),
      register: await new Browser(gw.auth).post('/register', {
        email: uniqueEmail(),
        password: STRONG_PASSWORD,
      }),
    };
    assert.ok(Date.now() - started < 20_000, 'no request hangs');
    for (const [what, res] of Object.entries(during)) {
      assert.equal(res.status, 503, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.code, /unavailable/, what);
    }
    const session = await user.browser.get('/session');
    assert.ok([200, 503].includes(session.status), `session check answered ${session.status}`);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 503);

    proxy.restore();
    await eventually(async () => (await api.get('/jars')).status === 200, 15_000);
    assert.equal(await jarCount(), jarsBefore, 'the refused jar was not half-created');
    const created = await api.post('/jars', { name: 'After the outage' });
    assert.equal(created.status, 201);
    assert.equal(await jarCount(), jarsBefore + 1);
    assert.ok((await auditRows()) >= rowsBefore);
    // Read through the direct connection, checked with the gateway's chain key and checkpoints.
    const checkpoints = await readCheckpoints(checkpointDir(gw.deps.config.DATA_DIR));
    const key = (await resolveAuditChainKey(gw.deps.config)).key;
    const chain = await verifyAuditChain(
      {
        query: async (sql, params) => {
          const res = await direct.query(sql, params);
          return { rows: res.rows, rowCount: res.rowCount ?? 0 };
        },
      },
      { key, checkpoints },
    );
    assert.ok(chain.ok, `audit chain intact after the outage: ${JSON.stringify(chain)}`);
  });

  it('does not leave a signed-in browser behind a login that answered 503', async (t) => {
    if (!admin) return t.skip('no Postgres server reachable');
    const user = await signedUp(gw);
    await user.browser.post('/logout');
    proxy.cut();
    const browser = new Browser(gw.auth);
    const login = await browser.post('/login/password', {
      identifier: user.email,
      password: STRONG_PASSWORD,
    });
    proxy.restore();
    assert.equal(login.status, 503);
    await eventually(async () => (await fetch(`${gw.url}/readyz`)).status === 200, 15_000);
    assert.equal((await browser.get('/session')).status, 401);
  });
});
