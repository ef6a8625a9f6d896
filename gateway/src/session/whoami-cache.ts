import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import type { KratosIdentity, WhoamiResult } from '../kratos/types.js';
import type { KratosClient } from '../kratos/client.js';
import type { Kv } from '../redis/client.js';
import { createParseMemo } from './parse-memo.js';

/** What the short whoami and identity cache reads through. */
interface CacheDeps {
  config: Pick<Config, 'WHOAMI_CACHE_SECONDS'>;
  kv: Kv;
  kratos: KratosClient;
  clock: () => Date;
}

const digests = new Map<string, string>();
const DIGESTS_MAX = 10_000;

/**
 * SHA-256 (base64url) of a credential, the name it is cached or stored under: the same few
 * credentials come back on every request, so their digests are remembered (a bounded few).
 */
export function sha256(value: string): string {
  let digest = digests.get(value);
  if (digest === undefined) {
    digest = createHash('sha256').update(value).digest('base64url');
    if (digests.size >= DIGESTS_MAX) {
      const oldest = digests.keys().next();
      if (!oldest.done) digests.delete(oldest.value);
    }
    digests.set(value, digest);
  }
  return digest;
}

/** Cached answers, parsed once while their text is unchanged (frozen: callers never change them). */
const parsed = createParseMemo(10_000);

/**
 * Reads through the short Redis cache shared by every replica. The entry carries its own
 * expiry, so a copy held anywhere (the client-side cache included) is never trusted past it.
 */
export async function readThrough<T>(
  deps: CacheDeps,
  key: string,
  load: () => Promise<T>,
  cacheable: (value: T) => boolean,
): Promise<T> {
  const ttl = deps.config.WHOAMI_CACHE_SECONDS;
  if (ttl === 0) return load();
  const now = deps.clock().getTime();
  const hit = await deps.kv.getCached(key);
  if (hit) {
    const entry = parsed<{ value: T; expiresAt: number }>(key, hit);
    if (entry.expiresAt > now) return entry.value;
  }
  const value = await load();
  if (cacheable(value)) await deps.kv.set(key, JSON.stringify({ value, expiresAt: now + ttl * 1000 }), ttl);
  return value;
}

/**
 * identity → its cached whoami answers, as a hash of cache key → Kratos session id. It and
 * the cached identity carry the identity as their hash tag (like the session index), so
 * they share a slot on a cluster and go in one DEL.
 */
const indexKey = (identityId: string) => `whoami-idx:{${identityId}}`;
const identityKey = (identityId: string) => `identity:{${identityId}}`;

/**
 * Kratos whoami behind the short cache. Every answer that names a session is indexed by
 * its identity and session before it is cached, so a logout, a revocation or a
 * deactivation can drop it at once (see `forgetWhoamiOf`) instead of waiting for the TTL;
 * the delete reaches every replica's client-side cache through Redis' invalidation push.
 */
export function cachedWhoami(deps: CacheDeps, credential: { token: string } | { cookie: string }) {
  const key = `whoami:${sha256('token' in credential ? `t:${credential.token}` : `c:${credential.cookie}`)}`;
  return readThrough<WhoamiResult>(
    deps,
    key,
    async () => {
      const answer = await deps.kratos.whoami(credential);
      if (answer.status === 'active' && deps.config.WHOAMI_CACHE_SECONDS > 0) {
        const ttl = deps.config.WHOAMI_CACHE_SECONDS + 1;
        await deps.kv.hSet(indexKey(answer.session.identity.id), key, answer.session.id, ttl);
      }
      return answer;
    },
    (r) => r.status !== 'invalid',
  );
}

/** The admin view of an identity behind the same short cache. */
export function cachedIdentity(deps: CacheDeps, identityId: string): Promise<KratosIdentity | undefined> {
  return readThrough(deps, identityKey(identityId), () => deps.kratos.getIdentity(identityId), Boolean);
}

/** Puts a fresh admin view of an identity in the same short cache (a sign-in just read it). */
export async function rememberIdentity(deps: CacheDeps, identity: KratosIdentity): Promise<void> {
  const ttl = deps.config.WHOAMI_CACHE_SECONDS;
  if (ttl === 0) return;
  const expiresAt = deps.clock().getTime() + ttl * 1000;
  await deps.kv.set(identityKey(identity.id), JSON.stringify({ value: identity, expiresAt }), ttl);
}

/** Drops cached views of an identity, so a change (roles, state) is seen at once. */
export async function forgetIdentity(deps: Pick<CacheDeps, 'kv'>, identityId: string) {
  await deps.kv.del(identityKey(identityId));
}

/** Drops the cached whoami of a Kratos session token, so a change at Kratos (AAL, traits) is seen at once. */
export async function forgetWhoami(deps: Pick<CacheDeps, 'kv'>, token: string) {
  await deps.kv.del(`whoami:${sha256(`t:${token}`)}`);
}

/**
 * Drops every cached whoami answer of an identity (or only those of one Kratos session),
 * whichever credential (gateway-held token or raw cookie) it was cached under, together
 * with the cached admin view: the next request on any replica asks Kratos again.
 */
export async function forgetWhoamiOf(deps: Pick<CacheDeps, 'kv'>, identityId: string, sessionId?: string) {
  const entries = Object.entries(await deps.kv.hGetAll(indexKey(identityId)));
  const keys = entries.filter(([, sid]) => sessionId === undefined || sid === sessionId).map(([key]) => key);
  if (keys.length > 0) await deps.kv.del(...keys);
  if (sessionId === undefined) return deps.kv.del(indexKey(identityId), identityKey(identityId));
  for (const key of keys) await deps.kv.hDel(indexKey(identityId), key);
  await forgetIdentity(deps, identityId);
}
