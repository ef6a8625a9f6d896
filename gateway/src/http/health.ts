import type { Router } from 'express';
import type { Database } from '../db/database.js';
import type { KeyService } from '../keys/key-service.js';
import type { KratosClient } from '../kratos/client.js';

/** What readiness asks: each outside system the gateway needs. */
interface HealthDeps {
  kv: { ping(): Promise<unknown> };
  db: Pick<Database, 'query'>;
  kratos: Pick<KratosClient, 'ready'>;
  keys: Pick<KeyService, 'health'>;
}

async function check(run: () => Promise<unknown>, timeoutMs = 2000): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const ok = await Promise.race([
      run().then((r) => r !== false),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    return ok ? 'ok' : 'down';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/** /healthz: the process is alive. /readyz: Redis, Postgres, Kratos and the key service answer. */
export function registerHealthRoutes(router: Router, deps: HealthDeps) {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [redis, database, kratos, keys] = await Promise.all([
      check(() => deps.kv.ping()),
      check(() => deps.db.query('SELECT 1')),
      check(() => deps.kratos.ready()),
      check(async () => (await deps.keys.health()).ok),
    ]);
    const checks = { redis, database, kratos, keys };
    const ready = Object.values(checks).every((c) => c === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });
}
