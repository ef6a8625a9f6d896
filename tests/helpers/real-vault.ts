/**
 * Real Vault for the real-stack tier: a server started through vault/render-config.sh from
 * vault/config/vault.hcl, restartable on the same raft storage, and set up by vault/init.sh
 * with its folders in a temp directory. Shared by the Vault suites and the Vault-backed
 * gateway suites (VAULT_TARGET=real).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildCommand, findRealServer } from '../../scripts/real-servers/binaries.js';
import { repoPath } from '../config/paths.js';

/** The real Vault binary, or an error that names the command building it. */
export function requireVault(): string {
  const binary = findRealServer('vault');
  if (!binary) throw new Error(`real Vault is not built: run \`${buildCommand}\` (or set VAULT_BIN)`);
  return binary;
}

export async function freePortPair(): Promise<number> {
  const tryBind = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer()
        .once('error', () => resolve(false))
        .listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    if ((await tryBind(port)) && (await tryBind(port + 1))) return port;
  }
  throw new Error('no free pair of ports');
}

/** A folder with `vault` on it: render-config.sh and init.sh call the binary by that name. */
export function binDir(root: string, binary: string): string {
  const dir = path.join(root, 'bin');
  mkdirSync(dir, { recursive: true });
  if (!existsSync(path.join(dir, 'vault'))) symlinkSync(binary, path.join(dir, 'vault'));
  return dir;
}

export interface Answer {
  status: number;
  body: Record<string, unknown> & { data?: Record<string, unknown>; auth?: Record<string, unknown> };
}

