import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { buildDeps } from './build-deps.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logging/logger.js';
import { createMetricsServer } from './http/metrics.js';

/**
 * Starts the gateway: reads the configuration (exiting non-zero with every problem listed),
 * opens its clients, listens on PORT and METRICS_PORT, and stops cleanly on SIGTERM/SIGINT.
 */
export async function startGateway(env: Record<string, string | undefined> = process.env) {
  const config = loadConfig(env);
  const logger = createLogger({ level: config.LOG_LEVEL });
  const built = await buildDeps(config, logger);
  const { deps } = built;
  const server = createApp(deps).listen(config.PORT, config.HOST);
  await once(server, 'listening');
  const metrics = config.METRICS_PORT
    ? await createMetricsServer(config.METRICS_PORT, config.HOST)
    : undefined;
  const port = (server.address() as AddressInfo).port;
  logger.info('gateway listening', {
    url: `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${port}`,
    port,
  });
  return {
    port,
    deps,
    /** Stops accepting requests, closes every client, and logs the shutdown with its reason. */
    async stop(reason = 'stop requested') {
      const started = Date.now();
      logger.info('gateway stopping', { reason });
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      if (metrics) await new Promise((resolve) => metrics.close(resolve));
      await built.close();
      logger.info('gateway stopped', { reason, durationMs: Date.now() - started });
    },
  };
}

const USAGE = `Usage: npm start   (tsx gateway/src/main.ts)

Starts the gateway with its configuration from the environment (README.md, Configuration):
listens on PORT (default 3000) and METRICS_PORT (default 9464), stops cleanly on SIGTERM or
SIGINT. A bad configuration exits with code 78 and lists every problem.`;

async function main() {
  if (process.argv.slice(2).some((arg) => arg === '-h' || arg === '--help')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  try {
    const gateway = await startGateway();
    const stop = (signal: NodeJS.Signals): void => {
      gateway.stop(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`gateway did not stop cleanly: ${(err as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`gateway failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
