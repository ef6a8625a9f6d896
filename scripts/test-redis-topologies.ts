/**
 * The Redis-touching suites on Redis Sentinel and on Redis Cluster: `npm run test:redis-topologies`.
 *
 *   npm run test:redis-topologies                        both topologies, every suite below
 *   npm run test:redis-topologies -- --topology cluster  one topology
 *   npm run test:redis-topologies -- tests/component/admin.test.ts   some of the suites
 *
 * For each topology the test runner (`npm test`) starts it with REDIS_TOPOLOGY, on loopback
 * ports from Debian's redis-server and redis-cli: a master, a replica and three sentinels; or
 * three masters with one replica each. The suites are those of sessions, logout and log out
 * everywhere, admin revocation, rate limits, lockout, passkey challenges, the whoami and
 * identity caches, pending sign-ups, two replicas and the revocation lag. `npm test` runs
 * them on a single server. Exits non-zero when any run fails.
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { helpIfAsked } from './help.js';

/** The suites whose state lives in Redis. */
export const REDIS_SUITES = [
  'tests/unit/session-store.test.ts',
  'tests/component/auth-password.test.ts',
  'tests/component/admin.test.ts',
  'tests/component/aal-integrity.test.ts',
  'tests/component/rate-limit.test.ts',
  'tests/component/lockout.test.ts',
  'tests/component/passkeys.test.ts',
  'tests/component/passkeys-refusals.test.ts',
  'tests/component/redis-client-cache.test.ts',
  'tests/component/register-enumeration.test.ts',
  'tests/resilience/replicas.test.ts',
  'tests/resilience/revocation-lag.test.ts',
];

const TOPOLOGIES = ['sentinel', 'cluster'];

function main(): void {
  helpIfAsked(import.meta.url);
  const args = process.argv.slice(2);
  const topologies: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--topology' || arg.startsWith('--topology=')) {
      const value = arg === '--topology' ? args[++i] : arg.slice('--topology='.length);
      if (!value || !TOPOLOGIES.includes(value)) {
        console.error(`test:redis-topologies: --topology takes ${TOPOLOGIES.join(' or ')}`);
        process.exit(2);
      }
      topologies.push(value);
    } else if (arg.startsWith('-')) {
      console.error(`test:redis-topologies: unknown option ${arg} (--help)`);
      process.exit(2);
    } else files.push(arg);
  }
  const failed: string[] = [];
  for (const topology of topologies.length > 0 ? topologies : TOPOLOGIES) {
    console.log(`test:redis-topologies: ${topology}`);
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'scripts/test.ts', ...(files.length > 0 ? files : REDIS_SUITES)],
      { stdio: 'inherit', env: { ...process.env, REDIS_TOPOLOGY: topology, REDIS_URL: undefined } },
    );
    if (run.status !== 0) failed.push(topology);
  }
  if (failed.length > 0) {
    console.error(`test:redis-topologies: failed on ${failed.join(' and ')}`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
