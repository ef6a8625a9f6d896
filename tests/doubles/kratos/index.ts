import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type Express, type Router } from 'express';
import { registerCourierRoutes } from './admin/courier.js';
import { answerIdentityRead, registerIdentityRoutes } from './admin/identities.js';
import { registerAdminRecoveryRoutes } from './admin/recovery.js';
import { registerAdminSessionRoutes } from './admin/sessions.js';
import { loadConfig, repoRoot } from './config.js';
import type { DoubleContext } from './context.js';
import { errors } from './errors.js';
import { errorHandler, notFoundHandler } from './http.js';
import { IdentitySchema } from './identity.js';
import type { OidcProviderConfig } from './oidc.js';
import { registerLoginRoutes } from './public/login.js';
import { registerOidcRoutes } from './public/oidc.js';
import { registerRecoveryRoutes } from './public/recovery.js';
import { registerRegistrationRoutes } from './public/registration.js';
import { registerSessionRoutes } from './public/sessions.js';
import { registerSettingsRoutes } from './public/settings.js';
import { registerVerificationRoutes } from './public/verification.js';
import { createState, type DoubleState } from './state.js';
import { loadState, persistState } from './state-file.js';

export type { DoubleState } from './state.js';

export interface KratosDoubleOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (a free port). */
  publicPort?: number;
  /** Default 0 (a free port). */
  adminPort?: number;
  /** kratos.yml to read overlapping settings from; default <repo>/kratos/kratos.yml when it exists. */
  configPath?: string;
  /** Default <repo>/kratos/identity.schema.json (or the schema kratos.yml names) when it exists, else a built-in equivalent. */
  identitySchemaPath?: string;
  /** Where to deliver web_hook actions by hook name ('after-registration', …); undefined disables hooks. */
  webhookUrl?: (hookName: string) => string | undefined;
  /** Sent in the api_key header named in the config (default header 'X-Webhook-Key'). */
  webhookApiKey?: string;
  /** Clock in milliseconds; default Date.now. */
  now?: () => number;
  /**
   * The courier's `sms` channel (kratos.yml `courier.channels`): texts are posted here as
   * `{"to", "body"}` with `Authorization: Bearer <apiKey>`. Without it they are only queued.
   */
  sms?: { url: string; apiKey: string };
  sessionLifespanSeconds?: number;
  privilegedSessionMaxAgeSeconds?: number;
  /**
   * A JSON file holding identities, sessions, flows and courier messages, read at start and
   * written after every response, so that they survive a restart (`npm run dev`). Default:
   * in memory only.
   */
  statePath?: string;
  /** Kratos' oidc method with these generic OpenID providers (like kratos/social-sign-in.yml); default off. */
  oidcProviders?: OidcProviderConfig[];
  /**
   * What kratos.yml's `${PUBLIC_BASE_URL}` stands for: the allowed return URLs and the error
   * page. Default http://localhost:3000, as the test rigs set it for the gateway and real Kratos.
   */
  publicBaseUrl?: string;
}

