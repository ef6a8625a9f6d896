/**
 * The gateway as `npm start` runs it, with the default log level: what an operator reads on
 * stdout from start to shutdown.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoPath } from '../config/paths.js';
import { createMigratedDatabase, type ThrowawayDatabase } from '../helpers/database.js';

type LogLine = Record<string, unknown> & { message: string; level: string };

describe('gateway process logs (npm start, LOG_LEVEL unset)', () => {
  let dataDir: string;
  let child: ChildProcess;
  const lines: LogLine[] = [];
  let url: string;
  let database: ThrowawayDatabase | undefined;

  const linesWith = (message: string) => lines.filter((line) => line.message === message);

  /** Resolves with the newest line that matches, once one was written (a loaded machine starts slowly). */
  async function waitForLine(matches: (line: LogLine) => boolean, what: string): Promise<LogLine> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const found = lines.filter(matches).at(-1);
      if (found) return found;
      if (Date.now() > deadline || (child.exitCode !== null && child.stdout!.readableEnded)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no ${what} line in:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
  }

  const waitFor = (message: string) => waitForLine((line) => line.message === message, `'${message}'`);

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'gw-process-'));
    if (process.env.DATABASE_URL) database = await createMigratedDatabase(process.env.DATABASE_URL);
    child = spawn(process.execPath, ['--import', 'tsx', 'gateway/src/main.ts'], {
      cwd: repoPath(),
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: '0',
        HOST: '127.0.0.1',
        METRICS_PORT: '0',
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        REDIS_KEY_PREFIX: `proc${process.pid}:`,
        ...(database ? { DATABASE_URL: database.url } : { PGLITE_DIR: 'memory' }),
        DATA_DIR: dataDir,
      },
    });
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const text of complete) {
        if (text.startsWith('{')) lines.push(JSON.parse(text) as LogLine);
      }
    });
    const listening = await waitFor('gateway listening');
    url = `http://127.0.0.1:${String(listening.port)}`;
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs each request once it is answered: method, path without its query, status, duration', async () => {
    const res = await fetch(`${url}/healthz?token=query-secret-value`, {
      headers: { 'x-request-id': 'req-logged-0001' },
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const line = await waitFor('request');
    assert.equal(line.level, 'info');
    assert.equal(line.requestId, 'req-logged-0001');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/healthz');
    assert.equal(line.status, 200);
    assert.equal(typeof line.durationMs, 'number');
    assert.ok((line.durationMs as number) >= 0);
    assert.equal(JSON.stringify(lines).includes('query-secret-value'), false);
    assert.equal(linesWith('request').length, 1);
  });

  it('logs a refused request with its status and error code in clear', async () => {
    const res = await fetch(`${url}/api/auth/login/password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-refused-0001' },
      body: JSON.stringify({ identifier: 'a@example.com', password: 'irrelevant-password' }),
    });
    assert.equal(res.status, 403);
    const failed = (await waitFor('request failed')) as LogLine;
    assert.equal(failed.requestId, 'req-refused-0001');
    assert.equal(failed.code, 'csrf_failed');
    const request = await waitForLine(
      (line) => line.message === 'request' && line.requestId === 'req-refused-0001',
      'request',
    );
    assert.equal(request.status, 403);
    assert.equal(request.path, '/api/auth/login/password');
  });

  it('logs its shutdown on SIGTERM and exits 0', async () => {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
    const stopping = await waitFor('gateway stopping');
    assert.equal(stopping.reason, 'SIGTERM');
    const stopped = await waitFor('gateway stopped');
    assert.equal(stopped.reason, 'SIGTERM');
    assert.equal(typeof stopped.durationMs, 'number');
  });
});
