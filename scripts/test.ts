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
 * REDIS_TOPOLOGY=single|sentinel|cluster it starts that Redis topology instead (one server;
 * a master, a replica and three sentinels; three masters with a replica each) and the suites
 * reach it by its REDIS_URL. With DATABASE_URL the suites use that Postgres server,
 * otherwise PGlite. TEST_CONCURRENCY sets how many test files run at once (default 2).
 *
 * Every skipped test is counted and named at the end; with CI set, a skip fails the run
 * (a missing component is a failure there, never a skip).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { helpIfAsked } from './help.js';
import { buildCommand, findRealServer } from './real-servers/binaries.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';
import {
  FAST_TIERS,
  filesOutsideTiers,
  findTests,
  isTier,
  tierFiles,
  tierOf,
  type Tier,
} from './test-tiers.js';

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

/** Seconds each test file took in earlier runs (scripts/test-durations.mjs), kept outside the checkout's files. */
const DURATIONS_FILE = join(root, 'node_modules', '.cache', 'auth-gateway', 'test-durations.json');

function readDurations(file: string): Record<string, number> {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

/**
 * The slowest files first, as the last runs measured them (a file not measured yet counts as
 * slow): with several files at once, a long file started last would finish alone at the end.
 */
function slowestFirst(files: string[]): string[] {
  const known = readDurations(DURATIONS_FILE);
  const seconds = (file: string) => known[file] ?? Number.POSITIVE_INFINITY;
  return [...files].sort((a, b) => seconds(b) - seconds(a) || a.localeCompare(b));
}

/**
 * Test files shared out over `count` groups of about the same length (the slowest file goes to
 * the group with the least work so far; an unmeasured file counts as a minute).
 */
function groups(files: string[], count: number): string[][] {
  const known = readDurations(DURATIONS_FILE);
  const out = Array.from({ length: Math.min(count, files.length) }, () => ({
    seconds: 0,
    files: [] as string[],
  }));
  for (const file of slowestFirst(files)) {
    const lightest = out.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    lightest.files.push(file);
    lightest.seconds += known[file] ?? 60;
  }
  return out.map((group) => group.files);
}

/** Tiers whose files share processes: they run the app in-process and clean up after themselves. */
const GROUPED_TIERS: readonly (Tier | undefined)[] = ['unit', 'component'];

/**
 * What node --test runs, slowest first: the unit and component files in `concurrency * 2`
 * groups, and every other file (browsers, Nginx, outages, processes it kills) in a process of
 * its own. TEST_PROCESS_PER_FILE=1 gives every file its own process (slower; isolates a file
 * that leaves something behind).
 */
function testProcesses(files: string[], concurrency: number, dir: string): string[] {
  const grouped = files.filter((file) => GROUPED_TIERS.includes(tierOf(file)));
  if (process.env.TEST_PROCESS_PER_FILE === '1' || grouped.length <= concurrency) return slowestFirst(files);
  const known = readDurations(DURATIONS_FILE);
  const seconds = (file: string) => known[file] ?? 60;
  const alone = files
    .filter((file) => !grouped.includes(file))
    .map((file) => ({ path: file, seconds: seconds(file) }));
  const shared = groups(grouped, concurrency * 2).map((group, i) => ({
    path: writeGroup(dir, i, group),
    seconds: group.reduce((sum, file) => sum + seconds(file), 0),
  }));
  return [...alone, ...shared].sort((a, b) => b.seconds - a.seconds).map((entry) => entry.path);
}

/**
 * A test process for several files, one after the other: each file is imported inside a suite
 * named by its path, so its top-level hooks and tests belong to that suite alone. Starting a
 * process and importing the gateway costs seconds of CPU; a group pays it once, not per file.
 */
function writeGroup(dir: string, index: number, files: string[]): string {
  const path = join(dir, `group-${index}.test.mjs`);
  const urls = files.map((file) => [file, pathToFileURL(join(root, file)).href]);
  writeFileSync(
    path,
    [
      "import { describe } from 'node:test';",
      `for (const [name, url] of ${JSON.stringify(urls)}) describe(name, async () => { await import(url); });`,
      '',
    ].join('\n'),
  );
  return path;
}

/** Prints the slowest files of this run and remembers every file's time for the next. */
function reportDurations(file: string): void {
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const measured = Object.fromEntries(lines.map((line) => JSON.parse(line) as [string, number]));
  const slowest = Object.entries(measured)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 10);
  if (slowest.length === 0) return;
  console.log('test: slowest files');
  for (const [name, seconds] of slowest) console.log(`  ${seconds.toFixed(1).padStart(6)} s  ${name}`);
  mkdirSync(dirname(DURATIONS_FILE), { recursive: true });
  writeFileSync(DURATIONS_FILE, JSON.stringify({ ...readDurations(DURATIONS_FILE), ...measured }, null, 2));
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
  let redis: Pick<PrivateRedis, 'url' | 'stop'> | undefined;
  const topology = process.env.REDIS_TOPOLOGY;
  if (topology) {
    const { isTopology, startTopology, TOPOLOGIES } = await import('../tests/helpers/redis-topologies.js');
    if (!isTopology(topology)) {
      console.error(`test: unknown REDIS_TOPOLOGY '${topology}' (${TOPOLOGIES.join(', ')})`);
      process.exit(2);
    }
    redis = await startTopology(topology);
    process.env.REDIS_URL = redis.url;
    console.log(`test: Redis ${topology} at ${redis.url}`);
  } else if (!process.env.REDIS_URL) {
    redis = await startPrivateRedis();
    process.env.REDIS_URL = redis.url;
    console.log(`test: private redis-server at ${redis.url}`);
  }
  // Test gateways, and the unit tests of the use cases, start from a migrated database: a
  // Postgres template or a PGlite snapshot.
  let dropTemplate = async (): Promise<void> => undefined;
  if (files.some((file) => tierOf(file) !== 'unit' || file.startsWith('tests/unit/use-cases/'))) {
    const { prepareMigratedDatabase } = await import('../tests/helpers/database.js');
    dropTemplate = await prepareMigratedDatabase();
  }
  const reportDir = mkdtempSync(join(tmpdir(), 'gw-test-report-'));
  const tapFile = join(reportDir, 'report.tap');
  const durationsFile = join(reportDir, 'durations.jsonl');
  const concurrency = Number(process.env.TEST_CONCURRENCY ?? '2');
  const testFiles = testProcesses(files, concurrency, reportDir);
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${concurrency}`,
      // A test that hangs (a dependency that never answers) fails after ten minutes instead
      // of holding the whole run.
      `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? '600000'}`,
      // A process whose tests are done exits, even if a file left a handle open behind it.
      '--test-force-exit',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tapFile}`,
      `--test-reporter=${join(root, 'scripts', 'test-durations.mjs')}`,
      `--test-reporter-destination=${durationsFile}`,
      ...testFiles,
    ],
    { stdio: 'inherit', env: process.env },
  );
  let code: number = await new Promise((resolve) =>
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))),
  );
  reportDurations(durationsFile);
  console.log(`test: ${files.length} files in ${Math.round((Date.now() - started) / 1000)} s`);
  const skipped = skippedTests(readFileSync(tapFile, 'utf8'));
  if (skipped.length > 0) {
    console.log(`test: ${skipped.length} skipped:\n  ${skipped.join('\n  ')}`);
    if (process.env.CI) {
      console.error('test: CI is set, and a skipped test is a failure there');
      code = code || 1;
    }
  }
  await redis?.stop();
  await dropTemplate();
  rmSync(reportDir, { recursive: true, force: true });
  await cleanup();
  process.exit(code);
}

void main();
