/**
 * File encryption benchmark: throughput of the gateway's chunked AES-256-GCM streams over
 * a 256 MiB generated stream, against raw node:crypto AES-256-GCM over the same bytes in
 * the same run, and the peak memory (max RSS) of a separate process encrypting a 1 GiB
 * generated stream. Nothing is written to disk except the results:
 * bench-results/file-crypto.json (also printed).
 *
 * Targets: at least 70% of raw throughput; peak RSS under 100 MB for the 1 GiB stream.
 * FILE_CRYPTO_MB and FILE_CRYPTO_MEMORY_MB shrink the sizes for a smoke run.
 */
import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import {
  createDecryptStream,
  createEncryptStream,
  DEFAULT_CHUNK_SIZE,
} from '../../gateway/src/files/chunked-aead.js';
import type { MemoryResult } from './file-crypto-memory.js';

const MIB = 1024 * 1024;
const THROUGHPUT_BYTES = Number(process.env.FILE_CRYPTO_MB ?? 256) * MIB;
const MEMORY_BYTES = Number(process.env.FILE_CRYPTO_MEMORY_MB ?? 1024) * MIB;
const ROUNDS = 7;
const TARGETS = { minRatio: 0.7, maxPeakRssMB: 100 };
/** What the memory child runs: this file and everything it imports, compiled to plain JavaScript. */
const MEMORY_ENTRY = 'scripts/bench/file-crypto-memory.ts';
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The repository files `entry` (relative to root) imports, transitively, itself included:
 * relative `./x.js` specifiers name `x.ts` sources. Type-only imports are followed too
 * (harmless: compiled, never loaded).
 */
function importClosure(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      visit(relative(root, join(root, dirname(file), fileName.replace(/\.js$/, '.ts'))));
    }
  };
  visit(entry);
  return [...seen];
}

/** `total` bytes in 1 MiB pieces (what a socket hands a stream), generated, never stored. */
function generated(total: number, piece = randomBytes(MIB)): Readable {
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

/** Replays stored pieces as a stream (the decryption input). */
const replay = (pieces: Buffer[]) => Readable.from(pieces, { objectMode: false });

function sink(keep?: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      keep?.push(chunk);
      callback();
    },
  });
}

/** A Transform over one cipher's update/final. */
function cipherStream(cipher: { update(data: Buffer): Buffer; final(): Buffer }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      callback(null, cipher.update(chunk));
    },
    flush(callback) {
      callback(null, cipher.final());
    },
  });
}

/** The baseline: raw AES-256-GCM over the whole stream with one cipher and one tag. */
function rawEncrypt(key: Buffer, nonce: Buffer): { stream: Transform; tag: () => Buffer } {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  return { stream: cipherStream(cipher), tag: () => cipher.getAuthTag() };
}

function rawDecrypt(key: Buffer, nonce: Buffer, tag: Buffer): Transform {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAuthTag(tag);
  return cipherStream(decipher);
}

