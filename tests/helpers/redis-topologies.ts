/**
 * Redis topologies of the tests' own, on loopback ports, made of Debian's `redis-server`
 * and `redis-cli`: a single server, a Sentinel set (one master, one replica, three
 * sentinels) and a Cluster (three masters with one replica each). Each answers the
 * `REDIS_URL` the gateway takes for it, lets a test kill and restart any of its processes,
 * and waits for the state it needs by polling (never by sleeping a fixed time).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { freePort, waitForPort } from './net.js';

export type TopologyName = 'single' | 'sentinel' | 'cluster';
export const TOPOLOGIES: readonly TopologyName[] = ['single', 'sentinel', 'cluster'];
export const isTopology = (name: string): name is TopologyName =>
  (TOPOLOGIES as readonly string[]).includes(name);

/** One redis-server (or sentinel) process of a topology. */
export interface RedisProcess {
  readonly name: string;
  /** The port clients use (a fault proxy's, when the node has one). */
  readonly port: number;
  readonly running: boolean;
  /** Its process id while it runs (to read its CPU time). */
  readonly pid: number | undefined;
  /** Kills it at once (SIGKILL): no goodbye to its clients or peers. */
  kill(): Promise<void>;
  /** Starts it again with the same port, configuration and folder. */
  start(): Promise<void>;
  /** Sends one command to it (not through the proxy) and answers the reply. */
  command(...args: string[]): Promise<unknown>;
}

export interface RedisTopology {
  readonly name: TopologyName;
  /** What REDIS_URL is set to for the gateway. */
  readonly url: string;
  /** Every data node (not the sentinels). */
  readonly nodes: readonly RedisProcess[];
  /** The node that holds `key` (its slot's master in a cluster, the master otherwise). */
  masterOf(key: string): Promise<RedisProcess>;
  /** Resolves once the topology serves reads and writes again with every live node in place. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SentinelTopology extends RedisTopology {
  readonly name: 'sentinel';
  readonly sentinels: readonly RedisProcess[];
  /** The master the sentinels name now. */
  master(): Promise<RedisProcess>;
}

export interface ClusterTopology extends RedisTopology {
  readonly name: 'cluster';
  /** Each node's fault proxy, when the cluster was started with `proxied`. */
  proxyOf(node: RedisProcess): FaultProxy | undefined;
}

/** Polls `probe` every 25 ms until it answers true, failing with `what` after `timeoutMs`. */
export async function until(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<number> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      if (await probe()) return Date.now() - started;
    } catch (err) {
      last = err;
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${String(last)})` : ''}`);
    await sleep(25);
  }
}

/** One command on a short-lived connection, not kept: for polling and inspection. */
export async function commandOn(port: number, args: string[]): Promise<unknown> {
  const client = createClient({
    socket: { host: '127.0.0.1', port, connectTimeout: 1000, reconnectStrategy: false },
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/** `field:value` lines of an INFO-style answer. */
export function infoFields(text: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of String(text).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) out[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return out;
}

/** Every process started here, killed if the test process exits or is stopped without stopping them. */
const live = new Set<ChildProcess>();
const killLive = () => {
  for (const child of live) child.kill('SIGKILL');
};
process.once('exit', killLive);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    killLive();
    // What the signal would have done without this listener.
    process.kill(process.pid, signal);
  });

function redisProcess(
  name: string,
  port: number,
  argv: () => string[] | Promise<string[]>,
  cwd: string,
): RedisProcess {
  let proc: ChildProcess | undefined;
  const self: RedisProcess = {
    name,
    port,
    get running() {
      return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
    },
    get pid() {
      return self.running ? proc?.pid : undefined;
    },
    async start() {
      if (self.running) return;
      const child = spawn('redis-server', await argv(), { cwd, stdio: 'ignore' });
      proc = child;
      live.add(child);
      child.once('exit', () => live.delete(child));
      const failed = new Promise<never>((_, reject) => {
        child.once('error', (err) => reject(new Error(`cannot start redis-server: ${err.message}`)));
        child.once('exit', (code) => reject(new Error(`${name} exited at start (code ${code})`)));
      });
      await Promise.race([waitForPort(port, 20_000), failed]);
    },
    async kill() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = once(p, 'exit');
      p.kill('SIGKILL');
      await exited;
    },
    command: (...args) => commandOn(port, args),
  };
  return self;
}

