import { createHash } from 'node:crypto';
import {
  createClient,
  createCluster,
  createSentinel,
  type RedisClientType,
  type RedisClusterType,
  type RedisSentinelType,
} from 'redis';
import { AppError } from '../errors/app-error.js';

/** How the Redis behind a Kv is laid out, from the scheme of `REDIS_URL`. */
type RedisTopology = 'single' | 'sentinel' | 'cluster';

/** The writes of a Kv. */
interface KvWrites {
  /**
   * Writes a value with a TTL. With `only: 'existing'` (SET XX) it writes only over a value
   * that is still there, and answers whether it did: an update never brings back a deleted
   * entry (a session ended or moved by a concurrent request).
   */
  set(key: string, value: string, ttlSeconds: number, only?: 'existing'): Promise<boolean>;
  /** Deletes the keys; in a cluster they may lie in different slots (one DEL per key). */
  del(...keys: string[]): Promise<void>;
  hSet(key: string, field: string, value: string, ttlSeconds: number): Promise<void>;
  hDel(key: string, field: string): Promise<void>;
}

/**
 * The gateway's only door to Redis. Everything it keeps there (sessions, the identity →
 * sessions index, WebAuthn challenges, the whoami cache, rate-limit counters) goes
 * through the small `Kv` interface below, so that `npm run dev` can run without a Redis
 * server and tests exercise the real one.
 *
 * No command spans two keys except where they share a hash tag (`{…}`), so every one of
 * them runs unchanged on Redis Cluster.
 */
export interface Kv extends KvWrites {
  readonly kind: 'redis' | 'memory';
  /** Single server, Sentinel or Cluster; undefined in memory mode. */
  readonly topology?: RedisTopology;
  get(key: string): Promise<string | null>;
  /**
   * A read that may be answered from a client-side cache invalidated by the server (a
   * write elsewhere reaches this process within the push's delay; a write made through
   * this Kv drops the copy at once). Never for single-use values such as challenges.
   */
  getCached(key: string): Promise<string | null>;
  /** Reads and deletes in one atomic step: the basis of single-use challenges. */
  getDel(key: string): Promise<string | null>;
  hGetAll(key: string): Promise<Record<string, string>>;
  /**
   * The same writes, each answered only once a replica holds it too (`WAIT 1 <ms>`), where
   * the topology has replicas (Sentinel, Cluster): what the failover of the master cannot
   * take back. A write no replica acknowledged in time is a 503. On a single server and in
   * memory these are the plain writes.
   */
  readonly durable: KvWrites;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Hits and misses of the client-side cache behind `getCached`, when there is one. */
  cacheStats?(): { hits: number; misses: number };
  /**
   * The node-redis client (a cluster or sentinel client typed by their common commands):
   * rate-limit-redis sends its scripts through it (`sendRouted`), tests look at what is
   * stored. Absent in memory mode.
   */
  readonly client?: RedisClientType;
}

/**
 * The one answer for "Redis could not be reached or failed": a 503, never a sign-out. Redis
 * comes back (or fails over) within seconds, so the client is told to try again soon.
 */
const sessionStoreUnavailable = (cause: unknown) =>
  new AppError('session_store_unavailable', 503, 'The session store is unavailable.', {
    cause,
    headers: { 'Retry-After': '1' },
  });

/** How long a Redis command may go unanswered before it counts as Redis unavailable. */
const COMMAND_TIMEOUT_MS = 5000;

/**
 * `promise`, or a rejection once `ms` passed without an answer. node-redis' own per-command
 * timeout is off (it builds an AbortSignal, a timer and, when the timer fires seconds after
 * the answer, a DOMException for every command: most of a command's CPU cost); one plain
 * timer, cleared with the answer, does the same job.
 */