export async function api(
  addr: string,
  method: string,
  route: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Answer> {
  const response = await fetch(`${addr}/v1/${route}`, {
    method,
    headers: {
      ...(options.token ? { 'X-Vault-Token': options.token } : {}),
      ...(options.body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: options.body ? JSON.stringify(options.body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
}

/** Polls the seal status until `accept` holds (no fixed sleep: a short pause between polls). */
export async function waitForSealStatus(
  addr: string,
  accept: (status: { initialized: boolean; sealed: boolean; type: string }) => boolean,
  what: string,
  child?: ChildProcess,
  timeoutMs = 30_000,
): Promise<{ initialized: boolean; sealed: boolean; type: string }> {
  const started = Date.now();
  let last = 'no answer';
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`Vault exited while waiting until ${what}`);
    try {
      const { body } = await api(addr, 'GET', 'sys/seal-status');
      const status = body as unknown as { initialized: boolean; sealed: boolean; type: string };
      last = JSON.stringify(status);
      if (accept(status)) return status;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs) throw new Error(`Vault did not become ${what}: ${last}`);
    await sleep(100);
  }
}

/**
 * Polls sys/health until this node is the active one (200). Unsealed is not yet serving:
 * after a restart, raft elects a leader first, and until then requests answer 5xx.
 */
export async function waitUntilActive(addr: string, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  let last = 'no answer';
  for (;;) {
    try {
      const response = await fetch(`${addr}/v1/sys/health`);
      last = `${response.status} ${await response.text()}`;
      if (response.status === 200) return;
    } catch {
      // not listening
    }
    if (Date.now() - started > timeoutMs) throw new Error(`Vault did not become active: ${last}`);
    await sleep(100);
  }
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runScript(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const child = spawn('sh', [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** One Vault server started through vault/render-config.sh, restartable on the same storage. */
export class VaultServer {
  readonly addr: string;
  private child: ChildProcess | undefined;
  private log = '';

  constructor(
    private readonly root: string,
    readonly port: number,
    private readonly extraArgs: string[] = [],
    private readonly extraEnv: NodeJS.ProcessEnv = {},
  ) {
    this.addr = `http://127.0.0.1:${port}`;
  }

  get dataDir(): string {
    return path.join(this.root, 'data');
  }

  async start(): Promise<void> {
    const env: NodeJS.ProcessEnv = {
      PATH: `${binDir(this.root, requireVault())}${path.delimiter}${process.env.PATH ?? ''}`,
      HOME: this.root,
      VAULT_CONFIG_TEMPLATE: repoPath('vault', 'config', 'vault.hcl'),
      VAULT_CONFIG_RENDERED: path.join(this.root, 'rendered', 'vault.hcl'),
      VAULT_DATA_DIR: this.dataDir,
      VAULT_LISTEN_ADDRESS: `127.0.0.1:${this.port}`,
      VAULT_API_ADDR: this.addr,
      VAULT_CLUSTER_ADDR: `http://127.0.0.1:${this.port + 1}`,
      ...this.extraEnv,
    };
    const child = spawn('sh', [repoPath('vault', 'render-config.sh'), ...this.extraArgs], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (this.log = (this.log + chunk.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    await waitForSealStatus(this.addr, () => true, 'reachable', child).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${this.log}`);
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  }

  get output(): string {
    return this.log;
  }
}

export function initEnv(root: string, addr: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: `${binDir(root, requireVault())}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: root,
    VAULT_ADDR: addr,
    VAULT_UNSEAL_DIR: path.join(root, 'unseal'),
    VAULT_OPERATOR_DIR: path.join(root, 'operator'),
    VAULT_APPROLE_DIR: path.join(root, 'approle'),
    VAULT_POLICY_DIR: repoPath('vault', 'policies'),
    VAULT_AUDIT_FILE: path.join(root, 'logs', 'audit.log'),
    VAULT_APPROLE_CIDRS: '127.0.0.1/32',
    VAULT_WATCH_INTERVAL: '1',
    ...extra,
  };
  for (const dir of ['unseal', 'operator', 'approle', 'logs'])
    mkdirSync(path.join(root, dir), { recursive: true });
  return env;
}

export const initScript = repoPath('vault', 'init.sh');
const read = (file: string) => readFileSync(file, 'utf8').trim();

/** A Vault as the stack runs it: started, initialised and set up by init.sh, with the gateway's AppRole files. */
export interface RealVault {
  addr: string;
  roleIdFile: string;
  secretIdFile: string;
  /** The root token init.sh stored (for white-box checks only). */
  rootToken: string;
  server: VaultServer;
  /** Seals Vault through its API, as an operator would. */
  seal(): Promise<void>;
  /** Unseals it with the key init.sh stored, and waits until it serves as the active node. */
  unseal(): Promise<void>;
  /** Stops the server (an outage) or starts it again on the same storage, unsealed. */
  setDown(down: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startRealVault(): Promise<RealVault> {
  const root = mkdtempSync(path.join(tmpdir(), 'vault-real-'));
  const server = new VaultServer(root, await freePortPair());
  await server.start();
  const setup = await runScript(initScript, [], initEnv(root, server.addr));
  if (setup.code !== 0) {
    await server.stop();
    throw new Error(`vault/init.sh failed (${String(setup.code)}): ${setup.stderr}${setup.stdout}`);
  }
  const rootToken = read(path.join(root, 'unseal', 'root-token'));
  const unsealKey = read(path.join(root, 'unseal', 'unseal-key'));
  const expect = async (answer: Promise<Answer>, what: string) => {
    const { status, body } = await answer;
    if (status >= 300) throw new Error(`Vault ${what}: ${status} ${JSON.stringify(body)}`);
  };
  const unseal = async () => {
    await expect(api(server.addr, 'PUT', 'sys/unseal', { body: { key: unsealKey } }), 'unseal');
    await waitForSealStatus(server.addr, (s) => !s.sealed, 'unsealed');
    await waitUntilActive(server.addr);
  };
  let down = false;
  return {
    addr: server.addr,
    roleIdFile: path.join(root, 'approle', 'role-id'),
    secretIdFile: path.join(root, 'approle', 'secret-id'),
    rootToken,
    server,
    seal: () => expect(api(server.addr, 'PUT', 'sys/seal', { token: rootToken }), 'seal'),
    unseal,
    async setDown(wanted) {
      if (wanted === down) return;
      down = wanted;
      if (wanted) return server.stop();
      await server.start();
      await unseal();
    },
    async close() {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
