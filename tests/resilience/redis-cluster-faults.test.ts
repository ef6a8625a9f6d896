/**
 * A Redis Cluster node that goes away in the middle of a command. Every node of the cluster
 * is announced to the gateway at a fault proxy; a test arms the proxies to cut the node away
 * at one exact command of a sign-in, a sign-out or a passkey login, either before the node
 * runs it or after (the answer lost), and the node stays away until the test brings it back.
 * Each time the gateway answers 503 with Retry-After, and what Redis holds is never half
 * written: every stored session is named by its identity's index (so "log out everywhere"
 * reaches it), no session cookie goes out with a failure, a sign-out is either done or
 * can be done again, and a consumed passkey challenge is never accepted again (an
 * unconsumed one still works). Once the node is back, the gateway serves sign-ins again
 * by itself.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HSET_EXPIRE } from '../../gateway/src/redis/client.js';
import { storageKey } from '../../gateway/src/session/session-store.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, type ApiResponse } from '../helpers/http.js';
import { seedPasswordUser, signUpWithPasskey } from '../helpers/passkey-flows.js';
import {
  infoFields,
  startCluster,
  until,
  type ClusterTopology,
  type RedisProcess,
} from '../helpers/redis-topologies.js';

let cluster: ClusterTopology;
let gw: TestGateway;
let prefix: string;

before(async () => {
  cluster = await startCluster({ proxied: true });
  gw = await startTestGateway({
    env: {
      REDIS_URL: `${cluster.url}?replica_ack_ms=500`,
      RATE_LIMIT_LOGIN: '100000/60',
      RATE_LIMIT_PASSKEY: '100000/60',
      RATE_LIMIT_REGISTRATION: '1000/60',
    },
  });
  prefix = gw.deps.config.REDIS_KEY_PREFIX;
  // The index write goes by its script's digest (by its text only to a node that lacks it,
  // which redis-client-cache tests): every node holds the script, so a write cut at its
  // EVALSHA is one the node carries out.
  for (const node of cluster.nodes) await node.command('SCRIPT', 'LOAD', HSET_EXPIRE);
});
after(async () => {
  await gw?.close();
  await cluster?.stop();
});
// A failed test leaves no node away for the next one.
afterEach(() => {
  for (const node of cluster.nodes) cluster.proxyOf(node)!.restore();
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A command as it travels (RESP): its name, any arguments before its key (a script's digest), a key starting with `keyStart`. */
const command = (name: string, keyStart: string) =>
  new RegExp(
    `\\$${name.length}\\r\\n${name}\\r\\n(?:\\$\\d+\\r\\n[^\\r]*\\r\\n)*?\\$\\d+\\r\\n${escape(prefix + keyStart)}`,
    'i',
  );

/**
 * Runs `action` with every node's proxy armed to cut its node away at the first command
 * matching `match`; answers the action's answer and the node that went away.
 */
async function nodeGoneDuring<T>(
  match: RegExp,
  when: 'before' | 'after',
  action: () => Promise<ApiResponse<T>>,
): Promise<{ res: ApiResponse<T>; gone: RedisProcess }> {
  const proxies = cluster.nodes.map((node) => ({ node, proxy: cluster.proxyOf(node)! }));
  const fired = Promise.race(proxies.map(({ node, proxy }) => proxy.failOn(match, when).then(() => node)));
  const res = await action();
  const gone = await Promise.race([fired, sleep(2000).then(() => undefined)]);
  for (const { proxy } of proxies) proxy.disarm();
  assert.ok(gone, `no command matched ${match}`);
  return { res, gone };
}

/** The node comes back; the gateway signs people in again by itself. */
async function bringBack(node: RedisProcess, email: string) {
  cluster.proxyOf(node)!.restore();
  await until(
    'sign-ins served again',
    async () =>
      (await new Browser(gw.auth).post('/login/password', { identifier: email, password: STRONG_PASSWORD }))
        .status === 200,
    30_000,
  );
}

function assertUnavailable(res: ApiResponse) {
  assert.equal(res.status, 503, JSON.stringify(res.body));
  assert.match(res.body.error.code, /unavailable/);
  assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After says when to try again');
  assert.equal(
    res.headers
      .getSetCookie()
      .filter((c) => c.startsWith('gw_session=') && !/expires=Thu, 01 Jan 1970/i.test(c)).length,
    0,
    'no session cookie goes out with a failure',
  );
}

/** Every key of this gateway matching `pattern`, read from every master (not through the proxies). */
async function keysOnMasters(pattern: string): Promise<string[]> {
  const keys: string[] = [];
  for (const node of cluster.nodes) {
    if (infoFields(await node.command('INFO', 'replication')).role !== 'master') continue;
    keys.push(...((await node.command('KEYS', `${prefix}${pattern}`)) as string[]));
  }
  return keys;
}

/** Redis holds no signed-in session that its identity's index does not name. */
async function assertEverySessionIndexed() {
  for (const key of await keysOnMasters('sess:*')) {
    const raw = (await (await cluster.masterOf(key)).command('GET', key)) as string | null;
    const auth = raw && (JSON.parse(raw) as { auth?: { identityId: string; handle: string } }).auth;
    if (!auth) continue;
    const index = `${prefix}idx:{${auth.identityId}}`;
    const named = await (await cluster.masterOf(index)).command('HGET', index, auth.handle);
    assert.equal(named, key.slice(`${prefix}sess:`.length), `session ${key} is in its identity's index`);
  }
}