function withDeadline<T>(promise: Promise<T>, ms = COMMAND_TIMEOUT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Runs a Redis command within its deadline, turning every failure into a 503 AppError. */
async function guard<T>(run: () => Promise<T>, deadlineMs: number): Promise<T> {
  try {
    return await withDeadline(run(), deadlineMs);
  } catch (err) {
    throw sessionStoreUnavailable(err);
  }
}

interface RedisEndpoint {
  topology: RedisTopology;
  hosts: { host: string; port: number }[];
  username?: string;
  password?: string;
  /** The master's name at Sentinel. */
  masterName: string;
  /** `?replica_ack_ms=` of a Sentinel or Cluster URL: how long a durable write waits for a replica. */
  replicaAckMs?: number;
}

/**
 * Reads a `REDIS_URL`: `redis://` and `rediss://` name one server (user, password and
 * database as node-redis reads them); `redis-sentinel://[:password@]host:port,…/<master>`
 * names the sentinels and the master they watch; `redis-cluster://[:password@]host:port,…`
 * names some nodes of a cluster. The password is the data nodes' (never the sentinels').
 * Sentinel and Cluster URLs may end in `?replica_ack_ms=<ms>` (see `Kv.durable`; 0: no wait).
 */
export function parseRedisUrl(url: string): RedisEndpoint {
  const m =
    /^(redis|rediss|redis-sentinel|redis-cluster):\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/([^?#]*))?(?:\?([^#]*))?/.exec(
      url,
    );
  if (!m) throw new Error('REDIS_URL must be redis://, rediss://, redis-sentinel:// or redis-cluster://');
  const [, scheme, auth = '', hostList = '', path = '', query = ''] = m;
  const colon = auth.indexOf(':');
  const username = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon));
  const password = colon < 0 ? '' : decodeURIComponent(auth.slice(colon + 1));
  const hosts = hostList.split(',').map((h) => {
    const at = h.lastIndexOf(':');
    const port = at < 0 ? 6379 : Number(h.slice(at + 1));
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new Error(`REDIS_URL has a bad port in '${h}'`);
    return { host: (at < 0 ? h : h.slice(0, at)) || '127.0.0.1', port };
  });
  const topology =
    scheme === 'redis-sentinel' ? 'sentinel' : scheme === 'redis-cluster' ? 'cluster' : 'single';
  const ack = topology === 'single' ? null : new URLSearchParams(query).get('replica_ack_ms');
  if (ack !== null && !/^\d{1,6}$/.test(ack))
    throw new Error('REDIS_URL: replica_ack_ms must be a number of milliseconds');
  return {
    topology,
    hosts,
    username: username || undefined,
    password: password || undefined,
    masterName: decodeURIComponent(path) || 'mymaster',
    ...(ack !== null && { replicaAckMs: Number(ack) }),
  };
}

/** What every connection shares. */
function connectionOptions(tlsCa?: Buffer) {
  // Without an offline queue, commands fail at once while Redis is down (a 503), instead
  // of hanging until it returns; the client keeps reconnecting in the background. With a CA
  // (`rediss://` only), the server's certificate must chain to it and name the URL's host.
  return {
    disableOfflineQueue: true,
    // Deadlines are the callers' (withDeadline), not one AbortSignal per command.
    commandOptions: { timeout: 0 },
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000),
      ...(tlsCa && { tls: true as const, ca: tlsCa }),
    },
  };
}

/**
 * Builds the node-redis client for a URL: one server, the master Sentinel names (followed
 * through failovers), or a cluster (its slot map refreshed on MOVED and when a node stops
 * answering).
 */
function buildClient(url: string, endpoint: RedisEndpoint, tlsCa?: Buffer): RedisClientType {
  const common = connectionOptions(tlsCa);
  const auth = { username: endpoint.username, password: endpoint.password };
  if (endpoint.topology === 'sentinel') {
    return createSentinel({
      commandOptions: common.commandOptions,
      name: endpoint.masterName,
      sentinelRootNodes: endpoint.hosts,
      nodeClientOptions: { ...auth, ...common },
      sentinelClientOptions: common,
    }) as unknown as RedisClientType;
  }
  if (endpoint.topology === 'cluster') {
    return createCluster({
      commandOptions: common.commandOptions,
      rootNodes: endpoint.hosts.map((h) => ({ socket: { host: h.host, port: h.port } })),
      defaults: { ...auth, ...common },
    }) as unknown as RedisClientType;
  }
  if (tlsCa && !url.startsWith('rediss:')) throw new Error('a TLS CA needs a rediss:// URL');
  return createClient({ url, ...common });
}

