import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AuthStore, type AppRoleOptions } from './auth.js';
import { decodeFields } from './fields.js';
import type { PolicyRule } from './policy.js';
import { authRoutes, transitRoutes, type Route, type RouteResult } from './routes.js';
import { TransitEngine, VaultHttpError } from './transit.js';

export { parsePolicyHcl, type PolicyRule } from './policy.js';
export type { Route } from './routes.js';

export interface VaultDoubleOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Defaults to a random token. */
  rootToken?: string;
  /** Where the transit engine is mounted; default `transit`. */
  mount?: string;
  /** Milliseconds since the epoch; tests pass their own clock to drive token TTLs. */
  now?: () => number;
}

/** How the double behaves while "down": drop the connection, answer 503, or never answer. */
export type DownMode = 'close' | '503' | 'hang';

export interface VaultDoubleState {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  down: DownMode | false;
}

/** A request the double received, kept for contract tests. */
export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface VaultDouble {
  url: string;
  rootToken: string;
  mount: string;
  state: VaultDoubleState;
  transit: TransitEngine;
  requests: RecordedRequest[];
  routes: Route[];
  addPolicy(name: string, rules: PolicyRule[]): void;
  addAppRole(name: string, options: AppRoleOptions): { roleId: string; secretId: string };
  /** Issues another secret id of the AppRole `name` (the first one stays valid). */
  issueSecretId(name: string): string;
  /** Destroys one secret id of the AppRole `name`: it no longer logs in. */
  destroySecretId(name: string, secretId: string): void;
  /** Revokes every token issued by logins to the AppRole `name`. */
  revokeRoleTokens(name: string): void;
  createToken(options: { policies: string[]; ttlSeconds?: number; maxTtlSeconds?: number }): string;
  seal(): void;
  unseal(): void;
  setInitialized(initialized: boolean): void;
  setStandby(standby: boolean): void;
  setDown(down: boolean, mode?: DownMode): void;
  /** Stops listening but keeps all state, so `start()` brings the same Vault back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

interface Match {
  route: Route;
  params: Record<string, string>;
}

function compile(route: Route, mount: string): RegExp {
  const source = route.template
    .replace(/\{transit_mount_path\}/g, mount.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .replace(/\{approle_mount_path\}/g, 'approle')
    .replace(/\{(\w+)\}/g, '(?<$1>[^/]+)');
  return new RegExp(`^${source.endsWith('/') ? source.slice(0, -1) : source}/?$`);
}

function findRoute(routes: [Route, RegExp][], method: string, path: string): Match | undefined {
  for (const [route, pattern] of routes) {
    const match = route.method === method ? pattern.exec(path) : null;
    if (match) return { route, params: { ...match.groups } };
  }
  return undefined;
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new VaultHttpError(400, 'failed to parse JSON input: invalid character');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new VaultHttpError(400, 'failed to parse JSON input: expected an object');
  }
  return parsed as Record<string, unknown>;
}

function send(res: ServerResponse, result: RouteResult): void {
  if (result.status === 204 || !result.body) {
    res.writeHead(result.status).end();
    return;
  }
  const body =
    result.raw || 'errors' in result.body
      ? result.body
      : {
          request_id: randomUUID(),
          lease_id: '',
          renewable: false,
          lease_duration: 0,
          data: null,
          wrap_info: null,
          warnings: null,
          auth: null,
          ...result.body,
        };
  res.writeHead(result.status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const errorResult = (status: number, message: string): RouteResult => ({
  status,
  body: { errors: message ? [message] : [] },
});

/**
 * Starts a stateful HTTP double of Vault: the transit engine, AppRole login, token
 * self-service, sys/health and ACL policies, all under `/v1/`. Listens on 127.0.0.1 and
 * a free port unless told otherwise.
 */
export async function startVaultDouble(options: VaultDoubleOptions = {}): Promise<VaultDouble> {
  const now = options.now ?? Date.now;
  const mount = options.mount ?? 'transit';
  const rootToken = options.rootToken ?? `hvs.${randomBytes(18).toString('base64url')}`;
  const transit = new TransitEngine(now);
  const auth = new AuthStore(now, rootToken);
  const routes = [...transitRoutes(transit), ...authRoutes(auth)];
  const compiled = routes.map((route): [Route, RegExp] => [route, compile(route, mount)]);
  const state: VaultDoubleState = { initialized: true, sealed: false, standby: false, down: false };
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  function health(query: URLSearchParams): RouteResult {
    const code = (name: string, fallback: number) => Number(query.get(name) ?? fallback);
    const status = !state.initialized
      ? code('uninitcode', 501)
      : state.sealed
        ? code('sealedcode', 503)
        : state.standby
          ? query.get('standbyok') === 'true'
            ? code('activecode', 200)
            : code('standbycode', 429)
          : code('activecode', 200);
    return {
      status,
      raw: true,
      body: {
        initialized: state.initialized,
        sealed: state.sealed,
        standby: state.standby,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(now() / 1000),
        version: '1.15.6',
        cluster_name: 'vault-double',
        cluster_id: 'vault-double',
      },
    };
  }

  function unavailable(): RouteResult | undefined {
    if (!state.initialized) return errorResult(503, 'Vault is not initialized');
    if (state.sealed) return errorResult(503, 'Vault is sealed');
    if (state.standby) return errorResult(503, 'local node not active but active cluster node not found');
    return undefined;
  }

  async function dispatch(req: IncomingMessage): Promise<RouteResult> {
    const url = new URL(req.url ?? '/', 'http://vault');
    if (!url.pathname.startsWith('/v1/')) return errorResult(404, '');
    const path = url.pathname.slice(3);
    if (path === '/sys/health' && req.method === 'GET') return health(url.searchParams);
    const blocked = unavailable();
    if (blocked) return blocked;
    const listing = ['true', '1'].includes(url.searchParams.get('list') ?? '');
    const method = req.method === 'GET' && listing ? 'LIST' : (req.method ?? 'GET');
    const body = method === 'POST' ? await readBody(req) : undefined;
    requests.push({ method, path, body });
    const match = findRoute(compiled, method, path);
    if (!match) return errorResult(404, `no handler for route "${path.slice(1)}". route entry not found.`);
    if (method === 'POST' && body === undefined) return errorResult(400, 'missing request body');
    const ctx = {
      params: match.params,
      body: decodeFields(body ?? {}, match.route.fields ?? {}),
      query: url.searchParams,
    };
    const given = { token: tokenOf(req) };
    if (!match.route.unauthenticated) {
      const token = auth.authenticate(given.token);
      auth.authorize(token, path.slice(1), match.route.capability(ctx));
    }
    return match.route.handle(ctx, given);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (state.down === 'close') return void req.socket.destroy();
    if (state.down === 'hang') return;
    if (state.down === '503')
      return void res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable');
    try {
      send(res, await dispatch(req));
    } catch (error) {
      if (error instanceof VaultHttpError) return send(res, errorResult(error.status, error.message));
      send(res, errorResult(500, 'internal error'));
    }
  }

  const server = createServer((req, res) => void onRequest(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  let port = options.port ?? 0;
  const host = options.host ?? '127.0.0.1';

  async function start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  async function stop(): Promise<void> {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  }

  await start();
  return {
    url: `http://${host}:${port}`,
    rootToken,
    mount,
    state,
    transit,
    requests,
    routes,
    addPolicy: (name, rules) => auth.addPolicy(name, rules),
    addAppRole: (name, roleOptions) => auth.addAppRole(name, roleOptions),
    issueSecretId: (name) => auth.issueSecretId(name),
    destroySecretId: (name, secretId) => auth.destroySecretId(name, secretId),
    revokeRoleTokens: (name) => auth.revokeRoleTokens(name),
    createToken: (tokenOptions) => auth.createToken(tokenOptions),
    seal: () => void (state.sealed = true),
    unseal: () => void (state.sealed = false),
    setInitialized: (initialized) => void (state.initialized = initialized),
    setStandby: (standby) => void (state.standby = standby),
    setDown: (down, mode = 'close') => void (state.down = down ? mode : false),
    stop,
    start,
    close: stop,
  };
}

function tokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  if (typeof header === 'string' && header !== '') return header;
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  return bearer?.[1];
}
