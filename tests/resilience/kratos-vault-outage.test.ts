import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startGatewayWithVault, type TestGateway, type VaultUnderTest } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { eventually, signedUp } from './harness.js';

const KRATOS_TIMEOUT_MS = 800;
let vault: VaultUnderTest;
let gw: TestGateway;

let close: () => Promise<void>;

before(async () => {
  ({ gw, vault, close } = await startGatewayWithVault({
    // Every session check asks Kratos, so an outage is seen at once.
    WHOAMI_CACHE_SECONDS: '0',
    KRATOS_TIMEOUT_MS: String(KRATOS_TIMEOUT_MS),
    VAULT_TIMEOUT_MS: '800',
    RATE_LIMIT_LOGIN: '100/60',
    RATE_LIMIT_REGISTRATION: '100/60',
    RATE_LIMIT_IDENTIFY: '100/60',
  }));
});
after(() => close());
beforeEach(async () => {
  gw.kratos.setLatency(0);
  await gw.kratos.start().catch(() => undefined);
  await vault.unseal();
});

/** The requests a signed-in user and a stranger make, answered while a dependency misbehaves. */
async function probe(user: { browser: Browser; email: string }) {
  const started = Date.now();
  const answers = {
    session: await user.browser.get('/session'),
    verify: await user.browser.get('/verify'),
    login: await new Browser(gw.auth).post('/login/password', {
      identifier: user.email,
      password: STRONG_PASSWORD,
    }),
    register: await new Browser(gw.auth).post('/register', {
      email: uniqueEmail(),
      password: STRONG_PASSWORD,
    }),
  };
  return { answers, tookMs: Date.now() - started };
}

function assertRefusedCleanly(answers: Record<string, { status: number; body: any }>) {
  for (const [what, res] of Object.entries(answers)) {
    assert.ok([502, 503, 504].includes(res.status), `${what}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(typeof res.body.error.code, 'string', what);
  }
}

describe('the Kratos double stopped', () => {
  it('answers 5xx-unavailable (never 500, never "signed out"), creates nothing, and recovers', async () => {
    const user = await signedUp(gw);
    const identities = gw.kratos.state.identities.size;
    await gw.kratos.stop();
    const { answers } = await probe(user);
    assertRefusedCleanly(answers);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    await gw.kratos.start();
    assert.equal(gw.kratos.state.identities.size, identities, 'no identity was created during the outage');
    await eventually(async () => (await user.browser.get('/session')).status === 200, 10_000);
    assert.equal((await user.browser.get('/session')).body.email, user.email);
  });
});

describe('the Kratos double slower than KRATOS_TIMEOUT_MS', () => {
  it('gives up after the timeout instead of hanging, and recovers when Kratos is fast again', async () => {
    const user = await signedUp(gw);
    gw.kratos.setLatency(KRATOS_TIMEOUT_MS * 4);
    const { answers, tookMs } = await probe(user);
    assertRefusedCleanly(answers);
    // Four requests, each bounded by the timeout (a login makes a few calls): far below 4 × latency each.
    assert.ok(tookMs < 4 * KRATOS_TIMEOUT_MS * 4, `the four requests took ${tookMs} ms`);
    gw.kratos.setLatency(0);
    await eventually(async () => (await user.browser.get('/session')).status === 200, 10_000);
  });
});

describe('the Vault double sealed', () => {
  it('refuses uploads with 503, leaves no file behind, and serves them again once unsealed', async () => {
    const user = await signedUp(gw);
    const api = new Browser(`${gw.url}/api`);
    for (const [k, v] of user.browser.cookies) api.cookies.set(k, v);
    const jar = await api.post('/jars', { name: 'Sealed' });
    assert.equal(jar.status, 201, JSON.stringify(jar.body));
    const upload = () =>
      api.request('POST', `/jars/${jar.body.id}/files?name=a.bin`, {
        body: Buffer.from('secret contents'),
        headers: { 'Content-Type': 'application/octet-stream' },
      });

    await vault.seal();
    const refused = await upload();
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal((await api.get(`/jars/${jar.body.id}/files`)).body.files.length, 0, 'nothing half-written');
    assert.equal((await user.browser.get('/session')).status, 200, 'sign-in does not need Vault');

    await vault.unseal();
    const stored = await upload();
    assert.equal(stored.status, 201, JSON.stringify(stored.body));
    assert.equal((await api.get(`/jars/${jar.body.id}/files`)).body.files.length, 1);
  });
});
