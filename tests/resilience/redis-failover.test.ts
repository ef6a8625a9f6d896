/**
 * Failover of Redis under load, measured. A gateway on Redis Sentinel (one master, one
 * replica, three sentinels) and one on Redis Cluster (three masters with a replica each)
 * serve a steady load of password sign-ins and session checks while the master that holds
 * a signed-in user's session is killed (SIGKILL). Sentinel promotes the replica, or the
 * cluster fails the shard over; the killed server then comes back, as a supervisor would
 * restart it, and rejoins as a replica. Meanwhile the gateway answers 503 with Retry-After,
 * never 500, and recovers by itself; every sign-in it acknowledged (its session write
 * waited for a replica) is still signed in afterwards. The times are reported as test
 * diagnostics: until the promotion, until session checks answer again, until sign-ins do.
 * With a shard's replica down, a sign-in waits the bounded replica_ack_ms and answers 503,
 * while session checks (reads, on their own connection) go on unhindered.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { storageKey } from '../../gateway/src/session/session-store.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD } from '../helpers/http.js';
import {
  infoFields,
  startCluster,
  startSentinel,
  until,
  type RedisProcess,
  type RedisTopology,
} from '../helpers/redis-topologies.js';
import { signedUp } from './harness.js';

/** How long a session write waits for the replica before it answers 503. */
const REPLICA_ACK_MS = 500;

interface Outcome {
  at: number;
  status: number;
  retryAfter: string | null;
  /** The error code of a refusal. */
  code?: string;
}

