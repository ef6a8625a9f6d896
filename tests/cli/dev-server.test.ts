/**
 * `npm run dev` as a new user meets it: an account made in one run is kept in .data/ for the
 * next, and the operator tools (`npm run keys`, `npm run audit`) read the data dev left behind.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoPath } from '../config/paths.js';
import { Browser, STRONG_PASSWORD } from '../helpers/http.js';
import { freePort } from '../helpers/net.js';

interface DevServer {
  url: string;
  kratosAdminUrl: string;
  stop(): Promise<number | null>;
}

/** The environment of a developer's shell, pointed at a scratch data folder and a free port. */
function devEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    PORT: String(port),
    // The React app is not under test here, and other suites serve web/dist meanwhile.
    DEV_WEB_BUILD: 'off',
    ...(process.env.REDIS_URL && { REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: `dev${port}:` }),
  };
}

async function startDev(env: NodeJS.ProcessEnv): Promise<DevServer> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
    cwd: repoPath(),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const started = new Promise<{ url: string; kratosAdminUrl: string }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /Auth gateway \(development\) at (\S+)/.exec(output)?.[1];
      const admin = /Kratos double: public \S+, admin (\S+)/.exec(output)?.[1];
      if (url && admin) resolve({ url, kratosAdminUrl: admin });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`npm run dev exited with ${code}:\n${output}`)));
  });
  const { url, kratosAdminUrl } = await started;
  return {
    url: url.replace('localhost', '127.0.0.1'),
    kratosAdminUrl,
    stop: async () => {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

function cli(script: string, args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: repoPath(),
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run dev and the data it leaves in DATA_DIR', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let origin: string;
  const email = `dev.${process.pid}@example.com`;
  let identityId: string;

  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'gw-dev-'));
    const port = await freePort();
    env = devEnv(dataDir, port);
    origin = `http://localhost:${port}`;
  });

  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps an account it made, for the next run', async () => {
    const dev = await startDev(env);
    try {
      const created = await fetch(`${dev.kratosAdminUrl}/admin/identities`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          schema_id: 'default',
          traits: { email },
          credentials: { password: { config: { password: STRONG_PASSWORD } } },
        }),
      });
      assert.equal(created.status, 201);
      identityId = ((await created.json()) as { id: string }).id;
      const browser = new Browser(`${dev.url}/api/auth`, origin);
      const login = await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
      assert.equal(login.status, 200, JSON.stringify(login.body));
    } finally {
      assert.equal(await dev.stop(), 0);
    }
    // The Kratos double reads this file when it starts again (tests/contract/kratos-double-state.test.ts).
    const state = JSON.parse(readFileSync(path.join(dataDir, 'kratos-double.json'), 'utf8')) as {
      identities: [string, { traits: { email: string } }][];
    };
    assert.deepEqual(
      state.identities.map(([id, identity]) => [id, identity.traits.email]),
      [[identityId, email]],
    );
  });

  it('lets `npm run keys -- status` open the keyring dev made', () => {
    const status = cli('gateway/src/cli/encryption-keys.ts', ['status'], env);
    assert.equal(status.status, 0, status.stdout + status.stderr);
    assert.match(status.stdout, /healthy:\s+yes/);
  });

  it('lets `npm run audit -- verify` check the chain dev wrote, with its key', () => {
    const verify = cli('gateway/src/cli/audit.ts', ['verify'], env);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /audit chain intact/);
    assert.match(verify.stdout, /key from local keyring/);
  });
});
