/**
 * Passkey logins per second through the gateway (POST /api/auth/login/passkey: challenge
 * read and deleted in Redis, credential read and counter update in the database, signature
 * verification, the identity from Kratos, a new session and an audit event) against raw
 * `verifyAuthenticationResponse` calls on the same assertions, in the same run. Writes
 * bench-results/passkey.json (BENCH_RESULTS_DIR overrides the directory).
 *
 * The gateway runs in its own process (default configuration and log level) against a
 * private redis-server, the Kratos double's process and a throwaway Postgres database
 * (DATABASE_URL, else the local server; PGlite when none answers). `USERS` accounts are set
 * up over HTTP (a password identity at the double's admin API, password login through the
 * gateway, a passkey added), and the logins take turns between them, as sign-ins of many
 * people do. Every login (options, then an assertion signed by the software authenticator,
 * each in its own cookie jar) is prepared before the timed window, and a load client in a
 * process of its own sends them. Raw verification and gateway logins are
 * measured alternately in rounds; the ratio is the median of the per-round ratios.
 *
 * BENCH_QUICK=1 shrinks the run; BENCH_ROUNDS sets the number of rounds; BENCH_CPU_PROFILE_DIR
 * has the gateway write a V8 CPU profile there.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { SoftAuthenticator } from '../../tests/helpers/soft-authenticator.js';
import { helpIfAsked } from '../help.js';
import { cpuMicros } from './load.js';
import type { BatchResult, PostBatch, PreparedPost } from './passkey-client.js';
import {
  createThrowawayDatabase,
  root,
  startKratosProcess,
  startPrivateRedis,
  type Running,
} from './processes.js';
import { cookieHeader, ORIGIN, rememberCookies, signUp, startGateway, type Stack } from './stack.js';
import { median, pairedRatio, splitEvenly } from './stats.js';

const QUICK = process.env.BENCH_QUICK === '1';
// Many short rounds: the machine's speed drifts within seconds, and a ratio is only fair
// between a raw round and the gateway round right beside it. The median of nine is steady.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 2 : 9));
const LOGINS_PER_ROUND = QUICK ? 100 : 500;
const WARMUP_LOGINS = QUICK ? 30 : 4000;
const CONCURRENCY = 64;
const USERS = 128;
// Raw verification is several times faster than a login: it goes over a round's assertions
// this many times, so that both sides of a round are timed over about as long a window.
const RAW_PASSES = 4;
const log = (message: string) => console.log(`bench(passkey): ${message}`);

export interface PasskeyRound {
  rawPerSecond: number;
  gatewayPerSecond: number;
  /** CPU time of this process per raw verification (µs, all its threads). */
  rawCpuMicros: number;
  /** CPU time per login (µs) of every process of the stack during the gateway's round. */
  stackCpuMicros: StackCpu;
}

/** CPU time (µs) of each process a gateway login keeps busy. */
export interface StackCpu {
  gateway: number;
  kratos: number;
  postgres: number;
  redis: number;
  loadClient: number;
}

const STACK_PROCESSES = ['gateway', 'kratos', 'postgres', 'redis', 'loadClient'] as const;

/** `value` for each process of the stack. */
const perProcess = (value: (p: keyof StackCpu) => number) =>
  Object.fromEntries(STACK_PROCESSES.map((p) => [p, value(p)])) as unknown as StackCpu;

/** The CPU time used so far by every Postgres server process on this machine (µs). */
function postgresCpuMicros(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres')
        total += cpuMicros(Number(entry)) ?? 0;
    } catch {
      // The process ended while the list was read.
    }
  }
  return total;
}

export interface PasskeyResults {
  logins: number;
  /** Accounts the logins take turns between, a passkey each. */
  users: number;
  rounds: PasskeyRound[];
  concurrency: number;
  database: 'postgres' | 'pglite';
  /** Medians over the rounds. */
  rawVerificationsPerSecond: number;
  gatewayLoginsPerSecond: number;
  rawCpuMicrosPerVerification: number;
  /** Medians over the rounds of each process's CPU time per login (µs). */
  stackCpuMicrosPerLogin: StackCpu;
  /** Median of the per-round ratios gateway / raw. */
  ratio: number;
  markdown: string;
}

