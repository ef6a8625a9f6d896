import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Config } from '../config.js';
import type { Kv } from '../redis/client.js';
import { createParseMemo } from './parse-memo.js';
import { sha256 } from './whoami-cache.js';
import type { GatewayAuth } from './session-data.js';

export const SESSION_COOKIE = 'gw_session';

/** An anonymous pre-session only binds WebAuthn challenges and pending flows: it lives briefly. */
const PRE_SESSION_TTL_SECONDS = 900;

/** 256 random bits, base64url: the cookie is the whole secret, so it needs no signature. */
const ID_BYTES = 32;
const ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** What a browser's gateway session holds. Other modules add their fields here. */
export interface SessionData {
  auth?: GatewayAuth;
  /** Random id of the browser before sign-in: binds WebAuthn challenges to it. */
  preId?: string;
}

/**
 * The key a session is stored under: a digest of its cookie, so that nothing read from
 * Redis (a dump, a replica, the identity index) is a cookie anyone could present.
 */
export const storageKey = (cookieId: string) => sha256(cookieId);

const redisKey = (key: string) => `sess:${key}`;

/** Parsed sessions, shared (frozen) between requests while their stored text is unchanged. */
const parsed = createParseMemo(10_000);

/** A request's own copy of stored data: its fields and their direct contents may change. */
function ownCopy(data: SessionData): SessionData {
  const copy: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(data))
    copy[field] = value && typeof value === 'object' && !Array.isArray(value) ? { ...value } : value;
  return copy;
}

/**
 * The gateway's sessions in Redis (or the in-process Kv in development): one JSON value per
 * session under `sess:<digest of the cookie>`. Reads go through the client-side cache with
 * server-pushed invalidation, so a warm check costs no Redis round trip; every write and
 * delete drops this process's copy at once, and Redis pushes the invalidation to every
 * other replica. Writes and deletes wait for a replica where there is one (Sentinel,
 * Cluster): a session whose cookie went out, or whose end was acknowledged, survives a
 * failover of the master as it was.
 */
