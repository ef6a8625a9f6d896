/**
 * Where the real Kratos and Vault binaries live, and how they are built from the small Go
 * modules under tools/. Shared by `npm run real:build`, the real-stack test tier and
 * `npm run dev -- --real`.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const realServerNames = ['kratos', 'vault'] as const;
export type RealServerName = (typeof realServerNames)[number];

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Per server: the Go module folder, build tags and cgo. Kratos keeps SQLite (cgo) for quick local runs. */
const buildSpecs: Record<
  RealServerName,
  { moduleDir: string; tags: string[]; cgo: boolean; envOverride: string }
> = {
  kratos: { moduleDir: 'tools/kratos', tags: ['sqlite'], cgo: true, envOverride: 'KRATOS_BIN' },
  vault: { moduleDir: 'tools/vault', tags: [], cgo: false, envOverride: 'VAULT_BIN' },
};

function cacheRoot(): string {
  if (process.env.REAL_SERVERS_CACHE) return process.env.REAL_SERVERS_CACHE;
  const base = process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache');
  return path.join(base, 'auth-gateway', 'real');
}

function goVersion(): string {
  try {
    return execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
  } catch {
    return 'no-go';
  }
}

/** The cache key: the toolchain, the build settings and the module's go.mod and go.sum. */
function buildKey(name: RealServerName, toolchain: string): string {
  const spec = buildSpecs[name];
  const hash = createHash('sha256');
  hash.update(`${toolchain}\n${spec.tags.join(',')}\n${String(spec.cgo)}\n`);
  for (const file of ['go.mod', 'go.sum', 'main.go']) {
    hash.update(readFileSync(path.join(repoRoot, spec.moduleDir, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

function cachedPath(name: RealServerName, toolchain: string): string {
  return path.join(cacheRoot(), `${name}-${buildKey(name, toolchain)}`, name);
}

/** The command that builds a missing server, for skip and failure messages. */
export const buildCommand = 'npm run real:build';

/**
 * The binary to run for `name`: KRATOS_BIN or VAULT_BIN when set, else the cached build for
 * today's modules; undefined when neither exists.
 */
export function findRealServer(name: RealServerName): string | undefined {
  const override = process.env[buildSpecs[name].envOverride];
  if (override) return existsSync(override) ? override : undefined;
  const cached = cachedPath(name, goVersion());
  return existsSync(cached) ? cached : undefined;
}

/** Builds `name` unless the cache already holds today's build. */
export async function buildRealServer(
  name: RealServerName,
  options: { log?: (line: string) => void } = {},
): Promise<{ path: string; reused: boolean }> {
  const spec = buildSpecs[name];
  const toolchain = goVersion();
  if (toolchain === 'no-go') throw new Error('the go command is missing: install Go 1.25 or newer');
  const target = cachedPath(name, toolchain);
  if (existsSync(target)) return { path: target, reused: true };
  mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.partial-${process.pid}`;
  const args = ['build', '-ldflags=-s -w', '-o', partial];
  if (spec.tags.length > 0) args.push('-tags', spec.tags.join(','));
  args.push('.');
  options.log?.(`real:build: go ${args.join(' ')} (in ${spec.moduleDir})`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('go', args, {
      cwd: path.join(repoRoot, spec.moduleDir),
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, CGO_ENABLED: spec.cgo ? '1' : '0', GOFLAGS: '-mod=readonly' },
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`go build of ${name} failed (exit ${String(code)})`)),
    );
  });
  // Renamed into place only when complete, so a broken build never looks cached.
  renameSync(partial, target);
  return { path: target, reused: false };
}
