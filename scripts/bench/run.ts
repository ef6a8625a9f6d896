/**
 * `npm run bench`: measures the gateway against same-run baselines and writes
 * BENCHMARKS.md (and the raw figures to bench-results/gateway.json).
 *
 * Every server runs in its own process (the gateway, the bare Express baseline, the Kratos
 * double, a private redis-server); autocannon runs here. Compared servers are measured
 * alternately, in rounds, and only their ratios are meant to be quoted: the load generator
 * shares the machine's cores with them.
 *
 * BENCH_QUICK=1 shrinks every phase (a smoke run); BENCH_SECONDS and BENCH_ROUNDS tune it;
 * `-- --render` rewrites BENCHMARKS.md from bench-results/gateway.json without measuring;
 * `-- --session-only` measures the session check alone and prints the figures.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { auditGrowth } from './audit-growth.js';
import { summariseProfile } from './cpu-profile.js';
import { compare, measure, type Target } from './load.js';
import { describeMachine } from './machine.js';
import {
  createThrowawayDatabase,
  forkChild,
  root,
  startPrivateRedis,
  startKratosProcess,
  type PrivateRedis,
  type Running,
} from './processes.js';
import { renderReport, type BenchResults, type ForeignResult } from './report.js';
import { fillSessions } from './session-fill.js';
import { signUp, startGateway, type SignedIn, type Stack } from './stack.js';
import { helpIfAsked } from '../help.js';

const QUICK = process.env.BENCH_QUICK === '1';
const settings = {
  connections: 64,
  seconds: Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 5)),
  rounds: Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 5)),
  growthConnections: 16,
  sessionCounts: QUICK ? [10, 1_000, 20_000] : [10, 10_000, 1_000_000],
  auditRows: QUICK ? 20_000 : 1_000_000,
  auditSeconds: QUICK ? 2 : 5,
  profileSeconds: QUICK ? 3 : 10,
};

const log = (message: string) => console.log(`bench: ${message}`);

/** Redis commands one GET /session costs, counted by the server over `n` sequential requests. */
async function redisCommandsPerCheck(redis: PrivateRedis, gateway: Running, cookie: string, n = 500) {
  const client = createClient({ url: redis.url });
  await client.connect();
  const total = async () => Number(/total_commands_processed:(\d+)/.exec(await client.info('stats'))![1]);
  await fetch(`${gateway.url}/api/auth/session`, { headers: { Cookie: cookie } });
  const before = await total();
  for (let i = 0; i < n; i++) await fetch(`${gateway.url}/api/auth/session`, { headers: { Cookie: cookie } });
  const after = await total();
  client.destroy();
  return (after - before - 1) / n;
}

async function sessionCheck(stack: Stack) {
  const gateway = await startGateway(stack, { REDIS_KEY_PREFIX: 'bench-a:', WHOAMI_CACHE_SECONDS: '5' });
  const user = await signUp(gateway, stack.kratos);
  const bare = await forkChild('scripts/bench/bare-child.ts', {
    BENCH_SESSION_BODY: user.sessionBody,
    BENCH_VERIFY_HEADERS: JSON.stringify(user.verifyHeaders),
  });
  const headers = { Cookie: user.cookie };
  log('session check: gateway vs bare Express, alternating');
  const compared = await compare(
    [
      { name: 'bare /session', url: `${bare.url}/session`, headers, pid: bare.pid },
      {
        name: 'gateway /api/auth/session',
        url: `${gateway.url}/api/auth/session`,
        headers,
        pid: gateway.pid,
      },
      { name: 'bare /verify', url: `${bare.url}/verify`, headers, pid: bare.pid },
      { name: 'gateway /api/auth/verify', url: `${gateway.url}/api/auth/verify`, headers, pid: gateway.pid },
    ],
    { ...settings, warmupSeconds: 3 },
  );
  const redisCommands = await redisCommandsPerCheck(stack.redis, gateway, user.cookie);
  await bare.stop();
  return { gateway, user, compared, redisCommands, bodyBytes: Buffer.byteLength(user.sessionBody) };
}

async function whoamiCache(stack: Stack, cached: { gateway: Running; user: SignedIn }) {
  const uncached = await startGateway(stack, { REDIS_KEY_PREFIX: 'bench-b:', WHOAMI_CACHE_SECONDS: '0' });
  const user = await signUp(uncached, stack.kratos);
  log('Kratos-backed session check: whoami cache warm vs disabled, alternating');
  const targets: Target[] = [
    {
      name: 'whoami cache warm (5 s)',
      url: `${cached.gateway.url}/api/auth/session`,
      headers: { Cookie: cached.user.cookie },
    },
    {
      name: 'whoami cache disabled',
      url: `${uncached.url}/api/auth/session`,
      headers: { Cookie: user.cookie },
    },
  ];
  const compared = await compare(targets, {
    ...settings,
    rounds: Math.max(1, settings.rounds - 1),
    warmupSeconds: 3,
  });
  await uncached.stop();
  return compared;
}

async function cpuProfile(stack: Stack) {
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-prof-'));
  const gateway = await startGateway(stack, { REDIS_KEY_PREFIX: 'bench-p:', WHOAMI_CACHE_SECONDS: '5' }, dir);
  const user = await signUp(gateway, stack.kratos);
  log(`CPU profile of GET /api/auth/session (${settings.profileSeconds} s)`);
  const target = {
    name: 'profiled',
    url: `${gateway.url}/api/auth/session`,
    headers: { Cookie: user.cookie },
  };
  await measure(target, { connections: settings.connections, seconds: 2 });
  const from = await gateway.clock();
  const load = await measure(target, { connections: settings.connections, seconds: settings.profileSeconds });
  const to = await gateway.clock();
  await gateway.stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('the profiled gateway wrote no .cpuprofile');
  const summary = summariseProfile(join(dir, file), root, { window: { from, to } });
  rmSync(dir, { recursive: true, force: true });
  return { load, summary };
}