/**
 * The tracking connection behind the client-side cache: RESP3 with CLIENT TRACKING ON
 * (sent again on every reconnect), so Redis pushes the name of every key this connection
 * read once any client changes it, as an `invalidate` event.
 */
function trackingClient(
  target: { url: string } | { host: string; port: number; username?: string; password?: string },
  tlsCa?: Buffer,
): RedisClientType {
  const common = connectionOptions(tlsCa);
  const where =
    'url' in target
      ? { url: target.url }
      : {
          username: target.username,
          password: target.password,
          socket: { ...common.socket, host: target.host, port: target.port },
        };
  return createClient({ ...common, ...where, RESP: 3, emitInvalidate: true });
}

/** Values read on the tracking connection, kept in process memory until Redis invalidates them. */
const CACHE_MAX_ENTRIES = 100_000;

/**
 * The client-side cache: a Map of key → value filled by reads on the tracking connection,
 * emptied of a key as soon as Redis pushes its invalidation (or this process writes it), and
 * emptied altogether whenever that connection errs or reconnects (pushes may have been
 * missed) or is replaced by one to another server (a failover). A read that was in flight
 * when its key was invalidated is answered but not kept.
 */
function trackedCache(fallback: (key: string) => Promise<string | null>) {
  const values = new Map<string, string>();
  const inflight = new Map<string, { valid: boolean }>();
  const stats = { hits: 0, misses: 0 };
  let reader: RedisClientType | undefined;
  const drop = (key: string) => {
    values.delete(key);
    const pending = inflight.get(key);
    if (pending) pending.valid = false;
  };
  const dropAll = () => {
    values.clear();
    for (const pending of inflight.values()) pending.valid = false;
  };
  return {
    stats: () => ({ ...stats }),
    drop,
    /** Reads through `next` from now on; nothing read through another connection is kept. */
    attach(next: RedisClientType | undefined) {
      if (next) {
        // Redis pushes the key's name as bytes, or null when it flushed everything.
        next.on('invalidate', (key: Buffer | string | null) =>
          next === reader ? (key === null ? dropAll() : drop(key.toString())) : 0,
        );
        for (const event of ['error', 'end', 'reconnecting', 'ready']) next.on(event, dropAll);
      }
      reader = next;
      dropAll();
    },
    /** The value of `key`; without a tracking connection, read through `fallback` and not kept. */
    async get(key: string): Promise<string | null> {
      const hit = values.get(key);
      if (hit !== undefined) {
        stats.hits++;
        return hit;
      }
      stats.misses++;
      const source = reader;
      if (!source) return fallback(key);
      const pending = { valid: true };
      inflight.set(key, pending);
      try {
        const value = await source.get(key);
        if (value !== null && pending.valid && source === reader) {
          if (values.size >= CACHE_MAX_ENTRIES) {
            const oldest = values.keys().next();
            if (!oldest.done) values.delete(oldest.value);
          }
          values.set(key, value);
        }
        return value;
      } finally {
        if (inflight.get(key) === pending) inflight.delete(key);
      }
    },
  };
}

type TrackedCache = ReturnType<typeof trackedCache>;

/** What `getCached` reads through: full keys (prefix included). */
interface ClientCache {
  get(key: string): Promise<string | null>;
  /** Forgets a key this process just wrote. */
  drop(key: string): void;
  stats(): { hits: number; misses: number };
}

/**
 * Keeps the cache's tracking connection on the master Sentinel names: a new connection to
 * the new master at every failover (the cache emptied), and a check, whenever the
 * connection comes back, that the server it reached is still the master.
 */
