/**
 * `npm run bench`: measures the gateway against same-run baselines and writes
 * BENCHMARKS.md (and the raw figures to bench-results/gateway.json).
 *
 * Every server runs in its own process (the gateway, the bare Express baseline, the Kratos
 * double, a private redis-server); autocannon runs here. Compared servers are measured
 * alternately, in rounds, and only their ratios are meant to be quoted: the load generator
 * shares the machine's cores with them.
 *
 * Measured: the session check against a bare Express route (with the gateway's peak RSS
 * under that load), the same on Redis Sentinel and Cluster, with the Redis client-side cache on and off, forward auth through a real
 * nginx `auth_request` against nginx's static answer, the whoami cache, the CPU profile of
 * the session check, the session check with a growing session store, the audit insert rate,
 * and (their own scripts) passkey login and file encryption.
 *
 * BENCH_QUICK=1 shrinks every phase (a smoke run); BENCH_SECONDS and BENCH_ROUNDS tune it;
 * `-- --render` rewrites BENCHMARKS.md from bench-results/gateway.json without measuring;
 * `-- --session-only` measures the session check alone and prints the figures;
 * `-- --profile-only` prints the CPU profile of the session check alone.
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
import { compare, measure, type Compared, type Target } from './load.js';
import { describeMachine } from './machine.js';
import { findNginx, startBenchNginx } from './nginx.js';
import { sampleMemory } from './proc.js';
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
import { signUp, startGateway, topologyAsRedis, type SignedIn, type Stack } from './stack.js';
import { startCluster, startSentinel } from '../../tests/helpers/redis-topologies.js';
import { helpIfAsked } from '../help.js';

const QUICK = process.env.BENCH_QUICK === '1';
const settings = {
  connections: 64,
  seconds: Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 5)),
  rounds: Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 5)),
  growthConnections: 16,
  growthRounds: Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3)),
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
  const check = async () =>
    (await fetch(`${gateway.url}/api/auth/session`, { headers: { Cookie: cookie } })).arrayBuffer();
  await check();
  const before = await total();
  for (let i = 0; i < n; i++) await check();
  const after = await total();
  client.destroy();
  return (after - before - 1) / n;
}

/** A gateway with a signed-in user, and a bare route answering that user's session body and headers. */
async function gatewayAndBare(stack: Stack, keyPrefix: string) {
  const gateway = await startGateway(stack, { REDIS_KEY_PREFIX: keyPrefix });
  const user = await signUp(gateway, stack.kratos);
  const bare = await forkChild('scripts/bench/bare-child.ts', {
    BENCH_SESSION_BODY: user.sessionBody,
    BENCH_VERIFY_HEADERS: JSON.stringify(user.verifyHeaders),
  });
  const headers = { Cookie: user.cookie };
  const targets: Target[] = [
    { name: 'bare /session', url: `${bare.url}/session`, headers, pid: bare.pid },
    { name: 'gateway /api/auth/session', url: `${gateway.url}/api/auth/session`, headers, pid: gateway.pid },
    { name: 'bare /verify', url: `${bare.url}/verify`, headers, pid: bare.pid },
    { name: 'gateway /api/auth/verify', url: `${gateway.url}/api/auth/verify`, headers, pid: gateway.pid },
  ];
  return { gateway, user, bare, targets };
}

/**
 * The session check against the bare route, alternating; the resident memory of both
 * processes is sampled all along (peak RSS under the session-check load).
 */
async function sessionCheck(stack: Stack) {
  const { gateway, user, bare, targets } = await gatewayAndBare(stack, 'bench-a:');
  log('session check: gateway vs bare Express, alternating');
  const gatewayMemory = sampleMemory(gateway.pid);
  const bareMemory = sampleMemory(bare.pid);
  const compared = await compare(targets, { ...settings, warmupSeconds: 3 });
  const memory = { gateway: gatewayMemory.stop(), bare: bareMemory.stop() };
  const redisCommands = await redisCommandsPerCheck(stack.redis, gateway, user.cookie);
  const allocations = [];
  for (const target of targets) {
    const owner = target.pid === gateway.pid ? gateway : bare;
    allocations.push({ name: target.name, bytesPerRequest: await allocatedPerRequest(owner, target) });
  }
  await bare.stop();
  return {
    gateway,
    user,
    compared,
    memory,
    redisCommands,
    allocations,
    bodyBytes: Buffer.byteLength(user.sessionBody),
  };
}

