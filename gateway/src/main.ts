import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { buildDeps } from './build-deps.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './http/logger.js';
import { createMetricsServer } from './http/metrics.js';

/**
 * Starts the gateway: reads the configuration (exiting non-zero with every problem listed),
 * opens its clients, listens on PORT and METRICS_PORT, and stops cleanly on SIGTERM/SIGINT.
 */
export async function startGateway(env: Record<string, string | undefined> = process.env) {
  const config = loadConfig(env);
  const logger = createLogger({ level: config.LOG_LEVEL });
  const { deps, close } = await buildDeps(config, logger);
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
    async stop() {
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      if (metrics) await new Promise((resolve) => metrics.close(resolve));
      await close();
    },
  };
}

async function main() {
  try {
    const gateway = await startGateway();
    const stop = async () => {
      await gateway.stop();
      process.exit(0);
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
