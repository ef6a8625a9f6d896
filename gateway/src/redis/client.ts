import { createClient, createCluster, createSentinel, type RedisClientType } from 'redis';
import { AppError } from '../http/errors.js';

/**
 * The gateway's only door to Redis. Everything it keeps there (sessions, the identity →
 * sessions index, WebAuthn challenges, the whoami cache, rate-limit counters) goes
 * through the small `Kv` interface below, so that `npm run dev` can run without a Redis
 * server and tests exercise the real one.
 */
export interface Kv {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  /**
   * A read that may be answered from a client-side cache invalidated by the server (a
   * write elsewhere reaches this process within the push's delay; a write made through
   * this Kv drops the copy at once). Never for single-use values such as challenges.
   */
  getCached(key: string): Promise<string | null>;
  /**
   * Writes a value with a TTL. With `only: 'existing'` (SET XX) it writes only over a value
   * that is still there, and answers whether it did: an update never brings back a deleted
   * entry (a session ended or moved by a concurrent request).
   */
  set(key: string, value: string, ttlSeconds: number, only?: 'existing'): Promise<boolean>;
  /** Reads and deletes in one atomic step: the basis of single-use challenges. */
  getDel(key: string): Promise<string | null>;
  del(...keys: string[]): Promise<void>;
  hSet(key: string, field: string, value: string, ttlSeconds: number): Promise<void>;
  hGetAll(key: string): Promise<Record<string, string>>;
  hDel(key: string, field: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Hits and misses of the client-side cache behind `getCached`, when there is one. */
  cacheStats?(): { hits: number; misses: number };
  /** The node-redis client, for rate-limit-redis; absent in memory mode. */
  readonly client?: RedisClientType;
}

/** The one answer for "Redis could not be reached or failed": a 503, never a sign-out. */
export const sessionStoreUnavailable = (cause: unknown) =>
  new AppError('session_store_unavailable', 503, 'The session store is unavailable.', { cause });

/** Runs a Redis command, turning every failure into a 503 AppError. */
async function guard<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw sessionStoreUnavailable(err);
  }
}

export function parseRedisUrl(url: string) {
  const m = /^(redis|rediss|redis-sentinel|redis-cluster):\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/([^?#]*))?/.exec(url);
  if (!m) throw new Error('bad redis url');
  const [, scheme, auth, hostList, path] = m;
  const password = auth?.includes(':') ? decodeURIComponent(auth.slice(auth.indexOf(':') + 1)) : undefined;
  const hosts = hostList!.split(',').map((h) => {
    const [host, port] = h.split(':');
    return { host: host || '127.0.0.1', port: Number(port || 6379) };
  });
  const mode = scheme === 'redis-sentinel' ? 'sentinel' : scheme === 'redis-cluster' ? 'cluster' : 'single';
  return { mode, hosts, password: password || undefined, masterName: path || 'mymaster' };
}

/**
 * Builds the node-redis client for a URL. `redis://` and `rediss://` (TLS) connect to one
 * server; `redis-sentinel://host:26379,host2:26379/<master>` asks Sentinel for the
 * master; `redis-cluster://host:6379,host2:6379` connects to a cluster.
 */
function buildClient(url: string, clientCache = false, tlsCa?: Buffer): RedisClientType {
  // Without an offline queue, commands fail at once while Redis is down (a 503), instead
  // of hanging until it returns; the client keeps reconnecting in the background. With a CA
  // (`rediss://` only), the server's certificate must chain to it and name the URL's host.
  const common = {
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000),
      ...(tlsCa && { tls: true as const, ca: tlsCa }),
    },
  };
  const parsed = parseRedisUrl(url);
  const hosts = parsed.hosts;
  if (parsed.mode === 'sentinel') {
    return createSentinel({
      name: parsed.masterName,
      sentinelRootNodes: hosts,
      nodeClientOptions: { password: parsed.password, ...common },
    }) as unknown as RedisClientType;
  }
  if (parsed.mode === 'cluster') {
    return createCluster({
      rootNodes: hosts.map((h) => ({ url: `redis://${h.host}:${h.port}` })),
      defaults: { password: parsed.password, ...common },
    }) as unknown as RedisClientType;
  }
  if (tlsCa && !url.startsWith('rediss:')) throw new Error('a TLS CA needs a rediss:// URL');
  if (!clientCache) return createClient({ url, ...common }) as RedisClientType;
  // RESP3 with CLIENT TRACKING ON (sent again on every reconnect): Redis pushes the name of
  // every key this connection read once any client changes it, as an `invalidate` event.
  return createClient({ url, ...common, RESP: 3, emitInvalidate: true }) as unknown as RedisClientType;
}

/** Values read on the tracking connection, kept in process memory until Redis invalidates them. */
const CACHE_MAX_ENTRIES = 100_000;

/**
 * The client-side cache: a Map of key → value filled by reads on the tracking connection,
 * emptied of a key as soon as Redis pushes its invalidation (or this process writes it), and
 * emptied altogether whenever that connection errs or reconnects (pushes may have been
 * missed). A read that was in flight when its key was invalidated is answered but not kept.
 */
