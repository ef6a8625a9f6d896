import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Request } from 'express';
import { connectRedis } from '../../gateway/src/redis/client.js';
import { clientIpKey } from '../../gateway/src/security/client-key.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, uniqueEmail } from '../helpers/http.js';

// Two replicas behind one trusted proxy (TRUST_PROXY_HOPS=1), sharing Redis and the database.
const LIMITS = { TRUST_PROXY_HOPS: '1', RATE_LIMIT_LOGIN: '3/60', RATE_LIMIT_IDENTIFY: '2/2' };
let first: TestGateway;
let second: TestGateway;

before(async () => {
  first = await startTestGateway({ env: LIMITS });
  second = await startTestGateway({ env: LIMITS, share: first });
});
after(async () => {
  await second?.close();
  await first?.close();
});

/** A request as our proxy forwards it: the client's address appended to X-Forwarded-For. */
function viaProxy(gw: TestGateway, clientIp: string, spoofed?: string) {
  const browser = new Browser(gw.auth);
  const xff = spoofed ? `${spoofed}, ${clientIp}` : clientIp;
  return {
    login: (identifier: string) =>
      browser.post(
        '/login/password',
        { identifier, password: 'not-the-password-1' },
        { headers: { 'X-Forwarded-For': xff } },
      ),
    identify: (identifier: string) =>
      browser.post('/identify', { identifier }, { headers: { 'X-Forwarded-For': xff } }),
  };
}

let ipCounter = 0;
const freshIp = () => `198.51.100.${++ipCounter}`;

describe('rate limits shared by every replica', () => {
  it('counts password logins per client IP across both instances and answers 429 with Retry-After and RateLimit headers', async () => {
    const ip = freshIp();
    for (const gw of [first, second, first]) {
      const res = await viaProxy(gw, ip).login(uniqueEmail());
      assert.equal(res.status, 401, JSON.stringify(res.body));
    }
    const refused = await viaProxy(second, ip).login(uniqueEmail());
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'rate_limited');
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal(refused.body.error.details.retryAfterSeconds, retryAfter);
    assert.match(refused.headers.get('ratelimit-policy') ?? '', /"login-ip"; q=3; w=60/);
    assert.match(refused.headers.get('ratelimit') ?? '', /"login-ip"; r=0; t=\d+/);
  });

  it('counts password logins per identifier, whatever address they come from', async () => {
    const victim = uniqueEmail('victim');
    for (const gw of [first, second, first])
      assert.equal((await viaProxy(gw, freshIp()).login(victim)).status, 401);
    const refused = await viaProxy(second, freshIp()).login(victim.toUpperCase());
    assert.equal(refused.status, 429);
    assert.match(refused.headers.get('ratelimit-policy') ?? '', /"login-id"/);
  });

  it('records one rate_limit.refused audit event per client and window, not one per refused request', async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) await viaProxy(first, ip).login(uniqueEmail());
    for (let i = 0; i < 3; i++) assert.equal((await viaProxy(second, ip).login(uniqueEmail())).status, 429);
    const { rows } = await first.deps.db.query<{ count: string }>(
      "SELECT count(*) AS count FROM audit_events WHERE type = 'rate_limit.refused' AND ip = $1",
      [ip],
    );
    assert.equal(Number(rows[0]!.count), 1);
  });

  it('lets the client in again once the window is over', async () => {
    const ip = freshIp();
    let refused;
    for (let i = 0; i < 6 && !refused; i++) {
      const res = await viaProxy(i % 2 ? second : first, ip).identify(uniqueEmail());
      if (res.status === 429) refused = res;
      else assert.equal(res.status, 200);
    }
    assert.ok(refused, 'the identify limit (2 per 2 s) was never reached');
    await sleep(Number(refused.headers.get('retry-after')) * 1000 + 300);
    assert.equal((await viaProxy(second, ip).identify(uniqueEmail())).status, 200);
  });
});

describe('client address behind TRUST_PROXY_HOPS', () => {
  it('ignores addresses a client wrote into X-Forwarded-For beyond the trusted proxy', async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) {
      const res = await viaProxy(first, ip, `203.0.113.${i}`).login(uniqueEmail());
      assert.equal(res.status, 401);
    }
    const refused = await viaProxy(first, ip, '203.0.113.99').login(uniqueEmail());
    assert.equal(refused.status, 429, 'a spoofed X-Forwarded-For entry must not give a fresh counter');
  });

  it('without a trusted proxy, ignores X-Forwarded-For altogether', async () => {
    const direct = await startTestGateway({ env: { RATE_LIMIT_LOGIN: '2/60' } });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await new Browser(direct.auth).post(
          '/login/password',
          { identifier: uniqueEmail(), password: 'not-the-password-1' },
          { headers: { 'X-Forwarded-For': `203.0.113.${i}` } },
        );
        statuses.push(res.status);
      }
      assert.deepEqual(statuses, [401, 401, 429]);
    } finally {
      await direct.close();
    }
  });

  it('counts IPv6 clients per /56 subnet', () => {
    const key = (ip: string) => clientIpKey({ ip, socket: {} } as Request, 56);
    assert.equal(key('2001:db8:1:100::1'), key('2001:db8:1:1ff:abcd::2'));
    assert.notEqual(key('2001:db8:1:100::1'), key('2001:db8:1:200::1'));
    assert.equal(key('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(key('192.0.2.7'), '192.0.2.7');
  });
});

describe('when Redis is down', () => {
  it('refuses password logins with 503 instead of letting unlimited attempts through', async () => {
    const kv = await connectRedis(
      process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      `t-down-${Date.now()}:`,
      () => undefined,
    );
    const gw = await startTestGateway({ overrides: { kv } });
    try {
      kv.client!.destroy();
      const res = await new Browser(gw.auth).post('/login/password', {
        identifier: uniqueEmail(),
        password: 'not-the-password-1',
      });
      assert.equal(res.status, 503);
      assert.equal(res.body.error.code, 'rate_limiter_unavailable');
    } finally {
      await gw.close().catch(() => undefined);
    }
  });
});
