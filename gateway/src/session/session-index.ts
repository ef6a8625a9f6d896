import type { Kv } from '../redis/client.js';

/**
 * identity → its gateway sessions, as a Redis hash `idx:<identity>` of handle → session
 * id. It is what makes "log out everywhere" and GET /sessions possible without scanning.
 */
export function createSessionIndex(kv: Kv, ttlSeconds: number) {
  const key = (identityId: string) => `idx:${identityId}`;
  return {
    add: (identityId: string, handle: string, sid: string) =>
      kv.hSet(key(identityId), handle, sid, ttlSeconds),
    remove: (identityId: string, handle: string) => kv.hDel(key(identityId), handle),
    list: (identityId: string) => kv.hGetAll(key(identityId)),
    clear: (identityId: string) => kv.del(key(identityId)),
  };
}

export type SessionIndex = ReturnType<typeof createSessionIndex>;
