/**
 * What every gateway benchmark starts from: the gateway in its own process against the
 * run's private Redis, the Kratos double's process and a database, and a password user
 * signed in through the gateway.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { RedisTopology } from '../../tests/helpers/redis-topologies.js';
import { forkChild, type KratosProcess, type PrivateRedis, type Running } from './processes.js';

export const ORIGIN = 'http://localhost:3000';
export const PASSWORD = 'correct-horse-battery-staple-42';

export interface Stack {
  redis: PrivateRedis;
  kratos: KratosProcess;
  /** A throwaway Postgres database; without one the gateway runs an in-memory PGlite. */
  databaseUrl?: string;
  tmp: string;
}

/** A Sentinel set or a Cluster as the stack's Redis (its URL is all the gateway needs). */
export const topologyAsRedis = (topology: RedisTopology): PrivateRedis => ({
  url: topology.url,
  port: 0,
  stop: () => topology.stop(),
});

/**
 * The gateway's environment: the default configuration (log level included) on the run's
 * services, with the per-IP login and passkey limits raised, since every benchmark request
 * comes from 127.0.0.1 (the limiters still count every request in Redis).
 */
export function gatewayEnv(stack: Stack, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    SESSION_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    REDIS_URL: stack.redis.url,
    KRATOS_PUBLIC_URL: stack.kratos.publicUrl,
    KRATOS_ADMIN_URL: stack.kratos.adminUrl,
    ...(stack.databaseUrl ? { DATABASE_URL: stack.databaseUrl } : { PGLITE_DIR: 'memory' }),
    DATA_DIR: join(stack.tmp, randomBytes(4).toString('hex')),
    RATE_LIMIT_REGISTRATION: '100000/60',
    RATE_LIMIT_LOGIN: '100000/60',
    RATE_LIMIT_PASSKEY: '100000/60',
    ...extra,
  };
}

/** A gateway process; its log lines go to a file in the run's temporary folder. */
export function startGateway(stack: Stack, extra: Record<string, string> = {}, cpuProfileDir?: string) {
  const logFile = join(stack.tmp, `gateway-${randomBytes(4).toString('hex')}.log`);
  return forkChild('scripts/bench/gateway-child.ts', gatewayEnv(stack, extra), { cpuProfileDir, logFile });
}

/** The `name=value` pairs of Set-Cookie lines, added to (or, when cleared, removed from) `jar`. */
export function rememberCookies(jar: Map<string, string>, setCookies: string[]): Map<string, string> {
  for (const line of setCookies) {
    const [pair, ...attributes] = line.split(';');
    const eq = pair!.indexOf('=');
    if (eq <= 0) continue;
    const name = pair!.slice(0, eq).trim();
    const value = pair!.slice(eq + 1).trim();
    const cleared =
      value === '' ||
      attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a) || /expires=Thu, 01 Jan 1970/i.test(a));
    if (cleared) jar.delete(name);
    else jar.set(name, value);
  }
  return jar;
}

/** The Cookie header a browser would send with `jar`. */
export const cookieHeader = (jar: Map<string, string>) =>
  [...jar].map(([name, value]) => `${name}=${value}`).join('; ');

export interface SignedIn {
  email: string;
  /** Every cookie the sign-in left (the session cookie among them). */
  jar: Map<string, string>;
  /** The session cookie alone, as `gw_session=<id>`. */
  cookie: string;
  sessionBody: string;
  verifyHeaders: Record<string, string>;
}

/** An identity with a password and a verified address at Kratos (its admin API); answers its address. */
export async function createIdentity(kratos: KratosProcess, label: string): Promise<string> {
  const email = `${label}.${randomBytes(6).toString('hex')}@example.com`;
  const created = await fetch(`${kratos.adminUrl}/admin/identities`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      schema_id: 'default',
      traits: { email },
      credentials: { password: { config: { password: PASSWORD } } },
      verifiable_addresses: [{ value: email, verified: true, via: 'email', status: 'completed' }],
    }),
  });
  if (created.status !== 201)
    throw new Error(`identity not created: ${created.status} ${await created.text()}`);
  return email;
}

/**
 * A password user, created at Kratos (its admin API) and signed in through the gateway's
 * password login: its warm session.
 */
export async function signUp(gateway: Running, kratos: KratosProcess, warmChecks = 100): Promise<SignedIn> {
  const email = await createIdentity(kratos, 'bench');
  const res = await fetch(`${gateway.url}/api/auth/login/password`, {
    method: 'POST',
    headers: { Origin: ORIGIN, 'X-CSRF': '1', 'Content-Type': 'application/json' },
    body: JSON.stringify({ identifier: email, password: PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const jar = rememberCookies(new Map(), res.headers.getSetCookie());
  const sessionId = jar.get('gw_session');
  if (!sessionId) throw new Error('the password login set no gw_session cookie');
  const cookie = `gw_session=${sessionId}`;
  const session = await fetch(`${gateway.url}/api/auth/session`, { headers: { Cookie: cookie } });
  const verify = await fetch(`${gateway.url}/api/auth/verify`, { headers: { Cookie: cookie } });
  if (session.status !== 200 || verify.status !== 200) throw new Error('the new session does not check');
  // Warm the code paths (JIT, connection pools) before anything is measured.
  for (let i = 0; i < warmChecks; i++)
    await (await fetch(`${gateway.url}/api/auth/session`, { headers: { Cookie: cookie } })).arrayBuffer();
  const verifyHeaders = Object.fromEntries(
    ['x-user-id', 'x-user-email', 'x-user-roles', 'x-auth-aal', 'cache-control'].map((h) => [
      h,
      verify.headers.get(h) ?? '',
    ]),
  );
  return { email, jar, cookie, sessionBody: await session.text(), verifyHeaders };
}