async function followSentinelMaster(
  sentinel: RedisSentinelType,
  endpoint: RedisEndpoint,
  cache: TrackedCache,
  onError: (err: Error) => void,
  tlsCa?: Buffer,
): Promise<() => void> {
  let current: RedisClientType | undefined;
  let generation = 0;
  let closed = false;
  const follow = async (node: { host: string; port: number } | undefined) => {
    const mine = ++generation;
    const previous = current;
    current = undefined;
    cache.attach(undefined);
    previous?.destroy();
    if (!node || closed) return;
    const next = trackingClient({ ...node, username: endpoint.username, password: endpoint.password }, tlsCa);
    next.on('error', onError);
    next.on('ready', () => {
      const master = sentinel.getMasterNode();
      if (next === current && master && (master.host !== node.host || master.port !== node.port))
        void follow(master).catch(onError);
    });
    try {
      await next.connect();
    } catch (err) {
      next.destroy();
      throw err;
    }
    if (mine !== generation || closed) return void next.destroy();
    current = next;
    cache.attach(next);
  };
  sentinel.on('topology-change', (event: { type: string; node?: { host: string; port: number } }) => {
    if (event.type === 'MASTER_CHANGE') void follow(event.node).catch(onError);
  });
  await follow(sentinel.getMasterNode());
  return () => {
    closed = true;
    generation++;
    current?.destroy();
    current = undefined;
  };
}

/** CRC16/XMODEM, the checksum Redis Cluster maps keys to slots with. */
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/**
 * The cluster slot of a key, as Redis computes it: CRC16 of its hash tag (the text between
 * the first `{` and the next `}`, when not empty) or of the whole key, modulo 16384.
 */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc % 16384;
}

/**
 * The client-side cache on a cluster, one per master: tracking is per node (a node pushes
 * invalidations only for the keys read on a connection to it), so each master gets its own
 * tracking connection and its own copy of the cache above. A key is looked up in the cache
 * of the master that holds its slot now; after a failover the slot's new master starts
 * empty, and the old master's cache is never asked again (its connection is closed once
 * it errs). A tracking connection not ready yet, or a node that answers MOVED, is read
 * through the cluster client, and nothing read that way is kept.
 */
function clusterCache(
  cluster: RedisClusterType,
  endpoint: RedisEndpoint,
  onError: (err: Error) => void,
  tlsCa?: Buffer,
): ClientCache & { open(): Promise<void>; close(): void } {
  const direct = (key: string) => cluster.get(key);
  const nodes = new Map<string, { cache: TrackedCache; reader: RedisClientType; ready: Promise<void> }>();
  const retired = { hits: 0, misses: 0 };
  const retire = (address: string) => {
    const node = nodes.get(address);
    if (!node) return;
    nodes.delete(address);
    const s = node.cache.stats();
    retired.hits += s.hits;
    retired.misses += s.misses;
    node.cache.attach(undefined);
    node.reader.destroy();
  };
  const nodeOf = (master: { address: string; host: string; port: number }) => {
    const { address } = master;
    let node = nodes.get(address);
    if (!node) {
      const cache = trackedCache(direct);
      const reader = trackingClient(
        { host: master.host, port: master.port, username: endpoint.username, password: endpoint.password },
        tlsCa,
      );
      reader.on('error', (err: Error) => {
        onError(err);
        if (!cluster.masters.some((m) => m.address === address)) retire(address);
      });
      const ready = reader.connect().then(
        () => (nodes.get(address)?.reader === reader ? cache.attach(reader) : undefined),
        () => retire(address),
      );
      node = { cache, reader, ready };
      nodes.set(address, node);
    }
    return node;
  };
  const nodeFor = (key: string) => {
    const master = cluster.slots[keySlot(key)]?.master;
    return master && nodeOf(master);
  };
  return {
    async get(key: string): Promise<string | null> {
      const node = nodeFor(key);
      if (!node) return direct(key);
      try {
        return await node.cache.get(key);
      } catch (err) {
        if (err instanceof Error && /^(MOVED|ASK) /.test(err.message)) return direct(key);
        throw err;
      }
    },
    drop(key: string) {
      for (const node of nodes.values()) node.cache.drop(key);
    },
    stats() {
      const total = { ...retired };
      for (const node of nodes.values()) {
        const s = node.cache.stats();
        total.hits += s.hits;
        total.misses += s.misses;
      }
      return total;
    },
    /** Opens the tracking connections to every master known now (later ones open on their first read). */
    async open() {
      await Promise.all(cluster.masters.map((master) => nodeOf(master).ready));
    },
    close() {
      for (const address of [...nodes.keys()]) retire(address);
    },
  };
}

