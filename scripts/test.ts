/**
 * The test runner: `npm test` runs the fast tiers (unit, component, e2e, resilience) against
 * the Kratos and Vault doubles; `npm run test:<tier>` runs one of them.
 *
 *   npm test                                   every fast tier
 *   npm run test:unit                          one tier (test:component, test:e2e, test:resilience)
 *   npm test -- --tier component --tier e2e   several tiers
 *   npm test -- tests/component                every test file under a folder
 *   npm test -- tests/component/jars.test.ts   one file (or several)
 *   npm run test:real                          the real-stack tier (`--tier real`)
 *
 * Tiers are folders (scripts/test-tiers.ts): unit is tests/unit, tests/config and tests beside
 * the code in gateway/; component is tests/component, tests/contract and tests/cli; e2e is
 * tests/e2e and tests/nginx; resilience is tests/resilience. The real-stack tier runs
 * tests/real plus every component and e2e suite not marked double-only, against real Kratos
 * and real Vault built by `npm run real:build`.
 *
 * Without REDIS_URL it starts a private redis-server on a free port for the run; with
 * DATABASE_URL the suites use that Postgres server, otherwise PGlite. TEST_CONCURRENCY sets
 * how many test files run at once (default 2).
 *
 * Every skipped test is counted and named at the end; with CI set, a skip fails the run
 * (a missing component is a failure there, never a skip).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helpIfAsked } from './help.js';
import { buildCommand, findRealServer } from './real-servers/binaries.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';
import { FAST_TIERS, filesOutsideTiers, findTests, isTier, tierFiles, type Tier } from './test-tiers.js';

const root = process.cwd();

interface Selection {
  tiers: Tier[];
  /** Files and folders named on the command line. */
  paths: string[];
}

function parseArgs(args: string[]): Selection {
  const tiers: Tier[] = [];
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--real') tiers.push('real');
    else if (arg === '--tier' || arg.startsWith('--tier=')) {
      const value = arg === '--tier' ? args[++i] : arg.slice('--tier='.length);
      for (const name of (value ?? '').split(',')) {
        if (!isTier(name)) {
          console.error(`test: unknown tier '${name}' (unit, component, e2e, resilience, real)`);
          process.exit(2);
        }
        tiers.push(name);
      }
    } else if (arg.startsWith('-')) {
      console.error(`test: unknown option ${arg} (npm test -- --help)`);
      process.exit(2);
    } else paths.push(arg.replace(/\/+$/, ''));
  }
  return { tiers, paths };
}

/** The files named, a folder standing for every test file under it. */
function expandPaths(paths: string[]): string[] {
  return paths.flatMap((path) =>
    statSync(path, { throwIfNoEntry: false })?.isDirectory() ? findTests(root, path) : [path],
  );
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
  helpIfAsked(import.meta.url);
  const { tiers, paths } = parseArgs(process.argv.slice(2));
  const real = tiers.includes('real');
  if (real && tiers.length > 1) {
    console.error('test: the real tier runs on its own (npm run test:real)');
    process.exit(2);
  }
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
  let files: string[];
  if (paths.length > 0) files = expandPaths(paths);
  else {
    const outside = filesOutsideTiers(root);
    if (outside.length > 0) {
      console.error(`test: no tier names the folder of ${outside.join(', ')} (scripts/test-tiers.ts)`);
      process.exit(2);
    }
    files = (tiers.length > 0 ? tiers : FAST_TIERS).flatMap((tier) => tierFiles(root, tier));
  }
  if (files.length === 0) {
    console.error('test: no test files selected');
    process.exit(2);
  }
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