/** Bytes the server allocates per request of `target`, over `n` sequential requests. */
async function allocatedPerRequest(server: Running, target: Target, n = 1000) {
  const request = async () =>
    void (await (await fetch(target.url, { headers: target.headers })).arrayBuffer());
  await request();
  const bytes = await server.allocatedDuring(async () => {
    for (let i = 0; i < n; i++) await request();
  });
  return bytes / n;
}

/**
 * The same comparison with the gateway on Redis Sentinel (a master, a replica, three
 * sentinels) and on Redis Cluster (three masters with a replica each), one after the other.
 */
async function sessionCheckOnTopologies(stack: Stack) {
  const results = [];
  for (const [name, start] of [
    ['Sentinel', () => startSentinel()],
    ['Cluster', () => startCluster()],
  ] as const) {
    log(`starting Redis ${name}`);
    const topology = await start();
    try {
      const { gateway, bare, targets } = await gatewayAndBare(
        { ...stack, redis: topologyAsRedis(topology) },
        `bench-${name.toLowerCase()}:`,
      );
      log(`session check on ${name}: gateway vs bare Express, alternating`);
      const compared = await compare(targets, { ...settings, warmupSeconds: 3 });
      await Promise.all([gateway.stop(), bare.stop()]);
      results.push({ name, compared });
    } finally {
      await topology.stop();
    }
  }
  return results;
}

/** The session check of the default gateway against one with REDIS_CLIENT_CACHE=false, alternating. */
async function clientCache(
  stack: Stack,
  cached: { gateway: Running; user: SignedIn; redisCommands: number },
) {
  const uncached = await startGateway(stack, { REDIS_KEY_PREFIX: 'bench-c:', REDIS_CLIENT_CACHE: 'false' });
  const user = await signUp(uncached, stack.kratos);
  log('session check: Redis client-side cache on vs off, alternating');
  const compared = await compare(
    [
      {
        name: 'client cache on (default)',
        url: `${cached.gateway.url}/api/auth/session`,
        headers: { Cookie: cached.user.cookie },
        pid: cached.gateway.pid,
      },
      {
        name: 'client cache off (REDIS_CLIENT_CACHE=false)',
        url: `${uncached.url}/api/auth/session`,
        headers: { Cookie: user.cookie },
        pid: uncached.pid,
      },
    ],
    { ...settings, warmupSeconds: 3 },
  );
  const redisCommandsOff = await redisCommandsPerCheck(stack.redis, uncached, user.cookie);
  await uncached.stop();
  return { compared, redisCommands: { on: cached.redisCommands, off: redisCommandsOff } };
}

/**
 * Forward auth end to end: a real nginx whose `/auth` location asks the gateway's
 * /api/auth/verify through `auth_request` (as the compose template does, and through a
 * keep-alive upstream), against the same nginx answering `/static` by itself, alternating.
 * The servers' CPU per request counts nginx's worker and, behind it, the gateway.
 */
