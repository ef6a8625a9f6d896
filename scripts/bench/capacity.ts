/**
 * `npm run bench:capacity`: the measurements behind docs/scaling.md's capacity model, taken
 * on this machine; writes bench-results/capacity.json and prints it.
 *
 *  1. Session checks on each Redis topology: one gateway process per topology (a single
 *     server; Sentinel with one master, one replica and three sentinels; Cluster with three
 *     masters and a replica each; the same Cluster with REDIS_CLIENT_CACHE=false), each with
 *     a password user's warm session, measured alternately at 64 connections: requests/s and
 *     the gateway's CPU time per check (so checks a second per gateway core), then over
 *     sequential checks the Redis commands and the Redis CPU time one check costs.
 *  2. Redis memory: password sign-ins on a single server, each checked once: MEMORY USAGE
 *     of every key the gateway wrote, by kind, and used_memory before and after.
 *  3. Postgres writes per sign-in: commits and inserted, updated and deleted rows (by table)
 *     of the gateway's database around password sign-ins and around passkey sign-ins.
 *  4. Audit group commit: events a second and events per commit, one writer and 64 at once.
 *  5. Kratos' password check at the production bcrypt cost (12): Kratos' CPU time per
 *     password login, when real Kratos is built (`npm run real:build`).
 *
 * Postgres is DATABASE_URL, else the local server; without one, sections 3 to 5 are left
 * out. BENCH_QUICK=1 shrinks every section.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { createAuditLog } from '../../gateway/src/audit/audit-log.js';
import { openDatabase, runMigrations } from '../../gateway/src/db/database.js';
import {
  infoFields,
  startCluster,
  startSentinel,
  startSingle,
  type RedisTopology,
} from '../../tests/helpers/redis-topologies.js';
import { SoftAuthenticator } from '../../tests/helpers/soft-authenticator.js';
import { helpIfAsked } from '../help.js';
import { compare, cpuMicros } from './load.js';
import { describeMachine } from './machine.js';
import {
  createThrowawayDatabase,
  postgresBaseUrl,
  root,
  startKratosProcess,
  type Running,
} from './processes.js';
import {
  cookieHeader,
  createIdentity,
  ORIGIN,
  PASSWORD,
  rememberCookies,
  signUp,
  startGateway,
  topologyAsRedis,
  type Stack,
} from './stack.js';

const QUICK = process.env.BENCH_QUICK === '1';
const settings = {
  connections: 64,
  seconds: Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 5)),
  rounds: Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3)),
  sequentialChecks: QUICK ? 300 : 2000,
  memorySignIns: QUICK ? 50 : 500,
  postgresSignIns: QUICK ? 30 : 200,
  auditSeconds: QUICK ? 2 : 5,
  kratosLogins: QUICK ? 10 : 40,
};

const log = (message: string) => console.log(`capacity: ${message}`);

async function postJson(url: string, jar: Map<string, string>, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { Origin: ORIGIN, 'X-CSRF': '1', 'Content-Type': 'application/json', Cookie: cookieHeader(jar) },
    body: JSON.stringify(body),
  });
  rememberCookies(jar, res.headers.getSetCookie());
  return { status: res.status, body: (await res.json().catch(() => undefined)) as unknown };
}

/** A password sign-in through the gateway in a fresh jar, then one session check. */
async function passwordSignIn(gateway: Running, email: string): Promise<Map<string, string>> {
  const jar = new Map<string, string>();
  const res = await postJson(`${gateway.url}/api/auth/login/password`, jar, {
    identifier: email,
    password: PASSWORD,
  });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
  const check = await fetch(`${gateway.url}/api/auth/session`, { headers: { Cookie: cookieHeader(jar) } });
  if (check.status !== 200) throw new Error(`the new session does not check: ${check.status}`);
  await check.arrayBuffer();
  return jar;
}

/** Sums `read` over the topology's running data nodes. */
async function overNodes(
  topology: RedisTopology,
  read: (node: RedisTopology['nodes'][number]) => Promise<number>,
) {
  let total = 0;
  for (const node of topology.nodes) if (node.running) total += await read(node);
  return total;
}

const commandsProcessed = (topology: RedisTopology) =>
  overNodes(topology, async (n) =>
    Number(infoFields(await n.command('INFO', 'stats')).total_commands_processed),
  );
