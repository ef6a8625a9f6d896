import type { RedisClientType } from 'redis';
import { RedisStore } from 'rate-limit-redis';
import type { IncrementResponse } from 'express-rate-limit';

/**
 * rate-limit-redis keeps the SHA of its Lua script in a promise made once; if Redis was
 * down when it was made (or the server restarted and lost its scripts while unreachable)
 * that promise stays rejected and the store never recovers. This store reloads the
 * scripts on the next call after any failure, so counting resumes as soon as Redis does.
 */
export class RecoveringRedisStore extends RedisStore {
  private stale = false;

  constructor(client: RedisClientType, prefix: string) {
    super({ prefix, sendCommand: (...args: string[]) => client.sendCommand(args) as Promise<never> });
  }

  override async increment(key: string): Promise<IncrementResponse> {
    if (this.stale) {
      this.stale = false;
      this.incrementScriptSha = this.loadIncrementScript();
      this.getScriptSha = this.loadGetScript();
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
