import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalesced } from '../../gateway/src/db/coalesce.js';

/** A statement whose batches the test sees, and releases one at a time. */
function recorder<I>(fail?: (items: I[]) => boolean) {
  const batches: I[][] = [];
  const releases: Array<() => void> = [];
  const run = (items: I[]) => {
    batches.push(items);
    return new Promise<string[]>((resolve, reject) => {
      releases.push(() =>
        fail?.(items)
          ? reject(new Error('statement failed'))
          : resolve(items.map((i) => `answer ${String(i)}`)),
      );
    });
  };
  const release = async () => {
    for (let i = 0; i < 10 && releases.length === 0; i++) await new Promise((r) => setImmediate(r));
    releases.shift()?.();
  };
  return { batches, run, release };
}

describe('coalesced statements', () => {
  it('runs the calls of one turn together, and those made during a batch together in the next', async () => {
    const r = recorder<number>();
    const call = coalesced(r.run);
    const first = [call(1), call(2)];
    await r.release();
    assert.deepEqual(await Promise.all(first), ['answer 1', 'answer 2']);
    const a = call(3);
    await new Promise((resolve) => setImmediate(resolve));
    const later = [call(4), call(5)];
    await r.release();
    await r.release();
    assert.deepEqual(await Promise.all([a, ...later]), ['answer 3', 'answer 4', 'answer 5']);
    assert.deepEqual(r.batches, [[1, 2], [3], [4, 5]]);
  });

  it('with keys, puts an item whose key is already in the batch into the next one', async () => {
    const r = recorder<{ id: string; n: number }>();
    const call = coalesced(r.run, (item) => item.id);
    const answers = [call({ id: 'a', n: 1 }), call({ id: 'b', n: 2 }), call({ id: 'a', n: 3 })];
    await r.release();
    await r.release();
    await Promise.all(answers);
    assert.deepEqual(
      r.batches.map((b) => b.map((i) => i.n)),
      [[1, 2], [3]],
    );
  });

  it('fails every call of a failed batch, and the next batch still runs', async () => {
    const r = recorder<number>((items) => items.includes(1));
    const call = coalesced(r.run);
    const failed = [call(1), call(2)].map((p) => p.catch((err: Error) => err.message));
    const next = (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return call(3);
    })();
    await r.release();
    await r.release();
    assert.deepEqual(await Promise.all(failed), ['statement failed', 'statement failed']);
    assert.equal(await next, 'answer 3');
  });
});