const redisCpu = (topology: RedisTopology) => overNodes(topology, async (n) => cpuMicros(n.pid!) ?? 0);

/** 1. The session check on every topology. */
async function sessionChecks(stack: Omit<Stack, 'redis'>) {
  log('starting a single server, a Sentinel set and a Cluster');
  const topologies = {
    single: await startSingle(),
    sentinel: await startSentinel(),
    cluster: await startCluster(),
  };
  const variants: { name: string; topology: RedisTopology; env: Record<string, string> }[] = [
    { name: 'single server', topology: topologies.single, env: {} },
    { name: 'Sentinel', topology: topologies.sentinel, env: {} },
    { name: 'Cluster (client cache per master)', topology: topologies.cluster, env: {} },
    {
      name: 'Cluster, REDIS_CLIENT_CACHE=false',
      topology: topologies.cluster,
      env: { REDIS_CLIENT_CACHE: 'false' },
    },
  ];
  const running: { name: string; topology: RedisTopology; gateway: Running; cookie: string }[] = [];
  try {
    for (const [i, v] of variants.entries()) {
      const gateway = await startGateway(
        { ...stack, redis: topologyAsRedis(v.topology) },
        { REDIS_KEY_PREFIX: `cap${i}:`, ...v.env },
      );
      const user = await signUp(gateway, stack.kratos);
      running.push({ name: v.name, topology: v.topology, gateway, cookie: user.cookie });
    }
    log('session checks on each topology, alternating');
    const compared = await compare(
      running.map((r) => ({
        name: r.name,
        url: `${r.gateway.url}/api/auth/session`,
        headers: { Cookie: r.cookie },
        pid: r.gateway.pid,
      })),
      { ...settings, warmupSeconds: 2 },
    );
    // Redis' own background work (replication, sentinels, the cluster bus) is measured over as
    // long a quiet time right after, and taken off.
    const perCheck: Record<string, { redisCommands: number; redisCpuMicros: number }> = {};
    for (const r of running) {
      const [commands, cpu, started] = [
        await commandsProcessed(r.topology),
        await redisCpu(r.topology),
        performance.now(),
      ];
      for (let i = 0; i < settings.sequentialChecks; i++)
        await (
          await fetch(`${r.gateway.url}/api/auth/session`, { headers: { Cookie: r.cookie } })
        ).arrayBuffer();
      const busy = performance.now() - started;
      const [commandsAfter, cpuAfter] = [await commandsProcessed(r.topology), await redisCpu(r.topology)];
      await sleep(busy);
      const idleCommands = (await commandsProcessed(r.topology)) - commandsAfter;
      const idleCpu = (await redisCpu(r.topology)) - cpuAfter;
      perCheck[r.name] = {
        redisCommands: Math.max(0, commandsAfter - commands - idleCommands) / settings.sequentialChecks,
        redisCpuMicros: Math.max(0, cpuAfter - cpu - idleCpu) / settings.sequentialChecks,
      };
    }
    return compared.map((c) => ({
      ...c,
      checksPerGatewayCoreSecond: c.cpuMicrosPerRequest ? Math.round(1e6 / c.cpuMicrosPerRequest) : undefined,
      ...perCheck[c.name],
    }));
  } finally {
    for (const r of running) await r.gateway.stop();
    for (const t of Object.values(topologies)) await t.stop();
  }
}

/** The kind of a gateway key: its name up to the first `:` after the prefix. */
const kindOf = (key: string, prefix: string) => key.slice(prefix.length).split(':')[0]!;