async function postJson(url: string, jar: Map<string, string>, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { Origin: ORIGIN, 'X-CSRF': '1', 'Content-Type': 'application/json', Cookie: cookieHeader(jar) },
    body: JSON.stringify(body),
  });
  rememberCookies(jar, res.headers.getSetCookie());
  return { status: res.status, body: (await res.json()) as unknown };
}

/** Registers a passkey of `authenticator` for the signed-in jar (POST /passkeys/options, /passkeys). */
async function addPasskey(gateway: Running, jar: Map<string, string>, authenticator: SoftAuthenticator) {
  const options = await postJson(`${gateway.url}/api/auth/passkeys/options`, jar, {});
  if (options.status !== 200)
    throw new Error(`passkey options: ${options.status} ${JSON.stringify(options.body)}`);
  const credential = authenticator.register(options.body as PublicKeyCredentialCreationOptionsJSON);
  const added = await postJson(`${gateway.url}/api/auth/passkeys`, jar, { credential });
  if (added.status !== 201)
    throw new Error(`passkey not added: ${added.status} ${JSON.stringify(added.body)}`);
}

interface PreparedLogin {
  post: PreparedPost;
  assertion: AuthenticationResponseJSON;
  challenge: string;
  /** The credential the raw verification checks the assertion with. */
  credential: RawCredential;
}

interface RawCredential {
  id: string;
  publicKey: Uint8Array<ArrayBuffer>;
}

/** A signed-in account with a passkey in `authenticator`. */
interface PasskeyUser {
  authenticator: SoftAuthenticator;
  credential: RawCredential;
}

/** One discoverable login: options in a fresh cookie jar, the assertion signed for its challenge. */
async function prepareLogin(gateway: Running, user: PasskeyUser): Promise<PreparedLogin> {
  const jar = new Map<string, string>();
  const options = await postJson(`${gateway.url}/api/auth/login/passkey/options`, jar, {});
  if (options.status !== 200)
    throw new Error(`login options: ${options.status} ${JSON.stringify(options.body)}`);
  const request = options.body as PublicKeyCredentialRequestOptionsJSON;
  const assertion = user.authenticator.authenticate(request);
  return {
    post: { cookie: cookieHeader(jar), body: JSON.stringify({ credential: assertion }) },
    assertion,
    challenge: request.challenge,
    credential: user.credential,
  };
}

async function prepareLogins(gateway: Running, users: PasskeyUser[], n: number) {
  const logins: PreparedLogin[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const user = users[next++ % users.length]!;
      logins.push(await prepareLogin(gateway, user));
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return logins;
}

/** The load client in its own process; `send` hands it a batch and answers its result. */
async function startLoadClient(): Promise<{
  pid: number;
  send(batch: PostBatch): Promise<BatchResult>;
  stop(): void;
}> {
  const child: ChildProcess = fork(join(root, 'scripts/bench/passkey-client.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the load client exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    send: (batch) =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m as BatchResult));
        child.send(batch);
      }),
    stop: () => child.disconnect(),
  };
}

/** Raw verifications of the prepared assertions (`RAW_PASSES` times over), `CONCURRENCY` in flight, in this process. */
async function rawRate(logins: PreparedLogin[]) {
  const total = logins.length * RAW_PASSES;
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < total) {
      const login = logins[next++ % logins.length]!;
      const result = await verifyAuthenticationResponse({
        response: login.assertion,
        expectedChallenge: login.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: 'localhost',
        credential: { ...login.credential, counter: 0 },
      });
      if (!result.verified) throw new Error('raw verification failed');
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  return { perSecond: total / seconds, cpuMicros: (cpu.user + cpu.system) / total };
}