/** Session-check latency as the session store grows (a gateway on its own Redis database). */
async function sessionGrowth(stack: Stack) {
  const gateway = await startGateway(stack, {
    REDIS_URL: `${stack.redis.url}/1`,
    REDIS_KEY_PREFIX: 'growth:',
    WHOAMI_CACHE_SECONDS: '5',
  });
  const user = await signUp(gateway, stack.kratos);
  const client = createClient({ url: `${stack.redis.url}/1` });
  await client.connect();
  const [key] = await client.keys('growth:sess:*');
  const value = (await client.get(key!))!;
  const countSessions = async () => (await client.keys('growth:sess:*')).length;
  const points = [];
  for (const target of settings.sessionCounts) {
    const have = await countSessions();
    const started = Date.now();
    if (target > have) {
      await fillSessions({
        port: stack.redis.port,
        db: 1,
        keyPrefix: 'growth:sess:',
        value,
        count: target - have,
        ttlSeconds: 3600,
      });
    }
    const fillSeconds = (Date.now() - started) / 1000;
    const sessions = await countSessions();
    log(`session check with ${sessions} sessions in Redis`);
    const m = await measure(
      { name: String(target), url: `${gateway.url}/api/auth/session`, headers: { Cookie: user.cookie } },
      { connections: settings.growthConnections, seconds: settings.seconds },
    );
    points.push({ sessions, fillSeconds, ...m });
  }
  client.destroy();
  await gateway.stop();
  return points;
}

/** Runs the passkey and file-crypto benchmarks other modules own, when they exist, and reads their JSON. */
function foreignBenchmarks(): ForeignResult[] {
  const resultsDir = join(root, 'bench-results');
  return ['passkey', 'file-crypto'].map((name) => {
    const script = join(root, 'scripts/bench', `${name}.ts`);
    if (!existsSync(script)) return { name, status: 'missing' as const };
    log(`running scripts/bench/${name}.ts`);
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_RESULTS_DIR: resultsDir },
      timeout: 600_000,
    });
    const json = join(resultsDir, `${name}.json`);
    if (run.status !== 0 || !existsSync(json))
      return { name, status: 'failed' as const, exitCode: run.status };
    return { name, status: 'ok' as const, data: JSON.parse(readFileSync(json, 'utf8')) as unknown };
  });
}

async function main() {
  const started = Date.now();
  const loadAtStart = loadavg()[0]!;
  const tmp = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  const redis = await startPrivateRedis();
  const kratos = await startKratosProcess();
  const database = await createThrowawayDatabase('gw');
  const stack: Stack = { redis, kratos, databaseUrl: database?.url, tmp };
  try {
    const machine = await describeMachine(root, database?.url);
    const session = await sessionCheck(stack);
    const whoami = await whoamiCache(stack, session);
    await session.gateway.stop();
    const profile = await cpuProfile(stack);
    const growth = await sessionGrowth(stack);
    const auditDb = await createThrowawayDatabase('audit');
    log(`audit insert rate, empty and with ${settings.auditRows} rows`);
    const audit = auditDb
      ? await auditGrowth(auditDb.url, settings.auditRows, settings.auditSeconds)
      : undefined;
    await auditDb?.drop();
    const foreign = foreignBenchmarks();
    const results: BenchResults = {
      machine,
      settings: { ...settings, quick: QUICK },
      session: {
        compared: session.compared,
        redisCommands: session.redisCommands,
        bodyBytes: session.bodyBytes,
      },
      whoami,
      profile,
      growth,
      audit,
      foreign,
      durationSeconds: (Date.now() - started) / 1000,
      loadAverage: { start: loadAtStart, end: loadavg()[0]! },
    };
    mkdirSync(join(root, 'bench-results'), { recursive: true });
    writeFileSync(join(root, 'bench-results', 'gateway.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(root, 'BENCHMARKS.md'), renderReport(results));
    log(`BENCHMARKS.md written in ${Math.round(results.durationSeconds)} s`);
  } finally {
    await kratos.stop();
    await redis.stop();
    await database?.drop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** `--render`: rewrites BENCHMARKS.md from the figures of the last run, without measuring again. */
function renderOnly() {
  const results = JSON.parse(
    readFileSync(join(root, 'bench-results', 'gateway.json'), 'utf8'),
  ) as BenchResults;
  writeFileSync(join(root, 'BENCHMARKS.md'), renderReport(results));
}

/** `--session-only`: the session-check comparison alone, printed, for profiling work. */
async function sessionOnly() {
  const tmp = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  const redis = await startPrivateRedis();
  const kratos = await startKratosProcess();
  try {
    const session = await sessionCheck({ redis, kratos, tmp });
    await session.gateway.stop();
    console.log(
      JSON.stringify({ compared: session.compared, redisCommands: session.redisCommands }, null, 2),
    );
  } finally {
    await kratos.stop();
    await redis.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

helpIfAsked(import.meta.url);
/** `--profile-only`: the CPU profile of the session check alone, printed. */
async function profileOnly() {
  const tmp = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  const redis = await startPrivateRedis();
  const kratos = await startKratosProcess();
  try {
    const { load, summary } = await cpuProfile({ redis, kratos, tmp });
    console.log(JSON.stringify({ load, summary }, null, 2));
  } finally {
    await kratos.stop();
    await redis.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv.includes('--render')) renderOnly();
else if (process.argv.includes('--profile-only')) await profileOnly();
else if (process.argv.includes('--session-only')) await sessionOnly();
else await main();