/** How long a durable write waits for a replica's acknowledgement, unless told otherwise. */
const DEFAULT_REPLICA_ACK_MS = 1000;

/**
 * Connects to Redis; `onError` receives connection errors (they are retried, never thrown).
 *
 * With `clientCache` (default true), a second connection serves `getCached` with
 * client-side caching (RESP3 tracking): reads of sessions and the short-lived caches
 * (whoami, identities) are answered from process memory, and Redis pushes an invalidation
 * as soon as any client changes one, so a revocation or a role change made on one replica
 * reaches the others without waiting for a TTL (the push's delay, measured by the
 * two-replica tests); challenges never are. The cache is dropped whenever that connection
 * is lost. On Sentinel it follows the master through failovers; on Cluster there is none
 * (tracking is per node, and a read costs one round trip: see docs/scaling.md).
 *
 * With Sentinel or Cluster, `durable` writes go through a connection of their own (a WAIT
 * never holds up the reads) and wait up to `replicaAckMs` for one replica.
 */
export async function connectRedis(
  url: string,
  prefix: string,
  onError: (err: Error) => void,
  options: {
    clientCache?: boolean;
    /** PEM CA bundle that signs the server's certificate (REDIS_TLS_CA_FILE), for `rediss://`. */
    tlsCa?: Buffer;
    /** How long a durable write waits for a replica (Sentinel, Cluster); 0 does not wait. */
    replicaAckMs?: number;
    /** How long a command may go unanswered (a 503 then); COMMAND_TIMEOUT_MS by default. */
    commandTimeoutMs?: number;
  } = {},
): Promise<Kv> {
  const endpoint = parseRedisUrl(url);
  const { topology } = endpoint;
  if (topology === 'cluster' && /[{}]/.test(prefix))
    throw new Error('REDIS_KEY_PREFIX cannot hold { or } on a cluster: the keys carry their own hash tags');
  const opened: { destroy(): void }[] = [];
  const open = async (client: RedisClientType) => {
    client.on('error', onError);
    opened.push(client);
    await client.connect();
    return client;
  };
  const closeAll = () => {
    for (const c of opened.splice(0)) c.destroy();
  };
  try {
    const client = await open(buildClient(url, endpoint, options.tlsCa));
    let cache: ClientCache | undefined;
    if ((options.clientCache ?? true) && topology === 'cluster') {
      const perNode = clusterCache(client as unknown as RedisClusterType, endpoint, onError, options.tlsCa);
      opened.push({ destroy: () => perNode.close() });
      await perNode.open();
      cache = perNode;
    } else if (options.clientCache ?? true) {
      const tracked = trackedCache((full) => client.get(full));
      if (topology === 'single') tracked.attach(await open(trackingClient({ url }, options.tlsCa)));
      else {
        const stop = await followSentinelMaster(
          client as unknown as RedisSentinelType,
          endpoint,
          tracked,
          onError,
          options.tlsCa,
        );
        opened.push({ destroy: stop });
      }
      cache = tracked;
    }
    const ackMs =
      topology === 'single' ? 0 : (options.replicaAckMs ?? endpoint.replicaAckMs ?? DEFAULT_REPLICA_ACK_MS);
    const writer = ackMs > 0 ? await open(buildClient(url, endpoint, options.tlsCa)) : client;
    const deadlineMs = options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    return redisKv(client, writer, { topology, prefix, cache, ackMs, deadlineMs, close: closeAll });
  } catch (err) {
    closeAll();
    throw err;
  }
}

/** Full keys grouped by cluster slot. */
function bySlot(keys: string[]): string[][] {
  const groups = new Map<number, string[]>();
  for (const key of keys) {
    const slot = keySlot(key);
    const group = groups.get(slot);
    if (group) group.push(key);
    else groups.set(slot, [key]);
  }
  return [...groups.values()];
}