async function timed(work: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const mbps = (bytes: number, seconds: number) => bytes / MIB / seconds;

interface Throughput {
  gatewayMBps: number;
  rawMBps: number;
  ratio: number;
}

/** Collects a stream's output, untimed: the input of the decryption runs. */
async function collect(source: Readable, transform: Transform): Promise<Buffer[]> {
  const pieces: Buffer[] = [];
  await pipeline(source, transform, sink(pieces));
  return pieces;
}

/**
 * Alternates gateway and raw runs (the machine is shared with other work): best MiB/s of
 * each side, and the median of the per-round ratios. Encryption output is dropped as it is produced; each side's ciphertext
 * for the decryption runs is made once, outside the timings.
 */
async function throughput(): Promise<{ encrypt: Throughput; decrypt: Throughput }> {
  const options = { dataKey: randomBytes(32), fileId: 'bench-file', ownerId: 'bench-owner' };
  const rawKey = randomBytes(32);
  const nonce = randomBytes(12);
  const sealed = await collect(generated(THROUGHPUT_BYTES), createEncryptStream(options));
  const raw = rawEncrypt(rawKey, nonce);
  const rawSealed = await collect(generated(THROUGHPUT_BYTES), raw.stream);
  const tag = raw.tag();
  const times = { enc: [] as number[], rawEnc: [] as number[], dec: [] as number[], rawDec: [] as number[] };
  const run = (source: Readable, transform: Transform) => timed(() => pipeline(source, transform, sink()));
  for (let round = 0; round < ROUNDS; round++) {
    times.enc.push(await run(generated(THROUGHPUT_BYTES), createEncryptStream(options)));
    times.rawEnc.push(await run(generated(THROUGHPUT_BYTES), rawEncrypt(rawKey, nonce).stream));
    times.dec.push(await run(replay(sealed), createDecryptStream(options)));
    times.rawDec.push(await run(replay(rawSealed), rawDecrypt(rawKey, nonce, tag)));
  }
  // Each round pairs the two sides back to back; the median of the per-round ratios is
  // what other work on the machine disturbs least.
  const side = (ours: number[], rawSeconds: number[]): Throughput => ({
    gatewayMBps: mbps(THROUGHPUT_BYTES, Math.min(...ours)),
    rawMBps: mbps(THROUGHPUT_BYTES, Math.min(...rawSeconds)),
    ratio: median(ours.map((seconds, i) => (rawSeconds[i] ?? 0) / seconds)),
  });
  return { encrypt: side(times.enc, times.rawEnc), decrypt: side(times.dec, times.rawDec) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/**
 * Runs the memory measurement in a fresh plain `node` process, on JavaScript compiled the
 * way the production build compiles it: the TypeScript loader used for development would
 * otherwise count its own tens of megabytes against the file encryption.
 */
async function measureMemory(): Promise<MemoryResult> {
  const outDir = mkdtempSync(join(tmpdir(), 'file-crypto-bench-'));
  try {
    for (const file of importClosure(MEMORY_ENTRY)) {
      const source = readFileSync(join(root, file), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      });
      const target = join(outDir, file.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
    writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }');
    return await runChild(join(outDir, MEMORY_ENTRY.replace(/\.ts$/, '.js')));
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

function runChild(script: string): Promise<MemoryResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FILE_CRYPTO_MEMORY_MB: String(MEMORY_BYTES / MIB) },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`memory child exited ${code}`)),
    );
  });
}

function markdown(
  results: Awaited<ReturnType<typeof throughput>>,
  memory: Awaited<ReturnType<typeof measureMemory>>,
) {
  const row = (name: string, t: Throughput) =>
    `| ${name} | ${t.gatewayMBps.toFixed(0)} MiB/s | ${t.rawMBps.toFixed(0)} MiB/s | ${(t.ratio * 100).toFixed(0)}% |`;
  return [
    `Chunked AES-256-GCM (${DEFAULT_CHUNK_SIZE / 1024} KiB chunks) over a ${THROUGHPUT_BYTES / MIB} MiB stream (best of ${ROUNDS} rounds; ratio = median of per-round ratios), against one raw node:crypto AES-256-GCM pass over the same bytes (target ≥ ${TARGETS.minRatio * 100}%).`,
    '',
    '| | gateway | raw node:crypto | ratio |',
    '| --- | --- | --- | --- |',
    row('encrypt', results.encrypt),
    row('decrypt', results.decrypt),
    '',
    `Peak RSS encrypting a ${memory.bytes / MIB} MiB generated stream in a fresh node process: ${memory.peakRssMB.toFixed(0)} MB (process baseline ${memory.baselineRssMB.toFixed(0)} MB; target < ${TARGETS.maxPeakRssMB} MB).`,
  ].join('\n');
}

async function main(): Promise<void> {
  const loadStart = loadavg()[0];
  const results = await throughput();
  const memory = await measureMemory();
  const report = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    loadAverage: { start: loadStart, end: loadavg()[0] },
    chunkSize: DEFAULT_CHUNK_SIZE,
    throughputBytes: THROUGHPUT_BYTES,
    ...results,
    memory,
    targets: TARGETS,
    pass: {
      encryptRatio: results.encrypt.ratio >= TARGETS.minRatio,
      decryptRatio: results.decrypt.ratio >= TARGETS.minRatio,
      peakRss: memory.peakRssMB < TARGETS.maxPeakRssMB,
    },
    markdown: markdown(results, memory),
  };
  mkdirSync(join(root, 'bench-results'), { recursive: true });
  writeFileSync(join(root, 'bench-results', 'file-crypto.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
}

await main();
