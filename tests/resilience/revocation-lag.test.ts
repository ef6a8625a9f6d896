/**
 * Sessions are read through each replica's client-side cache, which Redis invalidates by a
 * push: asynchronous. So the lag of a revocation on the other replica is measured, not
 * assumed: at once on the replica that did it, within 100 ms on the other, worst case over
 * 1,000 trials of logout, logout everywhere and revoking one session, plus admin revocation
 * and deactivation.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { startAccountGateway } from '../helpers/account.js';
import { aal2User, passwordLogin, seedIdentity, type TestUser } from '../helpers/admin-session.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser } from '../helpers/http.js';

// REVOCATION_TRIALS shortens a local run; CI runs the full thousand.
const TRIALS = Number(process.env.REVOCATION_TRIALS ?? 1000);
/** Trials run by this many users at once (each its own sign-ins and revocations). */
const WORKERS = 2;
const LAG_LIMIT_MS = 100;

let a: TestGateway;
let b: TestGateway;
let admin: TestUser;

// Over a thousand password sign-ins of one user from one address.
const env = { RATE_LIMIT_LOGIN: '100000/60' };

before(async () => {
  a = await startAccountGateway({ env });
  b = await startTestGateway({ share: a, env });
  admin = await aal2User(a, ['admin']);
});
after(async () => {
  await b.close();
  await a.close();
});

/** The same cookies, talking to another replica. */
function sameCookiesOn(gw: TestGateway, browser: Browser): Browser {
  const copy = new Browser(gw.auth);
  for (const [k, v] of browser.cookies) copy.cookies.set(k, v);
  return copy;
}

type Revocation = (victim: Browser, victimSessionId: string, identityId: string) => Promise<void>;

/**
 * Signs `email` in on replica A, warms the session on both replicas, revokes it on A, and
 * answers how long replica B was still seen accepting it after the revocation was
 * acknowledged (0 when its first check after that already refused it).
 */
async function lagOf(email: string, identityId: string, revoke: Revocation): Promise<number> {
  const victim = await passwordLogin(a, email);
  const onA = sameCookiesOn(a, victim);
  const onB = sameCookiesOn(b, victim);
  const session = await onB.get('/session');
  assert.equal(session.status, 200);
  assert.equal((await onA.get('/verify')).status, 200);
  await revoke(victim, session.body.sessionId as string, identityId);
  const acknowledged = performance.now();
  assert.equal((await onA.get('/session')).status, 401, 'the replica that revoked it accepts it no more');
  // The lag is how long after the acknowledgement replica B was still seen accepting the
  // session: the start of the last check it answered 200 (its read came after that start).
  // The time a refusal takes to travel back is not lag, so a loaded machine does not count.
  let lastAccepted = 0;
  for (;;) {
    const asked = performance.now() - acknowledged;
    const status = (await onB.get('/verify')).status;
    if (status === 401) return lastAccepted;
    assert.equal(status, 200);
    lastAccepted = asked;
    assert.ok(asked <= LAG_LIMIT_MS, `replica B still accepted the session ${asked.toFixed(1)} ms after`);
  }
}

const summary = (lags: number[]) => {
  const sorted = [...lags].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `n=${lags.length} p50=${at(0.5).toFixed(2)} ms p99=${at(0.99).toFixed(2)} ms max=${at(1).toFixed(2)} ms`;
};

describe('revocation reaches every replica', () => {
  it(`within ${LAG_LIMIT_MS} ms on the other replica, worst case over ${TRIALS} trials`, async (t) => {
    const lags = new Map<string, number[]>();
    const worker = async (trials: number) => {
      const user = await seedIdentity(a);
      // A second session of the same user revokes the victim's by id (DELETE /sessions/:id).
      let controller = await passwordLogin(a, user.email);
      const kinds: [string, Revocation][] = [
        ['logout', async (victim) => assert.equal((await victim.post('/logout')).status, 204)],
        [
          'revoke one session',
          async (_v, id) => assert.equal((await controller.delete(`/sessions/${id}`)).status, 204),
        ],
        ['logout everywhere', async (victim) => assert.equal((await victim.post('/logout/all')).status, 204)],
      ];
      for (let i = 0; i < trials; i++) {
        const [name, revoke] = kinds[i % kinds.length]!;
        const lag = await lagOf(user.email, user.id, revoke);
        lags.set(name, [...(lags.get(name) ?? []), lag]);
        // "Log out everywhere" ended the controller too: it signs in again.
        if (name === 'logout everywhere') controller = await passwordLogin(a, user.email);
      }
    };
    await Promise.all(
      Array.from({ length: WORKERS }, (_, w) =>
        worker(Math.floor(TRIALS / WORKERS) + (w < TRIALS % WORKERS ? 1 : 0)),
      ),
    );
    const all = [...lags.values()].flat();
    for (const [name, values] of lags) t.diagnostic(`${name}: ${summary(values)}`);
    t.diagnostic(`all: ${summary(all)}`);
    assert.equal(all.length, TRIALS);
    assert.ok(Math.max(...all) <= LAG_LIMIT_MS);
  });

  it('for an admin revocation and a deactivation too', async (t) => {
    const lags: number[] = [];
    const call = (method: 'DELETE' | 'POST', path: string) =>
      admin.browser.request(method, `/../admin${path}`);
    for (let i = 0; i < 20; i++) {
      const user = await seedIdentity(a);
      lags.push(
        await lagOf(user.email, user.id, async (_victim, _id, identityId) => {
          const res = await call('DELETE', `/users/${identityId}/sessions`);
          assert.equal(res.status, 204, JSON.stringify(res.body));
        }),
      );
      lags.push(
        await lagOf(user.email, user.id, async (_victim, _id, identityId) => {
          const res = await call('POST', `/users/${identityId}/deactivate`);
          assert.ok(res.status < 300, JSON.stringify(res.body));
        }),
      );
    }
    t.diagnostic(`admin revoke and deactivate: ${summary(lags)}`);
    assert.ok(Math.max(...lags) <= LAG_LIMIT_MS);
  });
});