async function gatewayRate(
  client: Awaited<ReturnType<typeof startLoadClient>>,
  gateway: Running,
  stack: { kratosPid: number; redisPid: number | undefined },
  logins: PreparedLogin[],
) {
  const snapshot = (): StackCpu => ({
    gateway: cpuMicros(gateway.pid) ?? 0,
    kratos: cpuMicros(stack.kratosPid) ?? 0,
    postgres: postgresCpuMicros(),
    redis: stack.redisPid === undefined ? 0 : (cpuMicros(stack.redisPid) ?? 0),
    loadClient: cpuMicros(client.pid) ?? 0,
  });
  const before = snapshot();
  const result = await client.send({
    url: `${gateway.url}/api/auth/login/passkey`,
    origin: ORIGIN,
    concurrency: CONCURRENCY,
    posts: logins.map((l) => l.post),
  });
  if (result.failures > 0)
    throw new Error(`${result.failures} of ${result.count} logins failed; first: ${result.firstFailure}`);
  const after = snapshot();
  return {
    perSecond: result.perSecond,
    stackCpuMicros: perProcess((p) => (after[p] - before[p]) / result.count),
  };
}

export function passkeyMarkdown(r: Omit<PasskeyResults, 'markdown'>): string {
  const cpu = (v: number) => v.toFixed(0);
  return [
    '| Path | logins or verifications/s (median) | per round | CPU µs each (median) |',
    '| --- | --- | --- | --- |',
    `| raw \`verifyAuthenticationResponse\` | ${r.rawVerificationsPerSecond.toFixed(0)} | ` +
      `${r.rounds.map((x) => x.rawPerSecond.toFixed(0)).join(' / ')} | ${cpu(r.rawCpuMicrosPerVerification)} |`,
    `| gateway \`POST /api/auth/login/passkey\` (${r.database}) | ${r.gatewayLoginsPerSecond.toFixed(0)} | ` +
      `${r.rounds.map((x) => x.gatewayPerSecond.toFixed(0)).join(' / ')} | ${cpu(r.stackCpuMicrosPerLogin.gateway)} |`,
    '',
    `CPU time per login, by process (µs, medians over the rounds): gateway ${cpu(r.stackCpuMicrosPerLogin.gateway)}, ` +
      `Kratos double ${cpu(r.stackCpuMicrosPerLogin.kratos)}, Postgres ${cpu(r.stackCpuMicrosPerLogin.postgres)} ` +
      `(all its processes), Redis ${cpu(r.stackCpuMicrosPerLogin.redis)}, load client ` +
      `${cpu(r.stackCpuMicrosPerLogin.loadClient)}; raw verification ${cpu(r.rawCpuMicrosPerVerification)} per ` +
      'verification, on all its threads.',
    '',
    `Ratio gateway / raw: **${(r.ratio * 100).toFixed(1)}%** (median of the per-round ratios; target ≥ 30%, ` +
      `goal 50%). ${r.logins} logins of ${r.users} accounts in ${r.rounds.length} rounds, ${r.concurrency} in flight, each ` +
      'prepared before the timed window (options in its own cookie jar, assertion signed) and sent by a ' +
      'load client in its own process; raw verification runs in the benchmark process on the same ' +
      `assertions (${RAW_PASSES} passes over a round's), alternating with the gateway round by round, both ` +
      `after ${WARMUP_LOGINS} warm-up logins and their verifications. A gateway login also reads and deletes ` +
      'the challenge in Redis, reads and updates the credential in the database, reads the identity from ' +
      'Kratos (the double, its own process), writes a session and appends a hash-chained audit event. The ' +
      "gateway's CPU column counts its own process only.",
  ].join('\n');
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'gw-bench-passkey-'));
  const redis = await startPrivateRedis();
  const kratos = await startKratosProcess();
  const database = await createThrowawayDatabase('passkey');
  if (!database) log('no Postgres server reachable: the gateway uses an in-memory PGlite');
  const stack: Stack = { redis, kratos, databaseUrl: database?.url, tmp };
  let gateway: Running | undefined;
  let client: Awaited<ReturnType<typeof startLoadClient>> | undefined;
  try {
    gateway = await startGateway(stack, {}, process.env.BENCH_CPU_PROFILE_DIR);
    log(`setting up ${USERS} accounts with a passkey each`);
    const users: PasskeyUser[] = [];
    for (let u = 0; u < USERS; u++) {
      const user = await signUp(gateway, kratos, 0);
      // Counter 0 (as synced passkeys report it) lets concurrent logins of one passkey all pass.
      const authenticator = new SoftAuthenticator({ counterStep: 0 });
      await addPasskey(gateway, user.jar, authenticator);
      const [held] = authenticator.credentials.values();
      users.push({
        authenticator,
        credential: { id: held!.id, publicKey: new Uint8Array(SoftAuthenticator.coseKey(held!.publicKey)) },
      });
    }

    const total = WARMUP_LOGINS + ROUNDS * LOGINS_PER_ROUND;
    log(`preparing ${total} signed logins`);
    const prepared = await prepareLogins(gateway, users, total);
    const warmup = prepared.slice(0, WARMUP_LOGINS);
    const batches = splitEvenly(prepared.slice(WARMUP_LOGINS), ROUNDS);

    client = await startLoadClient();
    const pids = { kratosPid: kratos.pid, redisPid: redis.pid };
    await rawRate(warmup);
    await gatewayRate(client, gateway, pids, warmup);
    const rounds: PasskeyRound[] = [];
    const profiledFrom = await gateway.clock();
    for (const [r, batch] of batches.entries()) {
      // Alternate which goes first, so drift of the machine does not favour either.
      let raw: Awaited<ReturnType<typeof rawRate>>;
      let gw: Awaited<ReturnType<typeof gatewayRate>>;
      if (r % 2 === 0) {
        raw = await rawRate(batch);
        gw = await gatewayRate(client, gateway, pids, batch);
      } else {
        gw = await gatewayRate(client, gateway, pids, batch);
        raw = await rawRate(batch);
      }
      rounds.push({
        rawPerSecond: raw.perSecond,
        gatewayPerSecond: gw.perSecond,
        rawCpuMicros: raw.cpuMicros,
        stackCpuMicros: gw.stackCpuMicros,
      });
      const cpu = Object.entries(gw.stackCpuMicros)
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(', ');
      log(
        `round ${r + 1}: raw ${raw.perSecond.toFixed(0)}/s, gateway ${gw.perSecond.toFixed(0)}/s (CPU µs per login: ${cpu})`,
      );
    }
    const profiledTo = await gateway.clock();
    if (process.env.BENCH_CPU_PROFILE_DIR) {
      // The timed rounds on the gateway's profiler clock, to cut its profile to them.
      writeFileSync(
        join(process.env.BENCH_CPU_PROFILE_DIR, 'window.json'),
        JSON.stringify({ from: profiledFrom, to: profiledTo }),
      );
    }
    const figures: Omit<PasskeyResults, 'markdown'> = {
      logins: ROUNDS * LOGINS_PER_ROUND,
      users: USERS,
      rounds,
      concurrency: CONCURRENCY,
      database: database ? 'postgres' : 'pglite',
      rawVerificationsPerSecond: median(rounds.map((x) => x.rawPerSecond)),
      gatewayLoginsPerSecond: median(rounds.map((x) => x.gatewayPerSecond)),
      rawCpuMicrosPerVerification: median(rounds.map((x) => x.rawCpuMicros)),
      stackCpuMicrosPerLogin: perProcess((p) => median(rounds.map((x) => x.stackCpuMicros[p]))),
      ratio: pairedRatio(
        rounds.map((x) => x.gatewayPerSecond),
        rounds.map((x) => x.rawPerSecond),
      ),
    };
    const results: PasskeyResults = { ...figures, markdown: passkeyMarkdown(figures) };
    const dir = process.env.BENCH_RESULTS_DIR ?? join(root, 'bench-results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'passkey.json'), `${JSON.stringify(results, null, 2)}\n`);
    log(
      `raw ${figures.rawVerificationsPerSecond.toFixed(0)}/s, gateway ` +
        `${figures.gatewayLoginsPerSecond.toFixed(0)}/s, ratio ${figures.ratio.toFixed(3)}`,
    );
  } finally {
    client?.stop();
    await gateway?.stop();
    await kratos.stop();
    await redis.stop();
    await database?.drop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

helpIfAsked(import.meta.url);
await main();