/** 2. Redis memory per session and per identity. */
async function redisMemory(stack: Omit<Stack, 'redis'>) {
  const redis = await startSingle();
  const node = redis.nodes[0]!;
  const prefix = 'mem:';
  // Cached whoami answers are kept for the whole measurement (their size, not their lifetime, is measured).
  const gateway = await startGateway(
    { ...stack, redis: topologyAsRedis(redis) },
    { REDIS_KEY_PREFIX: prefix, WHOAMI_CACHE_SECONDS: '3600' },
  );
  try {
    const emails: string[] = [];
    for (let i = 0; i < settings.memorySignIns; i++)
      emails.push(await createIdentity(stack.kratos, 'capacity'));
    const usedBefore = Number(infoFields(await node.command('INFO', 'memory')).used_memory);
    log(`${settings.memorySignIns} password sign-ins for the memory count`);
    for (const email of emails) await passwordSignIn(gateway, email);
    const memoryAfter = infoFields(await node.command('INFO', 'memory'));
    const usedAfter = Number(memoryAfter.used_memory);
    const trackedKeys = Number(infoFields(await node.command('INFO', 'stats')).tracking_total_keys);
    const keys = (await node.command('KEYS', `${prefix}*`)) as string[];
    const kinds: Record<string, { keys: number; bytes: number }> = {};
    for (const key of keys) {
      const bytes = Number(await node.command('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      const kind = (kinds[kindOf(key, prefix)] ??= { keys: 0, bytes: 0 });
      kind.keys++;
      kind.bytes += bytes;
    }
    const average = Object.fromEntries(
      Object.entries(kinds).map(([kind, k]) => [
        kind,
        { keys: k.keys, bytesPerKey: Math.round(k.bytes / k.keys) },
      ]),
    );
    return {
      signIns: settings.memorySignIns,
      byKind: average,
      usedMemoryPerSignInBytes: Math.round((usedAfter - usedBefore) / settings.memorySignIns),
      // Keys the server remembers for the gateway's client-side cache (their invalidation pushes).
      trackedKeys,
      fragmentationRatio: Number(memoryAfter.mem_fragmentation_ratio),
    };
  } finally {
    await gateway.stop();
    await redis.stop();
  }
}

interface TableWrites {
  commits: number;
  inserted: number;
  updated: number;
  deleted: number;
  byTable: Record<string, { inserted: number; updated: number; deleted: number }>;
}

/**
 * The database's write counters once Postgres has published every backend's (a backend
 * flushes its counters within seconds of idling): commits and rows of the whole database,
 * polled from the `postgres` database until they stop moving (so the polling is not
 * counted), then rows by table, read on a short connection to the database itself (its one
 * query is one commit more per snapshot, spread over the operations measured).
 */
async function writeCounters(url: string): Promise<TableWrites> {
  const monitorUrl = new URL(url);
  const name = decodeURIComponent(monitorUrl.pathname.slice(1));
  monitorUrl.pathname = '/postgres';
  const monitor = new pg.Client({ connectionString: monitorUrl.toString() });
  await monitor.connect();
  let row: { xact_commit: string; tup_inserted: string; tup_updated: string; tup_deleted: string };
  try {
    let last = '';
    // An idle backend publishes its counters up to 10 s late: twelve equal readings a second
    // apart, or 60 s (a gateway's own timers may write meanwhile).
    for (let stable = 0, tries = 0; stable < 12 && tries < 60; tries++) {
      await sleep(1000);
      await monitor.query('SELECT pg_stat_clear_snapshot()');
      const db = await monitor.query(
        'SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = $1',
        [name],
      );
      row = db.rows[0];
      const now = JSON.stringify(row);
      stable = now === last ? stable + 1 : 0;
      last = now;
    }
  } finally {
    await monitor.end();
  }
  const own = new pg.Client({ connectionString: url });
  await own.connect();
  try {
    const tables = await own.query<{
      relname: string;
      n_tup_ins: string;
      n_tup_upd: string;
      n_tup_del: string;
    }>('SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables');
    return {
      commits: Number(row!.xact_commit),
      inserted: Number(row!.tup_inserted),
      updated: Number(row!.tup_updated),
      deleted: Number(row!.tup_deleted),
      byTable: Object.fromEntries(
        tables.rows.map((t) => [
          t.relname,
          { inserted: Number(t.n_tup_ins), updated: Number(t.n_tup_upd), deleted: Number(t.n_tup_del) },
        ]),
      ),
    };
  } finally {
    await own.end();
  }
}

/** Per operation: (after − before) / n, tables that moved only. */
function perOperation(before: TableWrites, after: TableWrites, n: number) {
  const per = (a: number, b: number) => Math.round(((a - b) / n) * 100) / 100;
  const byTable: Record<string, { inserted: number; updated: number; deleted: number }> = {};
  for (const [table, a] of Object.entries(after.byTable)) {
    const b = before.byTable[table] ?? { inserted: 0, updated: 0, deleted: 0 };
    const moved = {
      inserted: per(a.inserted, b.inserted),
      updated: per(a.updated, b.updated),
      deleted: per(a.deleted, b.deleted),
    };
    if (moved.inserted || moved.updated || moved.deleted) byTable[table] = moved;
  }
  return {
    commits: per(after.commits, before.commits),
    inserted: per(after.inserted, before.inserted),
    updated: per(after.updated, before.updated),
    deleted: per(after.deleted, before.deleted),
    byTable,
  };
}

/** 3. Postgres writes per password and per passkey sign-in. */
async function postgresWrites(stack: Omit<Stack, 'redis'>, databaseUrl: string) {
  const redis = await startSingle();
  const gateway = await startGateway(
    { ...stack, redis: topologyAsRedis(redis), databaseUrl },
    { REDIS_KEY_PREFIX: 'pg:', RATE_LIMIT_PASSKEY: '100000/60' },
  );
  try {
    const emails: string[] = [];
    for (let i = 0; i < settings.postgresSignIns; i++)
      emails.push(await createIdentity(stack.kratos, 'capacity'));
    log(`${settings.postgresSignIns} password sign-ins, counting Postgres writes`);
    let before = await writeCounters(databaseUrl);
    for (const email of emails) await passwordSignIn(gateway, email);
    const password = perOperation(before, await writeCounters(databaseUrl), settings.postgresSignIns);

    // Passkeys registered first (their writes are not counted), then as many passkey sign-ins.
    const authenticator = new SoftAuthenticator();
    const owners = emails.slice(0, Math.min(10, emails.length));
    for (const email of owners) {
      const jar = await passwordSignIn(gateway, email);
      const options = await postJson(`${gateway.url}/api/auth/passkeys/options`, jar, {});
      const credential = authenticator.register(options.body as PublicKeyCredentialCreationOptionsJSON);
      const added = await postJson(`${gateway.url}/api/auth/passkeys`, jar, { credential });
      if (added.status !== 201)
        throw new Error(`passkey not added: ${added.status} ${JSON.stringify(added.body)}`);
    }
    log(`${settings.postgresSignIns} passkey sign-ins, counting Postgres writes`);
    before = await writeCounters(databaseUrl);
    for (let i = 0; i < settings.postgresSignIns; i++) {
      const jar = new Map<string, string>();
      const options = await postJson(`${gateway.url}/api/auth/login/passkey/options`, jar, {});
      const assertion = authenticator.authenticate(options.body as PublicKeyCredentialRequestOptionsJSON);
      const res = await postJson(`${gateway.url}/api/auth/login/passkey`, jar, { credential: assertion });
      if (res.status !== 200)
        throw new Error(`passkey sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
    const passkey = perOperation(before, await writeCounters(databaseUrl), settings.postgresSignIns);
    // The audit rows of real sign-ins (their details included): bytes of row data each.
    const rows = new pg.Client({ connectionString: databaseUrl });
    await rows.connect();
    const auditRowDataBytes = Number(
      (
        await rows.query<{ bytes: string }>(
          'SELECT avg(pg_column_size(a.*))::int AS bytes FROM audit_events a',
        )
      ).rows[0]!.bytes,
    );
    await rows.end();
    return { signIns: settings.postgresSignIns, password, passkey, auditRowDataBytes };
  } finally {
    await gateway.stop();
    await redis.stop();
  }
}

/**
 * 4. Audit events a second and events per commit, one writer and 64 at once, on a database
 * of their own with a keyed chain and checkpoints as the gateway writes them by default.
 */
async function auditGroupCommit(tmp: string) {
  const database = (await createThrowawayDatabase('capacity_audit'))!;
  const db = await openDatabase({ url: database.url, pgliteDir: 'memory' });
  await runMigrations(db);
  const audit = createAuditLog({
    db,
    clock: () => new Date(),
    chain: {
      key: randomBytes(32),
      checkpointDir: join(tmp, 'audit-checkpoints'),
      everyEvents: 1000,
      intervalSeconds: 60,
    },
  });
  const rate = async (writers: number) => {
    const before = await writeCounters(database.url);
    const end = Date.now() + settings.auditSeconds * 1000;
    let events = 0;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (Date.now() < end) {
          await audit.record({ type: 'login.password', outcome: 'success', identityId: 'capacity' });
          events++;
        }
      }),
    );
    const after = await writeCounters(database.url);
    return {
      writers,
      eventsPerSecond: Math.round(events / settings.auditSeconds),
      eventsPerCommit: Math.round((events / Math.max(1, after.commits - before.commits)) * 10) / 10,
    };
  };
  try {
    log('audit group commit, 1 writer then 64');
    const rates = [await rate(1), await rate(64)];
    const size = await db.query<{ heap: string; indexes: string; rows: string }>(
      "SELECT pg_relation_size('audit_events') AS heap, pg_indexes_size('audit_events') AS indexes, count(*) AS rows FROM audit_events",
    );
    const { heap, indexes, rows } = size.rows[0]!;
    return {
      rates,
      // On disk per row, over every row the rates wrote: the table, and its three indexes.
      heapBytesPerRow: Math.round(Number(heap) / Number(rows)),
      indexBytesPerRow: Math.round(Number(indexes) / Number(rows)),
    };
  } finally {
    await db.close();
    await database.drop();
  }
}

/** The pid of the running `binary` whose environment holds `variable` (another run's Kratos may be running too). */
function pidOf(binary: string, variable: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0] !== binary) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(variable)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** 5. Real Kratos' CPU time per password login at bcrypt cost 12. */
async function kratosPasswordCost() {
  const { findRealServer } = await import('../real-servers/binaries.js');
  const binary = findRealServer('kratos');
  if (!binary || !process.env.DATABASE_URL) return undefined;
  const { startRealKratos } = await import('../../tests/helpers/real-kratos.js');
  const kratos = await startRealKratos({ env: { HASHERS_BCRYPT_COST: '12' } });
  try {
    const email = `capacity.${Math.random().toString(36).slice(2)}@example.com`;
    const created = await fetch(`${kratos.adminUrl}/admin/identities`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        schema_id: 'default',
        traits: { email },
        credentials: { password: { config: { password: PASSWORD } } },
      }),
    });
    if (created.status !== 201) throw new Error(`identity not created at Kratos: ${created.status}`);
    const pid = pidOf(binary, `SERVE_ADMIN_PORT=${new URL(kratos.adminUrl).port}`);
    if (!pid) throw new Error('real Kratos process not found');
    const login = async () => {
      const flow = (await (await fetch(`${kratos.publicUrl}/self-service/login/api`)).json()) as {
        id: string;
      };
      const res = await fetch(`${kratos.publicUrl}/self-service/login?flow=${flow.id}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ method: 'password', identifier: email, password: PASSWORD }),
      });
      if (res.status !== 200) throw new Error(`Kratos login failed: ${res.status} ${await res.text()}`);
    };
    await login();
    log(`${settings.kratosLogins} password logins at real Kratos (bcrypt cost 12)`);
    const cpuBefore = cpuMicros(pid)!;
    const started = performance.now();
    for (let i = 0; i < settings.kratosLogins; i++) await login();
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = cpuMicros(pid);
    if (cpuAfter === undefined) throw new Error('real Kratos ended during the measurement');
    const cpuMsPerLogin = (cpuAfter - cpuBefore) / 1000 / settings.kratosLogins;
    return {
      logins: settings.kratosLogins,
      bcryptCost: 12,
      cpuMsPerLogin: Math.round(cpuMsPerLogin * 10) / 10,
      loginsPerKratosCoreSecond: Math.round((1000 / cpuMsPerLogin) * 10) / 10,
      sequentialLoginsPerSecond: Math.round((settings.kratosLogins / seconds) * 10) / 10,
    };
  } finally {
    await kratos.close();
  }
}

async function main() {
  helpIfAsked(import.meta.url);
  const started = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'gw-capacity-'));
  const kratos = await startKratosProcess();
  const database = await createThrowawayDatabase('capacity');
  const stack = { kratos, tmp };
  try {
    const machine = await describeMachine(root, database ? postgresBaseUrl() : undefined);
    const results = {
      machine,
      settings,
      sessionChecks: await sessionChecks(stack),
      redisMemory: await redisMemory(stack),
      ...(database && {
        postgresWrites: await postgresWrites(stack, database.url),
        auditGroupCommit: await auditGroupCommit(tmp),
      }),
      kratosPassword: await kratosPasswordCost(),
      runSeconds: Math.round((Date.now() - started) / 1000),
    };
    mkdirSync(join(root, 'bench-results'), { recursive: true });
    writeFileSync(join(root, 'bench-results', 'capacity.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log(JSON.stringify(results, null, 2));
  } finally {
    await kratos.stop();
    await database?.drop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