function trackedCache(reader: RedisClientType) {
  const values = new Map<string, string>();
  const inflight = new Map<string, { valid: boolean }>();
  const stats = { hits: 0, misses: 0 };
  const drop = (key: string) => {
    values.delete(key);
    const pending = inflight.get(key);
    if (pending) pending.valid = false;
  };
  const dropAll = () => {
    values.clear();
    for (const pending of inflight.values()) pending.valid = false;
  };
  reader.on('invalidate', (key: unknown) => (key === null ? dropAll() : drop(String(key))));
  for (const event of ['error', 'end', 'reconnecting', 'ready']) reader.on(event, dropAll);
  return {
    stats: () => ({ ...stats }),
    drop,
    async get(key: string): Promise<string | null> {
      const hit = values.get(key);
      if (hit !== undefined) {
        stats.hits++;
        return hit;
      }
      stats.misses++;
      const pending = { valid: true };
      inflight.set(key, pending);
      try {
        const value = await reader.get(key);
        if (value !== null && pending.valid) {
          if (values.size >= CACHE_MAX_ENTRIES) values.delete(values.keys().next().value!);
          values.set(key, value);
        }
        return value;
      } finally {
        if (inflight.get(key) === pending) inflight.delete(key);
      }
    },
  };
}

/**
 * Connects to Redis; `onError` receives connection errors (they are retried, never thrown).
 *
 * With `clientCache` (default true, single-server URLs), a second connection serves
 * `getCached` with client-side caching (RESP3 tracking): reads of the short-lived caches
 * (whoami, identities) are answered from process memory, and Redis pushes an invalidation
 * as soon as any client changes one, so a role change made on one replica reaches the
 * others without waiting for the TTL. The cache is dropped whenever that connection is
 * lost. Sessions are read through it too (their revocation lag on other replicas is the
 * push's delay, measured by the two-replica tests); challenges never are.
 */
export async function connectRedis(
  url: string,
  prefix: string,
  onError: (err: Error) => void,
  options: {
    clientCache?: boolean;
    /** PEM CA bundle that signs the server's certificate (REDIS_TLS_CA_FILE), for `rediss://`. */
    tlsCa?: Buffer;
  } = {},
): Promise<Kv> {
  const client = buildClient(url, false, options.tlsCa);
  client.on('error', onError);
  await client.connect();
  const standalone = url.startsWith('redis://') || url.startsWith('rediss://');
  const cacheClient =
    (options.clientCache ?? true) && standalone ? buildClient(url, true, options.tlsCa) : undefined;
  if (cacheClient) {
    cacheClient.on('error', onError);
    await cacheClient.connect();
  }
  const cache = cacheClient && trackedCache(cacheClient);
  const k = (key: string) => prefix + key;
  // A write or delete made here is seen by this process's very next read: its cached copy is
  // dropped as soon as the write is acknowledged, without waiting for Redis' pushed invalidation
  // (which still reaches every other replica).
  const written = async <T>(keys: string[], run: () => Promise<T>): Promise<T> => {
    try {
      return await guard(run);
    } finally {
      if (cache) for (const key of keys) cache.drop(k(key));
    }
  };
  return {
    kind: 'redis',
    client,
    getCached: (key) => guard(() => (cache ? cache.get(k(key)) : client.get(k(key)))),
    ...(cache && { cacheStats: cache.stats }),
    get: (key) => guard(() => client.get(k(key))),
    set: (key, value, ttl, only) =>
      written(
        [key],
        async () => (await client.set(k(key), value, { EX: ttl, ...(only && { XX: true }) })) === 'OK',
      ),
    getDel: (key) => written([key], () => client.getDel(k(key))),
    del: (...keys) => written(keys, async () => void (keys.length && (await client.del(keys.map(k))))),
    hSet: (key, field, value, ttl) =>
      written([key], async () => {
        await client.multi().hSet(k(key), field, value).expire(k(key), ttl).exec();
      }),
    hGetAll: (key) => guard(async () => ({ ...(await client.hGetAll(k(key))) }) as Record<string, string>),
    hDel: (key, field) => written([key], async () => void (await client.hDel(k(key), field))),
    ping: () => guard(async () => void (await client.ping())),
    close: async () => {
      client.destroy();
      cacheClient?.destroy();
    },
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
  const get = async (key: string) => {
    const v = live(key)?.value;
    return typeof v === 'string' ? v : null;
  };
  return {
    kind: 'memory',
    get,
    getCached: get,
    set: async (key, value, ttl, only) => {
      if (only && !live(key)) return false;
      data.set(key, { value, expiresAt: clock() + ttl * 1000 });
      return true;
    },
    getDel: async (key) => {
      const v = live(key)?.value;
      data.delete(key);
      return typeof v === 'string' ? v : null;
    },
    del: async (...keys) => keys.forEach((key) => data.delete(key)),
    hSet: async (key, field, value, ttl) => {
      const entry = live(key);
      const map = entry?.value instanceof Map ? entry.value : new Map<string, string>();
      map.set(field, value);
      data.set(key, { value: map, expiresAt: clock() + ttl * 1000 });
    },
    hGetAll: async (key) => {
      const v = live(key)?.value;
      return v instanceof Map ? Object.fromEntries(v) : {};
    },
    hDel: async (key, field) => {
      const v = live(key)?.value;
      if (v instanceof Map) v.delete(field);
    },
    ping: async () => undefined,
    close: async () => data.clear(),
  };
}