export interface KratosDouble {
  /** e.g. http://127.0.0.1:41234 */
  publicUrl: string;
  adminUrl: string;
  /** Delays every response by `ms`. */
  setLatency(ms: number): void;
  /** Stops listening (simulates an outage) and keeps all state. */
  stop(): Promise<void>;
  /** Listens again on the same ports. */
  start(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
  /** Identities, sessions, flows, courier messages and web hook deliveries, for white-box assertions. */
  state: DoubleState;
}

/**
 * Starts a stateful stand-in for Ory Kratos v1.3.1: the public API and the admin API on two
 * ports, configured from the project's kratos/kratos.yml where the two overlap.
 */
export async function startKratosDouble(options: KratosDoubleOptions = {}): Promise<KratosDouble> {
  const host = options.host ?? '127.0.0.1';
  const ctx = createContext(options);
  const persisted = options.statePath ? persistState(options.statePath, ctx.state) : undefined;
  const afterResponse = persisted?.changed ?? (() => undefined);
  let latencyMs = 0;
  const delay = async (): Promise<void> => {
    if (latencyMs > 0) await sleep(latencyMs);
  };
  const urls = { admin: '' };
  const publicServer = new ListeningServer(
    buildApp(delay, afterResponse, (router) => registerPublicRoutes(router, ctx)),
    host,
  );
  const adminServer = new ListeningServer(
    buildApp(delay, afterResponse, (router) => registerAdminRoutes(router, ctx, () => urls.admin), '/admin'),
    host,
    // Without added latency, an identity read skips Express.
    (req, res) => latencyMs === 0 && answerIdentityRead(ctx, req, res),
  );
  await publicServer.listen(options.publicPort ?? 0);
  await adminServer.listen(options.adminPort ?? 0);
  ctx.publicUrl = publicServer.url;
  urls.admin = adminServer.url;

  return {
    publicUrl: publicServer.url,
    adminUrl: adminServer.url,
    state: ctx.state,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    stop: async () => {
      await Promise.all([publicServer.close(), adminServer.close()]);
    },
    start: async () => {
      await publicServer.listen(publicServer.port);
      await adminServer.listen(adminServer.port);
    },
    close: async () => {
      await Promise.all([publicServer.close(), adminServer.close()]);
      persisted?.flush();
    },
  };
}

function createContext(options: KratosDoubleOptions): DoubleContext {
  const config = loadConfig(options.configPath);
  if (options.sessionLifespanSeconds !== undefined)
    config.sessionLifespanMs = options.sessionLifespanSeconds * 1000;
  if (options.privilegedSessionMaxAgeSeconds !== undefined) {
    config.privilegedSessionMaxAgeMs = options.privilegedSessionMaxAgeSeconds * 1000;
  }
  const repoSchema = path.join(repoRoot, 'kratos', 'identity.schema.json');
  const schemaPath =
    options.identitySchemaPath ??
    config.identitySchemaPath ??
    (existsSync(repoSchema) ? repoSchema : undefined);
  return {
    state: options.statePath ? loadState(options.statePath) : createState(),
    config,
    schema: new IdentitySchema(schemaPath),
    now: options.now ?? Date.now,
    publicUrl: '',
    webhookUrl: options.webhookUrl,
    webhookApiKey: options.webhookApiKey,
    publicBaseUrl: (options.publicBaseUrl ?? 'http://localhost:3000').replace(/\/$/, ''),
    oidcProviders: options.oidcProviders ?? [],
    stateKey: randomBytes(32),
    selfServiceErrors: new Map(),
    sms: options.sms,
  };
}

/**
 * One of the double's two servers. The admin server (`prefix` /admin), as Kratos' own,
 * answers every path outside /admin with a 307 to the same path under it (health and
 * version included: /health/ready moves to /admin/health/ready).
 */
function buildApp(
  delay: () => Promise<void>,
  afterResponse: () => void,
  register: (router: Router) => void,
  prefix = '',
): Express {
  const app = express();
  app.disable('x-powered-by');
  // Kratos answers without ETags (and so without 304s); Express would hash every body for one.
  app.set('etag', false);
  app.set('trust proxy', 'loopback');
  if (prefix) {
    app.use((req, res, next) => {
      if (req.path === prefix || req.path.startsWith(`${prefix}/`)) return next();
      res.redirect(307, `${prefix}${req.originalUrl}`);
    });
  }
  app.use((_req, res, next) => {
    res.once('finish', afterResponse);
    next();
  });
  app.use(async (_req, _res, next) => {
    await delay();
    next();
  });
  app.use(express.json({ type: ['application/json', 'application/*+json'], limit: '1mb' }));
  app.use(express.urlencoded({ extended: false, limit: '1mb' }));
  const router = express.Router();
  registerHealthRoutes(router, prefix);
  register(router);
  app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

function registerHealthRoutes(router: Router, prefix: string): void {
  router.get(`${prefix}/health/alive`, (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  router.get(`${prefix}/health/ready`, (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  router.get(`${prefix}/version`, (_req, res) => {
    res.status(200).json({ version: 'v1.3.1' });
  });
}

function registerPublicRoutes(router: Router, ctx: DoubleContext): void {
  registerLoginRoutes(router, ctx);
  registerRegistrationRoutes(router, ctx);
  registerSessionRoutes(router, ctx);
  registerRecoveryRoutes(router, ctx);
  registerVerificationRoutes(router, ctx);
  registerSettingsRoutes(router, ctx);
  registerOidcRoutes(router, ctx);
  registerSchemaRoutes(router, ctx);
}

function registerAdminRoutes(router: Router, ctx: DoubleContext, adminUrl: () => string): void {
  registerIdentityRoutes(router, ctx, adminUrl);
  registerAdminSessionRoutes(router, ctx, adminUrl);
  registerCourierRoutes(router, ctx, adminUrl);
  registerAdminRecoveryRoutes(router, ctx);
  registerSchemaRoutes(router, ctx);
}

function registerSchemaRoutes(router: Router, ctx: DoubleContext): void {
  const encodedId = Buffer.from(ctx.schema.id).toString('base64url');
  router.get('/schemas', (_req, res) => {
    res.status(200).json([{ id: ctx.schema.id, schema: ctx.schema.raw }]);
  });
  router.get('/schemas/:id', (req, res) => {
    if (req.params.id !== ctx.schema.id && req.params.id !== encodedId)
      throw errors.notFound('The schema could not be found.');
    res.status(200).json(ctx.schema.raw);
  });
}

/** An HTTP server that can stop and listen again on the port it first got. */
class ListeningServer {
  private server?: Server;
  port = 0;

  constructor(
    private readonly app: Express,
    private readonly host: string,
    /** Answers a request before the app does (true when it answered). */
    private readonly before: (req: IncomingMessage, res: ServerResponse) => boolean = () => false,
  ) {}

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  async listen(port: number): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      if (!this.before(req, res)) this.app(req, res);
    });
    server.listen(port, this.host);
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }
}