export function createSessionStore(kv: Kv) {
  return {
    async read(key: string): Promise<SessionData | undefined> {
      const raw = await kv.getCached(redisKey(key));
      return raw ? ownCopy(parsed<SessionData>(key, raw)) : undefined;
    },
    /** Creates a session, or (`only: 'existing'`) updates one that still exists. */
    write: (key: string, data: SessionData, ttlSeconds: number, only?: 'existing') =>
      kv.durable.set(redisKey(key), JSON.stringify(data), Math.max(1, Math.ceil(ttlSeconds)), only),
    remove: (key: string) => kv.durable.del(redisKey(key)),
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;

interface SessionContext {
  store: SessionStore;
  config: Pick<Config, 'https' | 'SESSION_ABSOLUTE_LIFETIME_SECONDS'>;
  clock: () => Date;
  random: (bytes: number) => Buffer;
}

/**
 * The request's session: its data as own fields (`auth`, `preId`, …), and the three ways
 * to change it. Nothing is written unless one of them is called: a session check that
 * changes nothing costs no write.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Session {
  readonly #ctx: SessionContext;
  readonly #res: Response;
  #cookieId: string | undefined;
  #key: string | undefined;

  constructor(ctx: SessionContext, res: Response, cookieId?: string, data?: SessionData) {
    Object.assign(this, data);
    this.#ctx = ctx;
    this.#res = res;
    this.#cookieId = cookieId;
    this.#key = cookieId && storageKey(cookieId);
  }

  /** The storage key (what the identity index keeps), once the session exists. */
  get key(): string | undefined {
    return this.#key;
  }

  /** The data as stored: own fields only. */
  toJSON(): SessionData {
    return { ...this };
  }

  #ttlSeconds(): number {
    if (!this.auth) return PRE_SESSION_TTL_SECONDS;
    return (this.auth.expiresAt - this.#ctx.clock().getTime()) / 1000;
  }

  #setCookie(cookieId: string) {
    this.#res.cookie(SESSION_COOKIE, cookieId, {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.#ctx.config.https,
      path: '/',
      maxAge:
        (this.auth ? this.#ctx.config.SESSION_ABSOLUTE_LIFETIME_SECONDS : PRE_SESSION_TTL_SECONDS) * 1000,
    });
  }

  /** Drops every data field (nothing is written until `save` or `regenerate`). */
  clear(): void {
    for (const field of Object.keys(this)) delete (this as Record<string, unknown>)[field];
  }

  /**
   * Writes the session, creating it (and its cookie, sent with this answer) the first time.
   * An existing session is only updated while it still exists: a request that loaded it
   * before a concurrent logout, revocation or step-up (which moves it to a new id) cannot
   * bring it back, out of reach of "log out everywhere".
   */
  async save(): Promise<void> {
    // A session with a cookie id always has its storage key.
    if (!this.#cookieId || this.#key === undefined) return this.#create();
    await this.#ctx.store.write(this.#key, this.toJSON(), this.#ttlSeconds(), 'existing');
  }

  /**
   * Writes the data under a fresh id; `beforeWrite` gets its storage key first, together with
   * `alongside` (the old id's deletion). The cookie is set (and the id kept) only once the
   * store acknowledged the write.
   */
  async #create(beforeWrite?: (key: string) => Promise<void>, alongside?: Promise<void>): Promise<void> {
    const cookieId = this.#ctx.random(ID_BYTES).toString('base64url');
    const key = storageKey(cookieId);
    await Promise.all([alongside, beforeWrite?.(key)]);
    await this.#ctx.store.write(key, this.toJSON(), this.#ttlSeconds());
    this.#cookieId = cookieId;
    this.#key = key;
    this.#setCookie(cookieId);
  }

  /**
   * Moves the data to a fresh id (sign-in, step-up: no fixation, and a stolen pre-sign-in
   * cookie is worth nothing afterwards) and writes it; the old id is gone. `beforeWrite` (the
   * identity index naming the new id) runs before the new one is written, and after the old
   * id is deleted when the index names that one (`oldIndexed`), else side by side with the
   * deletion: whichever step fails (a Redis node gone mid-command), no stored session is
   * left that the index does not name, and no cookie is sent.
   */
  async regenerate(
    beforeWrite: (key: string) => Promise<void>,
    options: { oldIndexed: boolean },
  ): Promise<void> {
    const old = this.#key;
    this.#cookieId = undefined;
    this.#key = undefined;
    const deletion = old ? this.#ctx.store.remove(old) : undefined;
    if (options.oldIndexed) await deletion;
    await this.#create(beforeWrite, deletion);
  }

  /** Deletes the session and expires its cookie. */
  async destroy(): Promise<void> {
    const key = this.#key;
    this.clear();
    this.#cookieId = undefined;
    this.#key = undefined;
    if (key) await this.#ctx.store.remove(key);
    this.#res.clearCookie(SESSION_COOKIE, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: this.#ctx.config.https,
    });
  }
}

// The data fields are the session's own properties (declared, so none exists until set).
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface Session extends SessionData {}

declare module 'express-serve-static-core' {
  interface Request {
    session: Session;
  }
}

/** Reads one cookie from the Cookie header without parsing the others. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Loads the request's session into `req.session`. A cookie that is not one of ours (wrong
 * shape) or names no stored session is no session; a new one always gets a fresh id, never
 * one the client chose. A store failure is a 503, never "signed out".
 */
export function sessionLayer(ctx: SessionContext): RequestHandler {
  const load = sessionLoader(ctx);
  return (req: Request, res: Response, next: NextFunction) => {
    load(req, res).then(() => next(), next);
  };
}

/** The same as a plain call, for the session checks (which run outside the routers). */
export function sessionLoader(ctx: SessionContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const cookieId = readCookie(req, SESSION_COOKIE);
    const data = cookieId && ID_SHAPE.test(cookieId) ? await ctx.store.read(storageKey(cookieId)) : undefined;
    req.session = data ? new Session(ctx, res, cookieId, data) : new Session(ctx, res);
  };
}
