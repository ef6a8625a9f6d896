import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { signedUp } from './harness.js';

// One trusted proxy hop, so each test can speak from its own client address and the
// per-IP counters of one test do not spill into another.
const env = { TRUST_PROXY_HOPS: '1', RATE_LIMIT_LOGIN: '4/60' };
let a: TestGateway;
let b: TestGateway;

before(async () => {
  a = await startTestGateway({ env });
  b = await startTestGateway({ share: a, env });
});
after(async () => {
  await b.close();
  await a.close();
});

let address = 1;
const fromNewAddress = () => ({ 'X-Forwarded-For': `198.51.100.${address++}` });

/** The same browser (same cookies) talking to the other replica. */
function sameBrowserOn(gw: TestGateway, browser: Browser, headers: Record<string, string> = {}) {
  const other = new Browser(gw.auth);
  for (const [k, v] of browser.cookies) other.cookies.set(k, v);
  return { other, headers };
}

describe('two gateway replicas behind one Redis', () => {
  it('accepts on one replica a session started on the other', async () => {
    const user = await signedUp(a);
    const { other } = sameBrowserOn(b, user.browser);
    const res = await other.get('/session');
    assert.equal(res.status, 200);
    assert.equal(res.body.identityId, user.identityId);
    assert.equal((await other.get('/verify')).status, 200);
  });

  it('accepts on the first replica a password login made on the second', async () => {
    const user = await signedUp(a);
    const onB = new Browser(b.auth);
    const login = await onB.post(
      '/login/password',
      { identifier: user.email, password: STRONG_PASSWORD },
      { headers: fromNewAddress() },
    );
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const { other } = sameBrowserOn(a, onB);
    assert.equal((await other.get('/session')).body.identityId, user.identityId);
  });

  it('ends the session on both replicas when it is logged out on one', async () => {
    const user = await signedUp(a);
    const { other } = sameBrowserOn(b, user.browser);
    assert.equal((await other.get('/session')).status, 200);
    assert.equal((await user.browser.post('/logout')).status, 204);
    assert.equal((await other.get('/session')).status, 401);
    assert.equal((await other.get('/verify')).status, 401);
  });

  it('ends on one replica every session when "log out everywhere" is used on the other', async () => {
    const user = await signedUp(a);
    const second = new Browser(b.auth);
    const login = await second.post(
      '/login/password',
      { identifier: user.email, password: STRONG_PASSWORD },
      { headers: fromNewAddress() },
    );
    assert.equal(login.status, 200);
    assert.equal((await user.browser.post('/logout/all')).status, 204);
    assert.equal((await second.get('/session')).status, 401);
  });

  it('counts login attempts across both replicas for the rate limit', async () => {
    const identifier = uniqueEmail('limited');
    const headers = fromNewAddress();
    const attempt = (gw: TestGateway) =>
      new Browser(gw.auth).post(
        '/login/password',
        { identifier, password: 'wrong-password-123' },
        { headers },
      );
    const statuses = [];
    for (const gw of [a, b, a, b]) statuses.push((await attempt(gw)).status);
    assert.deepEqual(statuses, [401, 401, 401, 401]);
    const fifth = await attempt(a);
    assert.equal(fifth.status, 429, 'the fifth attempt is refused although replica A saw only three');
    assert.equal(fifth.body.error.code, 'rate_limited');
    assert.equal((await attempt(b)).status, 429);
  });
});
