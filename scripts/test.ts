/**
 * `npm test`: the fast tiers (unit, config, contract, component, browser, nginx, resilience)
 * against the Kratos and Vault doubles. `npm run test:real` (`--real`): the real-stack tier,
 * the suites of tests/real plus every component and browser suite not marked double-only,
 * against real Kratos and real Vault built by `npm run real:build`.
 *
 * Without REDIS_URL it starts a private redis-server on a free port for the run. Extra
 * arguments select test files (`npm test -- tests/component/session.test.ts`).
 *
 * Every skipped test is counted and named at the end; with CI set, a skip fails the run
 * (a missing component is a failure there, never a skip).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildCommand, findRealServer } from './real-servers/binaries.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';
import { DOUBLE_ONLY_MARK } from './test-tiers.js';

const root = process.cwd();

function findTests(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

function fastTierFiles(): string[] {
  return [...findTests(join(root, 'tests')), ...findTests(join(root, 'gateway'))]
    .filter((file) => !file.startsWith(join('tests', 'real')))
    .sort();
}

function realTierFiles(): string[] {
  const shared = ['component', 'e2e']
    .flatMap((dir) => findTests(join(root, 'tests', dir)))
    .filter((file) => !readFileSync(file, 'utf8').includes(DOUBLE_ONLY_MARK));
  return [...findTests(join(root, 'tests', 'real')), ...shared].sort();
}

/** Why the real tier cannot run here, or undefined when it can. */
function realTierBlocker(): string | undefined {
  const missing = (['kratos', 'vault'] as const).filter((name) => !findRealServer(name));
  if (missing.length > 0) return `real ${missing.join(' and ')} not built: run \`${buildCommand}\``;
  if (!process.env.DATABASE_URL)
    return 'no Postgres server: set DATABASE_URL (a database beside which others are created)';
  return undefined;
}

/** Sets up what every real-tier suite shares: the binaries and one migrated Kratos database. */
async function prepareRealTier(): Promise<() => Promise<void>> {
  const { kratosDatabase } = await import('../tests/helpers/real-kratos.js');
  process.env.KRATOS_BIN = findRealServer('kratos');
  process.env.VAULT_BIN = findRealServer('vault');
  const db = await kratosDatabase();
  process.env.KRATOS_REAL_DSN = db.dsn;
  process.env.KRATOS_TARGET = 'real';
  process.env.VAULT_TARGET = 'real';
  console.log('test: real tier against Kratos v1.3.1 and Vault 1.21.1 built from their Go modules');
  return db.drop;
}

/** Skipped tests from a TAP stream: `ok N - name # SKIP reason`. */
function skippedTests(tap: string): string[] {
  return tap
    .split('\n')
    .filter((line) => /^\s*ok \d+ - .*# SKIP/.test(line))
    .map((line) => line.trim().replace(/^ok \d+ - /, ''));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const real = args.includes('--real');
  const selected = args.filter((arg) => arg !== '--real');
  let cleanup = async (): Promise<void> => undefined;
  if (real) {
    const blocker = realTierBlocker();
    if (blocker) {
      if (process.env.CI) {
        console.error(`test: the real tier cannot run in CI: ${blocker}`);
        process.exit(1);
      }
      console.log(`test: real tier skipped: ${blocker}`);
      return;
    }
    cleanup = await prepareRealTier();
  }
  const files = selected.length > 0 ? selected : real ? realTierFiles() : fastTierFiles();
  let redis: PrivateRedis | undefined;
  if (!process.env.REDIS_URL) {
    redis = await startPrivateRedis();
    process.env.REDIS_URL = redis.url;
    console.log(`test: private redis-server at ${redis.url}`);
  }
  const reportDir = mkdtempSync(join(tmpdir(), 'gw-test-report-'));
  const tapFile = join(reportDir, 'report.tap');
  const concurrency = process.env.TEST_CONCURRENCY ?? '2';
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tapFile}`,
      ...files,
    ],
    { stdio: 'inherit', env: process.env },
  );
  let code: number = await new Promise((resolve) =>
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))),
  );
  const skipped = skippedTests(readFileSync(tapFile, 'utf8'));
  if (skipped.length > 0) {
    console.log(`test: ${skipped.length} skipped:\n  ${skipped.join('\n  ')}`);
    if (process.env.CI) {
      console.error('test: CI is set, and a skipped test is a failure there');
      code = code || 1;
    }
  }
  await redis?.stop();
  rmSync(reportDir, { recursive: true, force: true });
  await cleanup();
  process.exit(code);
}

void main();
