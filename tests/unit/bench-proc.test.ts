import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { childPids, parentPid, sampleMemory, statusKb } from '../../scripts/bench/proc.js';

const STATUS = `Name:\tnode
VmPeak:\t 1200000 kB
VmHWM:\t  182344 kB
VmRSS:\t  170112 kB
Threads:\t11
`;

describe('benchmark /proc readings', () => {
  it('statusKb reads a kB field by its exact name', () => {
    assert.equal(statusKb(STATUS, 'VmRSS'), 170112);
    assert.equal(statusKb(STATUS, 'VmHWM'), 182344);
    assert.equal(statusKb(STATUS, 'VmSwap'), undefined);
    // Threads is not a kB field.
    assert.equal(statusKb(STATUS, 'Threads'), undefined);
  });

  it('parentPid reads past a command name holding spaces and parentheses', () => {
    assert.equal(parentPid('4242 (nginx: worker (x) process) S 4241 4241 4241 0 -1'), 4241);
  });

  it('finds this process among its parent’s children, and samples its memory', async () => {
    const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    assert.equal(parentPid(stat), process.ppid);
    assert.ok(childPids(process.ppid).includes(process.pid));
    const sampler = sampleMemory(process.pid, 5);
    const held = Buffer.alloc(32 * 1024 * 1024, 1);
    await sleep(50);
    const peak = sampler.stop()!;
    assert.ok(held.length > 0);
    assert.ok(peak.samples >= 2);
    assert.ok(peak.peakSampledKb >= peak.startKb);
    assert.ok(peak.highWaterKb >= peak.peakSampledKb);
    assert.ok(peak.peakSampledKb - peak.startKb >= 16 * 1024, JSON.stringify(peak));
  });
});
