import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { connectRedis, sendRouted, type Kv } from '../../gateway/src/redis/client.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Polls until `read` gives `expected`, failing after a short deadline. */
async function eventually(read: () => Promise<string | null>, expected: string | null, withinMs = 500) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await read();
    if (value === expected) return;
    if (Date.now() > deadline) assert.equal(value, expected);
    await sleep(5);
  }
}

describe('Redis client-side cache', () => {
  let a: Kv;
  let b: Kv;
  const prefix = `csc${randomBytes(4).toString('hex')}:`;
  before(async () => {
    a = await connectRedis(url, prefix, () => undefined);
    b = await connectRedis(url, prefix, () => undefined);
  });
  after(async () => {
    await a.del('k');
    await a.close();
    await b.close();
  });

  it('answers repeated cached reads of a key from process memory', async () => {
    await a.set('k', 'v1', 60);
    await eventually(() => b.getCached('k'), 'v1');
    const before = b.cacheStats!();
    for (let i = 0; i < 200; i++) assert.equal(await b.getCached('k'), 'v1');
    const after = b.cacheStats!();
    assert.ok(after.hits - before.hits >= 199, `${after.hits - before.hits} hits`);
    assert.ok(after.misses - before.misses <= 1);
  });

  it('sees a change or delete by another client through the server-pushed invalidation', async () => {
    await a.set('k', 'v1', 60);
    await eventually(() => b.getCached('k'), 'v1');
    await a.set('k', 'v2', 60);
    await eventually(() => b.getCached('k'), 'v2');
    await a.del('k');
    await eventually(() => b.getCached('k'), null);
  });

  it('keeps plain reads linearizable: a delete is seen by the very next read', async () => {
    for (let i = 0; i < 50; i++) {
      await a.set('k', `v${i}`, 60);
      assert.equal(await b.get('k'), `v${i}`);
      await a.del('k');
      assert.equal(await b.get('k'), null);
    }
  });
});

describe('Redis hash writes', () => {
  let a: Kv;
  const prefix = `hw${randomBytes(4).toString('hex')}:`;
  before(async () => {
    a = await connectRedis(url, prefix, () => undefined);
  });
  after(async () => {
    await a.del('h');
    await a.close();
  });

  it('writes a hash with its lifetime, also to a server that lost its scripts', async () => {
    await a.hSet('h', 'f1', 'v1', 60);
    await a.hSet('h', 'f2', 'v2', 60);
    // The script goes by its digest; a restarted or failed-over server holds no scripts (SCRIPT
    // FLUSH reaches every node), and the write still happens, by the script's text.
    await sendRouted(a.client!, ['SCRIPT', 'FLUSH'], `${prefix}h`);
    await a.hSet('h', 'f3', 'v3', 60);
    assert.deepEqual(await a.hGetAll('h'), { f1: 'v1', f2: 'v2', f3: 'v3' });
    const ttl = Number(await sendRouted(a.client!, ['TTL', `${prefix}h`], `${prefix}h`));
    assert.ok(ttl > 50 && ttl <= 60, `ttl ${ttl}`);
  });
});