/** `workers` loops of `request` until stopped, each answer time-stamped. */
function timedLoad(
  workers: number,
  request: () => Promise<{ status: number; headers: Headers; body?: { error?: { code?: string } } }>,
) {
  const outcomes: Outcome[] = [];
  const errors: unknown[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        const res = await request();
        outcomes.push({
          at: performance.now(),
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          code: res.body?.error?.code,
        });
      } catch (err) {
        errors.push(err);
        await sleep(20);
      }
    }
  });
  return {
    outcomes,
    errors,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const statusesOf = (outcomes: Outcome[]) => [...new Set(outcomes.map((o) => o.status))].sort();

/** Milliseconds from `since` to the last answer that was not a success (0 when none was). */
function recoveredAfter(outcomes: Outcome[], since: number): number {
  const failures = outcomes.filter((o) => o.at >= since && o.status >= 300);
  return failures.length === 0 ? 0 : Math.round(failures.at(-1)!.at - since);
}

const topologies: [string, () => Promise<RedisTopology>][] = [
  ['Sentinel', () => startSentinel()],
  ['Cluster', () => startCluster()],
];

for (const [name, start] of topologies) {
  describe(`Redis ${name}: the master killed under load, a replica missing`, () => {
    let topology: RedisTopology;
    let gw: TestGateway;

    before(async () => {
      topology = await start();
      gw = await startTestGateway({
        env: {
          REDIS_URL: `${topology.url}?replica_ack_ms=${REPLICA_ACK_MS}`,
          RATE_LIMIT_LOGIN: '100000/60',
          RATE_LIMIT_REGISTRATION: '1000/60',
        },
      });
    });
    after(async () => {
      await gw?.close();
      await topology?.stop();
    });

    it('answers 503 (never 500) without a master, recovers by itself and loses no acknowledged session', async (t) => {
      const users = [await signedUp(gw), await signedUp(gw), await signedUp(gw)];
      const watched = users[0]!;
      const sessionKey = `${gw.deps.config.REDIS_KEY_PREFIX}sess:${storageKey(watched.browser.cookies.get('gw_session')!)}`;
      const acknowledged: { browser: Browser; at: number }[] = [];
      let turn = 0;
      const checks = timedLoad(4, () => users[turn++ % users.length]!.browser.get('/session'));
      const signIns = timedLoad(2, async () => {
        const browser = new Browser(gw.auth);
        const user = users[turn++ % users.length]!;
        const res = await browser.post('/login/password', {
          identifier: user.email,
          password: STRONG_PASSWORD,
        });
        if (res.status === 200) acknowledged.push({ browser, at: performance.now() });
        return res;
      });
      await until(
        'load under way',
        async () => checks.outcomes.length >= 50 && signIns.outcomes.length >= 10,
      );
      assert.deepEqual(statusesOf(checks.outcomes), [200], 'every check succeeds before the failure');
      assert.deepEqual(statusesOf(signIns.outcomes), [200], 'every sign-in succeeds before the failure');

      const victim: RedisProcess = await topology.masterOf(sessionKey);
      const killedAt = performance.now();
      await victim.kill();
      await until('a new master', async () => (await topology.masterOf(sessionKey)) !== victim, 30_000);
      const promotedMs = Math.round(performance.now() - killedAt);
      // The killed server comes back, as its supervisor would restart it, and follows the new master.
      await victim.start();
      await topology.waitUntilHealthy(60_000);
      const healthyMs = Math.round(performance.now() - killedAt);
      // The gateway finds its way back by itself: nothing is restarted or told.
      const recentAnswers = () => {
        const since = performance.now() - 2000;
        const pick = (o: Outcome[]) =>
          o.filter((x) => x.at > since).map((x) => (x.code ? `${x.status} ${x.code}` : x.status));
        return `checks ${JSON.stringify(pick(checks.outcomes))}, sign-ins ${JSON.stringify(pick(signIns.outcomes))}, errors ${String(checks.errors.at(-1) ?? signIns.errors.at(-1) ?? 'none')}`;
      };
      await until(
        'session checks and sign-ins answered again',
        async () => {
          const recent = performance.now() - 500;
          const last = (o: Outcome[]) => o.filter((x) => x.at > recent);
          const c = last(checks.outcomes);
          const s = last(signIns.outcomes);
          return (
            c.length > 0 &&
            s.length > 0 &&
            c.every((x) => x.status === 200) &&
            s.every((x) => x.status === 200)
          );
        },
        30_000,
      ).catch(async (err: unknown) => {
        // A durable write to the shard that failed over (the watched session's slot), and to another.
        const probeOn = (key: string) =>
          gw.deps.kv.durable
            .set(key, 'x', 10)
            .then(() => `${key}: a durable write works`)
            .catch((e: unknown) => `${key}: fails: ${String((e as { cause?: unknown }).cause ?? e)}`);
        const probe = `${await probeOn(`probe:{${sessionKey}}`)}; ${await probeOn(`probe:{${watched.identityId}}`)}`;
        throw new Error(`${String(err)}; in the last 2 s: ${recentAnswers()}; ${probe}`);
      });
      await checks.stop();
      await signIns.stop();

      assert.deepEqual(checks.errors, [], 'every check got an answer');
      assert.deepEqual(signIns.errors, [], 'every sign-in got an answer');
      const during = [...checks.outcomes, ...signIns.outcomes].filter((o) => o.at >= killedAt);
      assert.ok(
        during.some((o) => o.status === 503),
        'the outage was seen by the load',
      );
      assert.deepEqual(
        statusesOf(checks.outcomes).filter((s) => s !== 200 && s !== 503),
        [],
        'session checks: 200 or 503, never 401 or 500',
      );
      assert.deepEqual(
        statusesOf(signIns.outcomes).filter((s) => s !== 200 && s !== 503),
        [],
        'sign-ins: 200 or 503, never 500',
      );
      for (const o of during.filter((x) => x.status === 503))
        assert.ok(Number(o.retryAfter) > 0, 'every 503 says when to try again');

      const acknowledgedDuring = acknowledged.filter((a) => a.at >= killedAt).length;
      for (const { browser } of acknowledged) assert.equal((await browser.get('/session')).status, 200);
      for (const user of users) assert.equal((await user.browser.get('/session')).status, 200);

      const readsMs = recoveredAfter(checks.outcomes, killedAt);
      const writesMs = recoveredAfter(signIns.outcomes, killedAt);
      t.diagnostic(
        `${name}: new master ${promotedMs} ms after the kill, topology healthy after ${healthyMs} ms; ` +
          `session checks answered again after ${readsMs} ms, sign-ins after ${writesMs} ms; ` +
          `${acknowledged.length} acknowledged sign-ins (${acknowledgedDuring} after the kill), all still signed in`,
      );
      assert.ok(readsMs < 30_000 && writesMs < 60_000, 'recovered within bounds');
    });

    it('refuses a sign-in no replica acknowledged with 503, without holding up session checks', async () => {
      const user = await signedUp(gw);
      const indexKey = `${gw.deps.config.REDIS_KEY_PREFIX}idx:{${user.identityId}}`;
      const master = await topology.masterOf(indexKey);
      const replica = await replicaOf(topology, master);
      await replica.kill();
      try {
        const started = performance.now();
        const signIn = new Browser(gw.auth)
          .post('/login/password', { identifier: user.email, password: STRONG_PASSWORD })
          .then((res) => ({ res, ms: performance.now() - started }));
        const check = user.browser.get('/session').then((res) => ({ res, ms: performance.now() - started }));
        const [refused, checked] = await Promise.all([signIn, check]);
        assert.equal(refused.res.status, 503, JSON.stringify(refused.res.body));
        assert.equal(refused.res.body.error.code, 'session_store_unavailable');
        assert.ok(Number(refused.res.headers.get('retry-after')) > 0);
        assert.ok(refused.ms >= REPLICA_ACK_MS, `waited ${refused.ms} ms for the replica`);
        assert.equal(checked.res.status, 200, 'reads do not need the replica');
        assert.ok(checked.ms < refused.ms, 'the check did not wait behind the sign-in');
      } finally {
        await replica.start();
      }
      await topology.waitUntilHealthy(60_000);
      const again = await new Browser(gw.auth).post('/login/password', {
        identifier: user.email,
        password: STRONG_PASSWORD,
      });
      assert.equal(again.status, 200, 'with its replica back the shard takes sign-ins again');
    });
  });
}

/** The live node that replicates `master`. */
async function replicaOf(topology: RedisTopology, master: RedisProcess): Promise<RedisProcess> {
  for (const node of topology.nodes) {
    if (!node.running || node === master) continue;
    const info = infoFields(await node.command('INFO', 'replication'));
    if (info.role === 'slave' && Number(info.master_port) === master.port) return node;
  }
  throw new Error(`no replica follows ${master.name}`);
}
