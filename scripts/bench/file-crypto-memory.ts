/**
 * Child of scripts/bench/file-crypto.ts (run compiled, under plain node): encrypts a
 * generated stream of FILE_CRYPTO_MEMORY_MB MiB, dropping the output, and prints this
 * process's peak RSS as JSON.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream } from '../../gateway/src/files/chunked-aead.js';

const MIB = 1024 * 1024;

export interface MemoryResult {
  bytes: number;
  seconds: number;
  baselineRssMB: number;
  peakRssMB: number;
  peakAboveBaselineMB: number;
}

function generated(total: number, piece: Buffer): Readable {
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const size = Math.min(piece.length, left);
      left -= size;
      this.push(size === piece.length ? piece : piece.subarray(0, size));
    },
  });
}

/**
 * VmHWM from /proc (Linux), else the largest sample taken while running. getrusage's
 * maxRSS is not used: after a spawn it can carry the parent's peak.
 */
function peakRssMB(sampledPeak: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux: fall back to sampling
  }
  return sampledPeak / MIB;
}

async function measure(bytes: number): Promise<MemoryResult> {
  const options = { dataKey: randomBytes(32), fileId: 'bench-file', ownerId: 'bench-owner' };
  const baselineRss = process.memoryUsage.rss();
  let sampled = baselineRss;
  let writes = 0;
  const sink = new Writable({
    write(_chunk: Buffer, _encoding, callback) {
      if (++writes % 16 === 0) sampled = Math.max(sampled, process.memoryUsage.rss());
      callback();
    },
  });
  const start = process.hrtime.bigint();
  await pipeline(generated(bytes, randomBytes(MIB)), createEncryptStream(options), sink);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const peak = peakRssMB(sampled);
  return {
    bytes,
    seconds,
    baselineRssMB: baselineRss / MIB,
    peakRssMB: peak,
    peakAboveBaselineMB: peak - baselineRss / MIB,
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  const result = await measure(Number(process.env.FILE_CRYPTO_MEMORY_MB ?? 1024) * MIB);
  process.stdout.write(JSON.stringify(result));
}
