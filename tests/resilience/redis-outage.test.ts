import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../../gateway/src/errors/app-error.js';
import { connectRedis } from '../../gateway/src/redis/client.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD } from '../helpers/http.js';
import { eventually, loadLoop, signedUp, startPrivateRedis, tally, type PrivateRedis } from './harness.js';

let redis: PrivateRedis;
let gw: TestGateway;

before(async () => {
  redis = await startPrivateRedis();
  gw = await startTestGateway({
    env: { REDIS_URL: redis.url, RATE_LIMIT_LOGIN: '1000/60', RATE_LIMIT_REGISTRATION: '1000/60' },
  });
});
after(async () => {
  await gw.close();
  await redis.close();
});

describe('Redis stopped mid-load', () => {
  it('answers 503 while Redis is down, never 500, never a signed-in answer to a stranger, and recovers', async () => {
    const user = await signedUp(gw);
    const stranger = new Browser(gw.auth);
    const signedIn = loadLoop(4, async () => (await user.browser.get('/session')).status);
    const anonymous = loadLoop(2, async () => (await stranger.get('/verify')).status);
    await sleep(300);
    assert.ok(signedIn.statuses.length > 0, 'the load runs');
    assert.deepEqual(tally(signedIn.statuses), { 200: signedIn.statuses.length }, 'all signed in before');

    await redis.kill();
    await sleep(500);
    const during = {
      session: await user.browser.get('/session'),
      verify: await user.browser.get('/verify'),
      login: await new Browser(gw.auth).post('/login/password', {
        identifier: user.email,
        password: STRONG_PASSWORD,
      }),
      jars: await user.browser.get('/../jars'),
      logout: await user.browser.post('/logout'),
    };
    for (const [name, res] of Object.entries(during)) {
      assert.equal(res.status, 503, `${name}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error.code, /unavailable/, name);
    }
    const health = await fetch(`${gw.url}/healthz`);
    assert.equal(health.status, 200, 'the process stays up');
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 503, 'and says it is not ready');

    await redis.start();
    const recoveredInMs = await eventually(
      async () => (await user.browser.get('/session')).status === 200,
      10_000,
    );
    await sleep(200);
    await signedIn.stop();
    await anonymous.stop();

    assert.ok(recoveredInMs < 10_000, `service returned ${recoveredInMs} ms after Redis did`);
    assert.deepEqual(signedIn.errors, [], 'every request got an answer');
    assert.deepEqual(anonymous.errors, []);
    const seen = tally(signedIn.statuses);
    assert.deepEqual(
      Object.keys(seen).filter((s) => s !== '200' && s !== '503'),
      [],
      `signed-in statuses ${JSON.stringify(seen)}`,
    );
    assert.ok((seen[503] ?? 0) > 0, 'the outage was seen by the load');
    const strangers = tally(anonymous.statuses);
    assert.deepEqual(
      Object.keys(strangers).filter((s) => s !== '401' && s !== '503'),
      [],
      `anonymous statuses ${JSON.stringify(strangers)}`,
    );
  });

  it('keeps the session the user had before the outage', async () => {
    const user = await signedUp(gw);
    await redis.kill();
    assert.equal((await user.browser.get('/session')).status, 503);
    await redis.start();
    await eventually(async () => (await user.browser.get('/session')).status === 200, 10_000);
    assert.equal((await user.browser.get('/session')).body.email, user.email);
  });
});

describe('a Redis that stops answering (frozen, its connections open)', () => {
  it('fails each command with a 503 at the command deadline, and answers again once Redis does', async () => {
    const frozen = await startPrivateRedis();
    const kv = await connectRedis(frozen.url, 'frozen:', () => undefined, { commandTimeoutMs: 300 });
    try {
      await kv.set('k', 'v', 60);
      frozen.pause();
      const started = Date.now();
      const failures = await Promise.all(
        [kv.get('k'), kv.getCached('k'), kv.set('k', 'w', 60), kv.hGetAll('h')].map((p) =>
          p.then(
            () => undefined,
            (err: unknown) => err,
          ),
        ),
      );
      const waited = Date.now() - started;
      for (const err of failures) {
        assert.ok(err instanceof AppError, String(err));
        assert.equal(err.status, 503);
        assert.equal(err.code, 'session_store_unavailable');
      }
      assert.ok(waited >= 250 && waited < 3000, `failed after ${waited} ms`);
      frozen.resume();
      const answers = async () => {
        try {
          await kv.set('after', 'yes', 60);
          return (await kv.get('after')) === 'yes';
        } catch {
          return false;
        }
      };
      await eventually(answers, 5000);
    } finally {
      frozen.resume();
      await kv.close();
      await frozen.close();
    }
  });
});
