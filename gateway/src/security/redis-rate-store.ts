import type { RedisClientType } from 'redis';
import { RedisStore } from 'rate-limit-redis';
import type { IncrementResponse } from 'express-rate-limit';
import { sendRouted } from '../redis/client.js';

/**
 * rate-limit-redis keeps the SHA of its Lua script in a promise made once; if Redis was
 * down when it was made (or the server restarted and lost its scripts while unreachable)
 * that promise stays rejected and the store never recovers. This store reloads the
 * scripts on the next call after any failure, so counting resumes as soon as Redis does.
 *
 * Each script touches one key (one counter), and is sent to the node that holds it on a
 * cluster; a node that does not know the script yet (another shard, a promoted replica)
 * answers NOSCRIPT, and rate-limit-redis loads it there and retries.
 */
export class RecoveringRedisStore extends RedisStore {
  private stale = false;

  constructor(client: RedisClientType, prefix: string) {
    super({
      prefix,
      sendCommandCluster: ({ key, command }) => sendRouted(client, command, key) as Promise<never>,
    });
  }

  override async increment(key: string): Promise<IncrementResponse> {
    if (this.stale) {
      this.stale = false;
      const where = this.prefixKey(key);
      this.incrementScriptSha = this.loadIncrementScript(where);
      this.getScriptSha = this.loadGetScript(where);
      // Both are awaited by the calls that use them; this only keeps an early failure from being unhandled.
      this.getScriptSha.catch(() => undefined);
    }
    try {
      return await super.increment(key);
    } catch (err) {
      this.stale = true;
      throw err;
    }
  }
}