/**
 * Sends WAIT on a cluster to the connection of the master that holds `key`'s slot, the one
 * that just took the write. Not through the cluster client's command routing: WAIT's policy
 * sends it to every node it lists as a master, and after a failover that list can still hold
 * the old master, now a replica that refuses WAIT; nothing then makes the client refresh it.
 */
async function waitOnSlotMaster(writer: RedisClientType, key: string, wait: string[]): Promise<unknown> {
  const cluster = writer as unknown as RedisClusterType;
  const master = cluster.slots[keySlot(key)]?.master;
  if (!master) throw new Error(`no master holds the slot of ${key}`);
  return (await cluster.nodeClient(master)).sendCommand(wait);
}

/** The topology and command deadline of every client `connectRedis` made, for `sendRouted`. */
const routeOf = new WeakMap<object, { topology: RedisTopology; deadlineMs: number }>();

/**
 * Sends one raw command through a client `connectRedis` made: to the node that holds `key`
 * on a cluster, to the master on Sentinel (their clients take other arguments than a
 * single server's). What rate-limit-redis' scripts go through.
 */
export function sendRouted(client: RedisClientType, args: string[], key?: string): Promise<unknown> {
  const route = routeOf.get(client);
  const sent =
    route?.topology === 'cluster'
      ? (client as unknown as RedisClusterType).sendCommand(key, false, args)
      : route?.topology === 'sentinel'
        ? (client as unknown as RedisSentinelType).sendCommand(false, args)
        : client.sendCommand(args);
  return withDeadline(sent, route?.deadlineMs);
}

/** HSET with the hash's lifetime, atomically. */
export const HSET_EXPIRE =
  "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]); return redis.call('EXPIRE', KEYS[1], ARGV[3])";
const HSET_EXPIRE_SHA = createHash('sha1').update(HSET_EXPIRE).digest('hex');

/**
 * HSET_EXPIRE by its digest (EVALSHA), as Redis keeps it: the script's text is sent only to a
 * server that does not hold it yet (NOSCRIPT: a restart, a failover, a new cluster node).
 */
async function hSetExpire(c: RedisClientType, key: string, args: string[]) {
  const options = { keys: [key], arguments: args };
  try {
    await c.evalSha(HSET_EXPIRE_SHA, options);
  } catch (err) {
    if (!String((err as Error | undefined)?.message).startsWith('NOSCRIPT')) throw err;
    await c.eval(HSET_EXPIRE, options);
  }
}

