import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { median, pairedRatio, splitEvenly } from '../../scripts/bench/stats.js';

describe('benchmark arithmetic', () => {
  it('median: the middle value, or the mean of the two middle ones, whatever the order', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([7]), 7);
    assert.ok(Number.isNaN(median([])));
  });

  it('pairedRatio: the median of the per-round ratios, not the ratio of the medians', () => {
    // Round 2 ran while the machine was busy: both slow, their ratio unchanged.
    const gateway = [800, 400, 790];
    const bare = [1000, 500, 1000];
    assert.equal(pairedRatio(gateway, bare), 0.8);
    assert.notEqual(median(gateway) / median(bare), 0.8);
  });

  it('pairedRatio leaves out rounds whose baseline is zero and pairs only complete rounds', () => {
    assert.equal(pairedRatio([1, 2, 3], [0, 4, 6]), 0.5);
    assert.equal(pairedRatio([1, 2, 9], [2, 4]), 0.5);
  });

  it('splitEvenly keeps every item once, in order, in parts whose sizes differ by at most one', () => {
    const items = Array.from({ length: 11 }, (_, i) => i);
    const parts = splitEvenly(items, 3);
    assert.deepEqual(
      parts.map((p) => p.length),
      [4, 4, 3],
    );
    assert.deepEqual(parts.flat(), items);
    assert.deepEqual(splitEvenly([1, 2], 3), [[1], [2], []]);
    assert.throws(() => splitEvenly(items, 0), /positive integer/);
  });
});
