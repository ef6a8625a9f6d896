/**
 * Passkey login verifications per second through the gateway (POST /api/auth/login/passkey:
 * challenge lookup in Redis, credential lookup and counter update in Postgres, signature
 * verification, a new session and an audit event) against raw
 * `verifyAuthenticationResponse` calls on the same machine in the same run. Writes
 * bench-results/passkey.json (BENCH_RESULTS_DIR overrides the directory).
 *
 * The gateway runs in this process, like in the component tests: the client's requests
 * share its CPU, so the ratio is a floor. BENCH_QUICK=1 shrinks the run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAuthenticationResponse, type AuthenticationResponseJSON } from '@simplewebauthn/server';
import pg from 'pg';
import { startTestGateway } from '../../tests/helpers/gateway.js';
import { Browser } from '../../tests/helpers/http.js';
import { signUpWithPasskey } from '../../tests/helpers/passkey-flows.js';
import { SoftAuthenticator } from '../../tests/helpers/soft-authenticator.js';
import { postgresBaseUrl, root, startPrivateRedis, type PrivateRedis } from './processes.js';

const QUICK = process.env.BENCH_QUICK === '1';
const LOGINS = QUICK ? 200 : 600;
const CONCURRENCY = 16;
const ORIGIN = 'http://localhost:3000';
const log = (message: string) => console.log(`bench(passkey): ${message}`);

/** Runs `task(i)` for i < n with `concurrency` in flight; answers the rate per second. */
async function ratePerSecond(n: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { count: n, seconds, perSecond: n / seconds };
}

/** Redis and Postgres for the run: the given ones, else a private redis-server and the local Postgres. */
async function prepareServices(): Promise<PrivateRedis | undefined> {
  if (!process.env.DATABASE_URL) {
    const probe = new pg.Client({ connectionString: postgresBaseUrl(), connectionTimeoutMillis: 3000 });
    try {
      await probe.connect();
      await probe.end();
      process.env.DATABASE_URL = postgresBaseUrl();
    } catch {
      log('no Postgres server reachable: using the embedded PGlite');
    }
  }
  if (process.env.REDIS_URL) return undefined;
  const redis = await startPrivateRedis();
  process.env.REDIS_URL = redis.url;
  return redis;
}

/** Each login in its own browser: options fetched and signed before the clock starts. */
async function prepareLogins(auth: string, authenticator: SoftAuthenticator, n: number) {
  const logins: { browser: Browser; credential: AuthenticationResponseJSON }[] = [];
  for (let i = 0; i < n; i++) {
    const browser = new Browser(auth, ORIGIN);
    const options = await browser.post('/login/passkey/options', {});
    logins.push({ browser, credential: authenticator.authenticate(options.body) });
  }
  return logins;
}

async function main() {
  const redis = await prepareServices();
  const gw = await startTestGateway({ env: { LOG_LEVEL: 'error' } });
  try {
    // Counter 0 (as synced passkeys report it) lets concurrent logins of one passkey all pass.
    const authenticator = new SoftAuthenticator({ counterStep: 0 });
    const { identityId } = await signUpWithPasskey(gw, authenticator);
    const passkey = (
      await gw.deps.db.query<{ public_key: Uint8Array }>(
        'SELECT public_key FROM passkey_credentials WHERE identity_id = $1',
        [identityId],
      )
    ).rows[0]!;
    const credential = {
      id: [...authenticator.credentials.keys()][0]!,
      publicKey: new Uint8Array(passkey.public_key),
      counter: 0,
    };

    log(`preparing ${LOGINS} signed logins`);
    const logins = await prepareLogins(gw.auth, authenticator, LOGINS);
    const raws = logins.map((l) => ({
      response: l.credential,
      challenge: JSON.parse(Buffer.from(l.credential.response.clientDataJSON, 'base64url').toString())
        .challenge,
    }));

    log('raw verifyAuthenticationResponse');
    const raw = await ratePerSecond(LOGINS, CONCURRENCY, async (i) => {
      const result = await verifyAuthenticationResponse({
        response: raws[i]!.response,
        expectedChallenge: raws[i]!.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: 'localhost',
        credential,
      });
      if (!result.verified) throw new Error('raw verification failed');
    });

    log('POST /api/auth/login/passkey');
    const gateway = await ratePerSecond(LOGINS, CONCURRENCY, async (i) => {
      const res = await logins[i]!.browser.post('/login/passkey', { credential: logins[i]!.credential });
      if (res.status !== 200) throw new Error(`login answered ${res.status}: ${JSON.stringify(res.body)}`);
    });

    const ratio = gateway.perSecond / raw.perSecond;
    const results = {
      logins: LOGINS,
      concurrency: CONCURRENCY,
      database: gw.deps.db.engine,
      rawVerificationsPerSecond: raw.perSecond,
      gatewayLoginsPerSecond: gateway.perSecond,
      ratio,
      markdown: [
        `| Path | Verifications/s |`,
        `| --- | --- |`,
        `| raw \`verifyAuthenticationResponse\` | ${raw.perSecond.toFixed(0)} |`,
        `| gateway \`POST /api/auth/login/passkey\` (${gw.deps.db.engine}) | ${gateway.perSecond.toFixed(0)} |`,
        '',
        `Ratio gateway / raw: **${(ratio * 100).toFixed(1)}%** (${LOGINS} logins, ${CONCURRENCY} in flight; ` +
          'a gateway login also reads and deletes the challenge in Redis, reads and updates the credential ' +
          'in Postgres, writes a session and appends a hash-chained audit event; client and gateway share ' +
          'one process).',
      ].join('\n'),
    };
    const dir = process.env.BENCH_RESULTS_DIR ?? join(root, 'bench-results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'passkey.json'), `${JSON.stringify(results, null, 2)}\n`);
    log(
      `raw ${raw.perSecond.toFixed(0)}/s, gateway ${gateway.perSecond.toFixed(0)}/s, ratio ${ratio.toFixed(3)}`,
    );
  } finally {
    await gw.close();
    await redis?.stop();
  }
}

await main();
