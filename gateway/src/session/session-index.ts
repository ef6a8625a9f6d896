import type { Kv } from '../redis/client.js';

/**
 * identity → its gateway sessions, as a Redis hash `idx:{<identity>}` of handle → session
 * id. It is what makes "log out everywhere" and GET /sessions possible without scanning.
 * The identity is the key's hash tag: on a cluster, whatever else is named after the
 * identity with the same tag (the whoami index, the cached identity) shares its slot.
 * Its writes wait for a replica where there is one (`kv.durable`): an index entry a
 * failover lost would leave a session out of reach of "log out everywhere".
 *
 * Indexes written before the tag (`idx:<identity>`) are still read and cleared, until the
 * last session they name has expired (SESSION_ABSOLUTE_LIFETIME_SECONDS after an upgrade).
 */
export function createSessionIndex(kv: Kv, ttlSeconds: number) {
  const key = (identityId: string) => `idx:{${identityId}}`;
  const legacyKey = (identityId: string) => `idx:${identityId}`;
  return {
    add: (identityId: string, handle: string, sid: string) =>
      kv.durable.hSet(key(identityId), handle, sid, ttlSeconds),
    async remove(identityId: string, handle: string) {
      await Promise.all([
        kv.durable.hDel(key(identityId), handle),
        kv.durable.hDel(legacyKey(identityId), handle),
      ]);
    },
    async list(identityId: string): Promise<Record<string, string>> {
      const [legacy, current] = await Promise.all([
        kv.hGetAll(legacyKey(identityId)),
        kv.hGetAll(key(identityId)),
      ]);
      return { ...legacy, ...current };
    },
    clear: (identityId: string) => kv.durable.del(key(identityId), legacyKey(identityId)),
  };
}

export type SessionIndex = ReturnType<typeof createSessionIndex>;