const signIn = (browser: Browser, email: string) =>
  browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });

describe('a cluster node gone in the middle of a command', () => {
  for (const [name, keyCommand, when] of [
    ['writing the index entry, before the node runs it', ['EVALSHA', 'idx:{'], 'before'],
    ['writing the index entry, its answer lost', ['EVALSHA', 'idx:{'], 'after'],
    ['writing the session, before the node runs it', ['SET', 'sess:'], 'before'],
    ['writing the session, its answer lost', ['SET', 'sess:'], 'after'],
  ] as const) {
    it(`fails a password sign-in with 503 and leaves nothing half written: ${name}`, async () => {
      const { email, identityId } = await seedPasswordUser(gw);
      const browser = new Browser(gw.auth);
      const { res, gone } = await nodeGoneDuring(command(keyCommand[0], keyCommand[1]), when, () =>
        signIn(browser, email),
      );
      assertUnavailable(res);
      await assertEverySessionIndexed();
      await bringBack(gone, email);
      await assertEverySessionIndexed();
      assert.equal(
        (await browser.get('/session')).status,
        401,
        'the failed sign-in left the browser signed out',
      );
      // Whatever the failed sign-in left behind is reached by "log out everywhere".
      const other = new Browser(gw.auth);
      assert.equal((await signIn(other, email)).status, 200);
      assert.equal((await other.post('/logout/all')).status, 204);
      for (const key of await keysOnMasters('sess:*')) {
        const raw = (await (await cluster.masterOf(key)).command('GET', key)) as string | null;
        assert.ok(
          !raw?.includes(identityId),
          `no session of the identity survives log out everywhere: ${key}`,
        );
      }
    });
  }

  for (const when of ['before', 'after'] as const) {
    it(`fails a sign-out with 503 and keeps the session either whole or gone (${when} the DEL)`, async () => {
      const { email } = await seedPasswordUser(gw);
      const browser = new Browser(gw.auth);
      assert.equal((await signIn(browser, email)).status, 200);
      const sessionKey = `${prefix}sess:${storageKey(browser.cookies.get('gw_session')!)}`;
      const { res, gone } = await nodeGoneDuring(command('DEL', 'sess:'), when, () =>
        browser.post('/logout'),
      );
      assertUnavailable(res);
      await bringBack(gone, email);
      await assertEverySessionIndexed();
      const stored = await (await cluster.masterOf(sessionKey)).command('EXISTS', sessionKey);
      if (when === 'after') {
        assert.equal(stored, 0, 'the node ran the DEL: the session is gone');
        assert.equal((await browser.get('/session')).status, 401);
      } else {
        assert.equal(stored, 1, 'the node never saw the DEL: the session is whole, and indexed');
        // Signing out again finishes the job.
        assert.equal((await browser.post('/logout')).status, 204);
        assert.equal(await (await cluster.masterOf(sessionKey)).command('EXISTS', sessionKey), 0);
      }
    });
  }

  it('fails a passkey sign-in with 503 when the challenge node goes away: unconsumed, it still works', async () => {
    const user = await signUpWithPasskey(gw);
    const browser = new Browser(gw.auth);
    const options = await browser.post('/login/passkey/options', {});
    assert.equal(options.status, 200);
    const credential = user.authenticator.authenticate(options.body);
    const { res, gone } = await nodeGoneDuring(command('GETDEL', 'webauthn:'), 'before', () =>
      browser.post('/login/passkey', { credential }),
    );
    assertUnavailable(res);
    await bringBack(gone, (await seedPasswordUser(gw)).email);
    await assertEverySessionIndexed();
    // The node never ran GETDEL: the same assertion signs in once, and only once.
    assert.equal((await browser.post('/login/passkey', { credential })).status, 200);
    assert.equal((await browser.get('/session')).status, 200);
    const replay = await new Browser(gw.auth).post('/login/passkey', { credential });
    assert.equal(replay.status, 400);
  });

  it('fails a passkey sign-in with 503 after the challenge was consumed: it is never accepted again', async () => {
    const user = await signUpWithPasskey(gw);
    for (const match of [command('GETDEL', 'webauthn:'), command('SET', 'sess:')]) {
      const browser = new Browser(gw.auth);
      const options = await browser.post('/login/passkey/options', {});
      assert.equal(options.status, 200);
      const credential = user.authenticator.authenticate(options.body);
      const { res, gone } = await nodeGoneDuring(match, 'after', () =>
        browser.post('/login/passkey', { credential }),
      );
      assertUnavailable(res);
      await bringBack(gone, (await seedPasswordUser(gw)).email);
      await assertEverySessionIndexed();
      const again = await browser.post('/login/passkey', { credential });
      assert.equal(again.status, 400, `${match}: a consumed challenge is refused`);
      assert.equal(again.body.error.code, 'passkey_challenge_invalid');
      // The browser starts over with a new challenge, and signs in.
      const retry = await browser.post('/login/passkey/options', {});
      const fresh = user.authenticator.authenticate(retry.body);
      assert.equal((await browser.post('/login/passkey', { credential: fresh })).status, 200);
    }
  });
});