async function forwardAuth(session: { gateway: Running; user: SignedIn }) {
  const binary = findNginx();
  if (!binary) return undefined;
  const nginx = await startBenchNginx(binary, `127.0.0.1:${session.gateway.port}`);
  try {
    const headers = { Cookie: session.user.cookie };
    // The guard must be live: without the cookie the gateway's 401 comes back through nginx.
    const refused = await fetch(`${nginx.url}/auth`);
    const allowed = await fetch(`${nginx.url}/auth`, { headers });
    await Promise.all([refused.arrayBuffer(), allowed.arrayBuffer()]);
    if (refused.status !== 401 || allowed.status !== 200)
      throw new Error(`nginx /auth answered ${refused.status} without the cookie, ${allowed.status} with it`);
    log('forward auth: nginx auth_request vs nginx static, alternating');
    const compared = await compare(
      [
        { name: 'nginx static 200', url: `${nginx.url}/static`, headers, pid: nginx.workerPid },
        {
          name: 'nginx auth_request (new connection per check)',
          url: `${nginx.url}/auth`,
          headers,
          pids: [nginx.workerPid, session.gateway.pid],
        },
        {
          name: 'nginx auth_request (keep-alive upstream)',
          url: `${nginx.url}/auth-keepalive`,
          headers,
          pids: [nginx.workerPid, session.gateway.pid],
        },
      ],
      { ...settings, warmupSeconds: 3 },
    );
    return { compared };
  } finally {
    await nginx.stop();
  }
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
      pid: cached.gateway.pid,
    },
    {
      name: 'whoami cache disabled',
      url: `${uncached.url}/api/auth/session`,
      headers: { Cookie: user.cookie },
      pid: uncached.pid,
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
  const gateway = await startGateway(stack, { REDIS_KEY_PREFIX: 'bench-p:' }, dir);
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

/** Copies of a real session under fresh keys until the database holds `count` sessions. */
async function fillTo(redis: PrivateRedis, db: number, count: number) {
  const client = createClient({ url: `${redis.url}/${db}` });
  await client.connect();
  const keys = () => client.keys('growth:sess:*');
  const have = await keys();
  const started = Date.now();
  if (count > have.length) {
    await fillSessions({
      port: redis.port,
      db,
      keyPrefix: 'growth:sess:',
      value: (await client.get(have[0]!))!,
      count: count - have.length,
      ttlSeconds: 3600,
    });
  }
  const sessions = (await keys()).length;
  client.destroy();
  return { sessions, fillSeconds: (Date.now() - started) / 1000 };
}

/**
 * The session check as the session store grows: a gateway whose Redis database is filled
 * step by step, measured alternately against a reference gateway on a Redis server of its own
 * that keeps the smallest count, so every step is a same-run ratio. The first step (both at
 * the smallest count) shows how far two equal setups differ on this machine.
 */
async function sessionGrowth(stack: Stack) {
  const referenceRedis = await startPrivateRedis();
  const reference = await startGateway({ ...stack, redis: referenceRedis }, { REDIS_KEY_PREFIX: 'growth:' });
  const grown = await startGateway(stack, { REDIS_URL: `${stack.redis.url}/1`, REDIS_KEY_PREFIX: 'growth:' });
  try {
    const referenceUser = await signUp(reference, stack.kratos);
    const user = await signUp(grown, stack.kratos);
    const [smallest] = settings.sessionCounts;
    const referenceSessions = (await fillTo(referenceRedis, 0, smallest!)).sessions;
    const points = [];
    for (const count of settings.sessionCounts) {
      const { sessions, fillSeconds } = await fillTo(stack.redis, 1, count);
      log(`session check with ${sessions} sessions in Redis vs ${referenceSessions}, alternating`);
      const [ref, big] = (await compare(
        [
          {
            name: `reference, ${referenceSessions} sessions`,
            url: `${reference.url}/api/auth/session`,
            headers: { Cookie: referenceUser.cookie },
            pid: reference.pid,
          },
          {
            name: `grown, ${sessions} sessions`,
            url: `${grown.url}/api/auth/session`,
            headers: { Cookie: user.cookie },
            pid: grown.pid,
          },
        ],
        {
          connections: settings.growthConnections,
          seconds: settings.seconds,
          rounds: settings.growthRounds,
          warmupSeconds: 1,
        },
      )) as [Compared, Compared];
      points.push({ sessions, referenceSessions, fillSeconds, grown: big, reference: ref });
    }
    return points;
  } finally {
    await grown.stop();
    await reference.stop();
    await referenceRedis.stop();
  }
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
    const cache = await clientCache(stack, session);
    const nginx = await forwardAuth(session);
    if (!nginx) log('no nginx binary (NGINX_BIN, /usr/sbin/nginx or PATH): forward auth not measured');
    const whoami = await whoamiCache(stack, session);
    await session.gateway.stop();
    const topologies = await sessionCheckOnTopologies(stack);
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
        allocations: session.allocations,
        bodyBytes: session.bodyBytes,
        memory: session.memory,
      },
      topologies,
      clientCache: cache,
      forwardAuth: nginx,
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
      JSON.stringify(
        {
          compared: session.compared,
          redisCommands: session.redisCommands,
          allocations: session.allocations,
          memory: session.memory,
        },
        null,
        2,
      ),
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
