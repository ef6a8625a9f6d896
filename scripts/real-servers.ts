/**
 * `npm run real:build`: builds the real Ory Kratos and HashiCorp Vault servers from their Go
 * modules (tools/kratos, tools/vault) for the real-stack tier, and prints where they are.
 *
 * The binaries are cached outside the checkout, keyed by the Go toolchain and the module's
 * go.mod and go.sum, so a new clone on the same machine reuses them, and the Go module and
 * build caches make a rebuild after a dependency change incremental.
 *
 *   npm run real:build              both servers
 *   npm run real:build -- kratos    one of them
 *
 * REAL_SERVERS_CACHE moves the cache (default: $XDG_CACHE_HOME or ~/.cache, /auth-gateway/real).
 */
import { fileURLToPath } from 'node:url';
import { helpIfAsked } from './help.js';
import { realServerNames, buildRealServer, type RealServerName } from './real-servers/binaries.js';

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !(realServerNames as readonly string[]).includes(name));
  if (unknown.length > 0) {
    console.error(
      `real:build: unknown server ${unknown.join(', ')} (choose from ${realServerNames.join(', ')})`,
    );
    process.exit(2);
  }
  const names = (asked.length > 0 ? asked : [...realServerNames]) as RealServerName[];
  for (const name of names) {
    const started = Date.now();
    const result = await buildRealServer(name, { log: (line) => console.log(line) });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`real:build: ${name} ${result.reused ? 'reused' : `built in ${seconds} s`}: ${result.path}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  helpIfAsked(import.meta.url);
  main().catch((err: unknown) => {
    console.error(`real:build: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