/**
 * Arguments every data node shares: loopback only, no persistence, a quiet log in its folder.
 * A replica that has not yet synchronised with its master refuses reads (MASTERDOWN) rather
 * than answering from an empty or stale data set, as docs/scaling.md asks of production.
 */
const nodeArgs = (port: number, dir: string) => [
  ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--logfile', join(dir, 'redis.log')],
  ...['--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
  ...['--replica-serve-stale-data', 'no'],
  // A replica's first sync starts at once (the default waits 5 s for more replicas to join it).
  ...['--repl-diskless-sync-delay', '0'],
];

/** A single redis-server. */
export async function startSingle(): Promise<RedisTopology> {
  const root = mkdtempSync(join(tmpdir(), 'gw-redis-single-'));
  const port = await freePort();
  const node = redisProcess('redis', port, () => nodeArgs(port, root), root);
  await node.start();
  return {
    name: 'single',
    url: `redis://127.0.0.1:${port}`,
    nodes: [node],
    masterOf: async () => node,
    waitUntilHealthy: async (timeoutMs) => {
      await until('redis answers', async () => (await node.command('PING')) === 'PONG', timeoutMs);
    },
    async stop() {
      await node.kill();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export const SENTINEL_MASTER_NAME = 'mymaster';

/**
 * One master, one replica and three sentinels (quorum 2), which notice a dead master after
 * `downAfterMs` and promote the replica.
 */
export async function startSentinel(options: { downAfterMs?: number } = {}): Promise<SentinelTopology> {
  const downAfter = options.downAfterMs ?? 1000;
  const root = mkdtempSync(join(tmpdir(), 'gw-redis-sentinel-'));
  const [masterPort, replicaPort] = [await freePort(), await freePort()];
  const dataNode = (name: string, port: number, replicaOf?: number) => {
    const dir = join(root, name);
    mkdirSync(dir);
    // A replica's configuration file lets the sentinels rewrite whom it follows, as in production.
    const conf = join(dir, 'redis.conf');
    writeFileSync(conf, replicaOf ? `replicaof 127.0.0.1 ${replicaOf}\n` : '');
    // Like a production supervisor (docs/scaling.md), a node restarted once the sentinels run
    // asks them for the master and comes back as its replica: without persistence it would
    // otherwise come back as an empty master and answer reads until the sentinels demote it.
    const follow = async () => {
      const master = await askSentinels().catch(() => undefined);
      return master && master.port !== port ? ['--replicaof', '127.0.0.1', String(master.port)] : [];
    };
    return redisProcess(name, port, async () => [conf, ...nodeArgs(port, dir), ...(await follow())], dir);
  };
  const nodes = [dataNode('redis-a', masterPort), dataNode('redis-b', replicaPort, masterPort)];
  const sentinels: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const dir = join(root, `sentinel-${i}`);
    mkdirSync(dir);
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `logfile ${join(dir, 'sentinel.log')}`,
        `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${downAfter}`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${Math.max(3000, downAfter * 3)}`,
        `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    sentinels.push(redisProcess(`sentinel-${i}`, port, () => [conf, '--sentinel'], dir));
  }
  const byPort = new Map(nodes.map((n) => [n.port, n]));
  const askSentinels = async (): Promise<RedisProcess> => {
    for (const s of sentinels) {
      if (!s.running) continue;
      try {
        const [, port] = (await s.command(
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          SENTINEL_MASTER_NAME,
        )) as string[];
        const node = byPort.get(Number(port));
        if (node) return node;
      } catch {
        // the next sentinel
      }
    }
    throw new Error('no sentinel names a master');
  };
  const topology: SentinelTopology = {
    name: 'sentinel',
    url: `redis-sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${SENTINEL_MASTER_NAME}`,
    nodes,
    sentinels,
    master: askSentinels,
    masterOf: askSentinels,
    async waitUntilHealthy(timeoutMs = 30_000) {
      await until(
        'sentinel set healthy',
        async () => {
          const master = await askSentinels();
          if (!master.running) return false;
          const role = infoFields(await master.command('INFO', 'replication'));
          if (role.role !== 'master') return false;
          const live = nodes.filter((n) => n.running && n !== master);
          if (Number(role.connected_slaves) < live.length) return false;
          for (const replica of live) {
            const info = infoFields(await replica.command('INFO', 'replication'));
            if (info.role !== 'slave' || info.master_link_status !== 'up') return false;
            if (Number(info.master_port) !== master.port) return false;
          }
          // Every live sentinel agrees, knows the others (a failover needs a majority) and the replicas.
          for (const s of sentinels.filter((x) => x.running)) {
            const fields = pairs(await s.command('SENTINEL', 'MASTER', SENTINEL_MASTER_NAME));
            if (Number(fields.port) !== master.port || !/^master$/.test(fields.flags ?? '')) return false;
            if (Number(fields['num-other-sentinels']) < sentinels.filter((x) => x.running).length - 1)
              return false;
            const replicas = (await s.command('SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME)) as string[][];
            const up = replicas.map(pairs).filter((r) => !/s_down|o_down|disconnected/.test(r.flags ?? ''));
            if (up.length < live.length) return false;
          }
          return true;
        },
        timeoutMs,
      );
    },
    async stop() {
      for (const p of [...sentinels, ...nodes]) await p.kill();
      rmSync(root, { recursive: true, force: true });
    },
  };
  await Promise.all(nodes.map((n) => n.start()));
  await Promise.all(sentinels.map((s) => s.start()));
  await topology.waitUntilHealthy();
  return topology;
}

/** A map answer (RESP3) or a flat [field, value, field, value, …] one (RESP2) as an object. */
function pairs(flat: unknown): Record<string, string> {
  if (!Array.isArray(flat)) return flat as Record<string, string>;
  const list = flat as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

/**
 * Three masters with one replica each, made by `redis-cli --cluster create`. A node that
 * stops answering for `nodeTimeoutMs` is failed over to its replica. With `proxied`, every
 * node is announced to clients at a fault proxy's port (the cluster bus stays direct), so a
 * test can make one node go away for the gateway alone, even in the middle of a command.
 */
export async function startCluster(
  options: { nodeTimeoutMs?: number; proxied?: boolean } = {},
): Promise<ClusterTopology> {
  const nodeTimeout = options.nodeTimeoutMs ?? 1000;
  const root = mkdtempSync(join(tmpdir(), 'gw-redis-cluster-'));
  const nodes: RedisProcess[] = [];
  const proxies = new Map<RedisProcess, FaultProxy>();
  const directPort = new Map<RedisProcess, number>();
  for (let i = 0; i < 6; i++) {
    const port = await freePort();
    const busPort = await freePort();
    const dir = join(root, `node-${i}`);
    mkdirSync(dir);
    const proxy = options.proxied ? await startFaultProxy(port) : undefined;
    const announced = proxy?.port ?? port;
    const node = redisProcess(
      `node-${i}`,
      port,
      () => [
        ...nodeArgs(port, dir),
        ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')],
        ...['--cluster-port', String(busPort), '--cluster-node-timeout', String(nodeTimeout)],
        // A replica takes over however long it was cut off: the tests want a failover, not a stuck shard.
        ...['--cluster-replica-validity-factor', '0'],
        ...(proxy
          ? ['--cluster-announce-port', String(announced), '--cluster-announce-bus-port', String(busPort)]
          : []),
      ],
      dir,
    );
    directPort.set(node, port);
    if (proxy) proxies.set(node, proxy);
    nodes.push(node);
  }
  await Promise.all(nodes.map((n) => n.start()));
  const announcedPort = (n: RedisProcess) => proxies.get(n)?.port ?? n.port;
  await redisCli([
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    '1',
    '--cluster-yes',
  ]);
  const byAnnounced = new Map(nodes.map((n) => [announcedPort(n), n]));
  /** The live node's view of the slots: [start, end, master port] per range. */
  const slotRanges = async (): Promise<{ start: number; end: number; master: RedisProcess }[]> => {
    for (const node of nodes.filter((n) => n.running)) {
      try {
        const shards = (await node.command('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
        return shards.map(([start, end, [, port]]) => ({
          start,
          end,
          master: byAnnounced.get(Number(port))!,
        }));
      } catch {
        // ask the next node
      }
    }
    throw new Error('no cluster node answers');
  };
  const topology: ClusterTopology = {
    name: 'cluster',
    url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${announcedPort(n)}`).join(',')}`,
    nodes,
    proxyOf: (node) => proxies.get(node),
    async masterOf(key: string) {
      const slot = Number(await nodes.find((n) => n.running)!.command('CLUSTER', 'KEYSLOT', key));
      const range = (await slotRanges()).find((r) => r.start <= slot && slot <= r.end);
      if (!range) throw new Error(`slot ${slot} has no master`);
      return range.master;
    },
    async waitUntilHealthy(timeoutMs = 30_000) {
      await until(
        'cluster healthy',
        async () => {
          const live = nodes.filter((n) => n.running);
          for (const node of live) {
            if (infoFields(await node.command('CLUSTER', 'INFO')).cluster_state !== 'ok') return false;
            // Every live node sees every other live node connected, and no live master without its replica.
            const table = String(await node.command('CLUSTER', 'NODES'))
              .trim()
              .split('\n');
            for (const line of table) {
              const [, address = '', flags = '', , , , , link = ''] = line.split(' ');
              const other = byAnnounced.get(Number(address.split(':')[1]?.split('@')[0]));
              if (!other?.running) continue;
              if (/fail|handshake|noaddr/.test(flags) || link !== 'connected') return false;
            }
          }
          for (const node of live) {
            const info = infoFields(await node.command('INFO', 'replication'));
            if (info.role === 'slave' && info.master_link_status !== 'up') return false;
          }
          const masters = new Set((await slotRanges()).map((r) => r.master));
          return [...masters].every((m) => m.running);
        },
        timeoutMs,
      );
    },
    async stop() {
      for (const node of nodes) await node.kill();
      for (const proxy of proxies.values()) await proxy.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  await topology.waitUntilHealthy();
  return topology;
}

/** Runs redis-cli with `args`, failing with its output when it fails. */
async function redisCli(args: string[]): Promise<string> {
  const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const [code] = (await Promise.race([
    once(child, 'exit'),
    once(child, 'error').then(([err]) => {
      throw new Error(`cannot run redis-cli: ${(err as Error).message}`);
    }),
  ])) as [number | null];
  if (code !== 0) throw new Error(`redis-cli ${args.join(' ')} failed:\n${output}`);
  return output;
}

/** Starts the named topology. */
export function startTopology(name: TopologyName): Promise<RedisTopology> {
  if (name === 'sentinel') return startSentinel();
  if (name === 'cluster') return startCluster();
  return startSingle();
}

/**
 * A TCP proxy in front of one node, for faults as the gateway sees them. `cut` drops every
 * connection and refuses new ones (the node went away); `failOn` waits for a command whose
 * bytes match and then cuts, either before it reaches the node or after the node ran it
 * (its answer lost): a node gone in the middle of a command.
 */
export interface FaultProxy {
  readonly port: number;
  cut(): void;
  restore(): void;
  /** Resolves with the matching bytes once the cut happened. */
  failOn(match: RegExp, when: 'before' | 'after'): Promise<string>;
  /** Forgets a `failOn` that has not fired. */
  disarm(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  let armed: { match: RegExp; when: 'before' | 'after'; fired: (text: string) => void } | undefined;
  const cutAll = () => {
    refusing = true;
    for (const s of open) s.destroy();
    open.clear();
  };
  const server: Server = createServer((client) => {
    if (refusing) return client.destroy();
    const upstream = connect(targetPort, '127.0.0.1');
    let muted = false;
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => {
      const trap = armed;
      const text = chunk.toString('latin1');
      if (trap && trap.match.test(text)) {
        armed = undefined;
        if (trap.when === 'before') {
          cutAll();
          trap.fired(text);
          return;
        }
        // The node runs the command (well within 100 ms on loopback); its answer never comes back.
        muted = true;
        upstream.write(chunk);
        setTimeout(() => {
          cutAll();
          trap.fired(text);
        }, 100);
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => muted || client.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    cut: cutAll,
    restore() {
      refusing = false;
      armed = undefined;
    },
    failOn: (match, when) => new Promise<string>((fired) => (armed = { match, when, fired })),
    disarm() {
      armed = undefined;
    },
    async close() {
      cutAll();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
