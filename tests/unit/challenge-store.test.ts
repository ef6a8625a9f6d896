import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createChallengeStore } from '../../gateway/src/factors/challenge-store.js';
import { memoryKv } from '../../gateway/src/redis/client.js';

/** A store on the in-process Kv with a clock the test moves. */
function storeWithClock(ttlSeconds = 60) {
  let now = 1_000_000;
  const kv = memoryKv(() => now);
  return {
    store: createChallengeStore(kv, ttlSeconds),
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('challenge store', () => {
  it('gives back what was issued, once', async () => {
    const { store } = storeWithClock();
    await store.issue('pre1', 'chal1', { purpose: 'step-up', identityId: 'id-1' });
    assert.deepEqual(await store.consume('pre1', 'chal1', 'step-up'), {
      purpose: 'step-up',
      identityId: 'id-1',
    });
    assert.equal(await store.consume('pre1', 'chal1', 'step-up'), undefined);
  });

  it('finds nothing from another pre-session', async () => {
    const { store } = storeWithClock();
    await store.issue('pre1', 'chal1', { purpose: 'login' });
    assert.equal(await store.consume('pre2', 'chal1', 'login'), undefined);
    assert.ok(await store.consume('pre1', 'chal1', 'login'), 'the owner still has it');
  });

  it('refuses a challenge issued for another ceremony, and spends it', async () => {
    const { store } = storeWithClock();
    await store.issue('pre1', 'chal1', { purpose: 'login' });
    assert.equal(await store.consume('pre1', 'chal1', 'registration'), undefined);
    assert.equal(await store.consume('pre1', 'chal1', 'login'), undefined);
  });

  it('forgets a challenge after its lifetime', async () => {
    const { store, advance } = storeWithClock(120);
    await store.issue('pre1', 'chal1', { purpose: 'login' });
    advance(119_000);
    await store.issue('pre1', 'chal2', { purpose: 'login' });
    assert.ok(await store.consume('pre1', 'chal2', 'login'));
    advance(1_001);
    assert.equal(await store.consume('pre1', 'chal1', 'login'), undefined);
  });

  it('keeps several challenges of one pre-session apart', async () => {
    const { store } = storeWithClock();
    await store.issue('pre1', 'a', { purpose: 'login' });
    await store.issue('pre1', 'b', { purpose: 'login', allowCredentialIds: ['cred'] });
    assert.deepEqual(await store.consume('pre1', 'b', 'login'), {
      purpose: 'login',
      allowCredentialIds: ['cred'],
    });
    assert.deepEqual(await store.consume('pre1', 'a', 'login'), { purpose: 'login' });
  });
});