/** The Kv over connected clients: `client` for everything, `writer` for durable writes. */
function redisKv(
  client: RedisClientType,
  writer: RedisClientType,
  o: {
    topology: RedisTopology;
    prefix: string;
    cache?: ClientCache;
    ackMs: number;
    deadlineMs: number;
    close: () => void;
  },
): Kv {
  const { topology, prefix, cache, ackMs } = o;
  const guarded = <T>(run: () => Promise<T>) => guard(run, o.deadlineMs);
  const k = (key: string) => prefix + key;
  const route = { topology, deadlineMs: o.deadlineMs };
  routeOf.set(client, route).set(writer, route);
  // A write or delete made here is seen by this process's very next read: its cached copy is
  // dropped as soon as the write is acknowledged, without waiting for Redis' pushed invalidation
  // (which still reaches every other replica).
  const written = async <T>(keys: string[], run: () => Promise<T>): Promise<T> => {
    try {
      return await guarded(run);
    } finally {
      if (cache) for (const key of keys) cache.drop(k(key));
    }
  };
  /** Resolves once one replica holds every write made so far on `writer` to `key`'s master. */
  const replicated = async (key: string) => {
    const wait = ['WAIT', '1', String(ackMs)];
    const acked = Number(
      topology === 'cluster'
        ? await waitOnSlotMaster(writer, k(key), wait)
        : await sendRouted(writer, wait, k(key)),
    );
    if (acked < 1) throw new Error(`no replica acknowledged the write within ${ackMs} ms`);
  };
  const writes = (c: RedisClientType, durable: boolean): KvWrites => {
    const after = durable && ackMs > 0 ? replicated : () => Promise.resolve();
    return {
      set: (key, value, ttl, only) =>
        written([key], async () => {
          const done = (await c.set(k(key), value, { EX: ttl, ...(only && { XX: true }) })) === 'OK';
          if (done) await after(key);
          return done;
        }),
      // Keys of different slots cannot share a DEL on a cluster: one DEL per slot, at once.
      del: (...keys) =>
        written(keys, async () => {
          const groups = topology === 'cluster' ? bySlot(keys.map(k)) : [keys.map(k)];
          await Promise.all(
            groups.map(async (group) => {
              const [first] = group;
              if (first === undefined) return;
              await c.del(group);
              await after(first.slice(prefix.length));
            }),
          );
        }),
      hSet: (key, field, value, ttl) =>
        written([key], async () => {
          // One script, not MULTI/EXEC: a cluster routes it by its key and follows a MOVED
          // (refreshing its slot map), where a transaction queued on a stale node only fails.
          await hSetExpire(c, k(key), [field, value, String(ttl)]);
          await after(key);
        }),
      hDel: (key, field) =>
        written([key], async () => {
          await c.hDel(k(key), field);
          await after(key);
        }),
    };
  };
  const plain = writes(client, false);
  return {
    kind: 'redis',
    topology,
    client,
    ...plain,
    durable: writer === client && ackMs === 0 ? plain : writes(writer, true),
    getCached: cache ? (key) => guarded(() => cache.get(k(key))) : (key) => guarded(() => client.get(k(key))),
    ...(cache && { cacheStats: () => cache.stats() }),
    get: (key) => guarded(() => client.get(k(key))),
    getDel: (key) => written([key], () => client.getDel(k(key))),
    hGetAll: (key) => guarded(async () => ({ ...(await client.hGetAll(k(key))) })),
    ping: () => guarded(async () => void (await client.ping())),
    // Inside the executor, a throw while closing is a rejection, as callers expect.
    close: () =>
      new Promise<void>((resolve) => {
        o.close();
        resolve();
      }),
  };
}

/** An in-process Kv for development without Redis. Production refuses it. */
export function memoryKv(clock: () => number = Date.now): Kv {
  const data = new Map<string, { value: string | Map<string, string>; expiresAt: number }>();
  const live = (key: string) => {
    const entry = data.get(key);
    if (entry && entry.expiresAt <= clock()) data.delete(key);
    return data.get(key);
  };
  // Synchronous work answered as settled promises, the shape of the Kv interface.
  const get = (key: string) => {
    const v = live(key)?.value;
    return Promise.resolve(typeof v === 'string' ? v : null);
  };
  const writes: KvWrites = {
    set: (key, value, ttl, only) => {
      if (only && !live(key)) return Promise.resolve(false);
      data.set(key, { value, expiresAt: clock() + ttl * 1000 });
      return Promise.resolve(true);
    },
    del: (...keys) => {
      keys.forEach((key) => data.delete(key));
      return Promise.resolve();
    },
    hSet: (key, field, value, ttl) => {
      const entry = live(key);
      const map = entry?.value instanceof Map ? entry.value : new Map<string, string>();
      map.set(field, value);
      data.set(key, { value: map, expiresAt: clock() + ttl * 1000 });
      return Promise.resolve();
    },
    hDel: (key, field) => {
      const v = live(key)?.value;
      if (v instanceof Map) v.delete(field);
      return Promise.resolve();
    },
  };
  return {
    kind: 'memory',
    ...writes,
    durable: writes,
    get,
    getCached: get,
    getDel: (key) => {
      const v = live(key)?.value;
      data.delete(key);
      return Promise.resolve(typeof v === 'string' ? v : null);
    },
    hGetAll: (key) => {
      const v = live(key)?.value;
      return Promise.resolve(v instanceof Map ? Object.fromEntries(v) : {});
    },
    ping: () => Promise.resolve(),
    close: () => {
      data.clear();
      return Promise.resolve();
    },
  };
}
