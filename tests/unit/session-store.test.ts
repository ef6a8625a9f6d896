import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Request, Response } from 'express';
import { connectRedis, memoryKv, type Kv } from '../../gateway/src/redis/client.js';
import {
  createSessionStore,
  SESSION_COOKIE,
  sessionLoader,
  storageKey,
} from '../../gateway/src/session/session-store.js';
import type { GatewayAuth } from '../../gateway/src/session/session-data.js';

/** What the session layer asks of Express' response: the cookies it sets and clears. */
function response() {
  const cookies = new Map<string, string | undefined>();
  const res = {
    cookie: (name: string, value: string) => void cookies.set(name, value),
    clearCookie: (name: string) => void cookies.set(name, undefined),
  };
  return { res: res as unknown as Response, cookies };
}

const request = (cookie?: string) =>
  ({ headers: cookie ? { cookie: `${SESSION_COOKIE}=${cookie}` } : {} }) as unknown as Request;

const auth = (now: number): GatewayAuth => ({
  handle: 'g_test',
  identityId: 'id-1',
  kind: 'password',
  methods: [],
  createdAt: now,
  authenticatedAt: now,
  lastSeenAt: now,
  expiresAt: now + 3_600_000,
  secondFactorsAtSignIn: [],
});

for (const [name, connect] of [
  ['memory', async () => memoryKv()],
  [
    'Redis',
    () =>
      connectRedis(
        process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        `sst${randomBytes(4).toString('hex')}:`,
        () => undefined,
      ),
  ],
] as const) {
  describe(`the session layer (${name})`, () => {
    let kv: Kv;
    let ctx: Parameters<typeof sessionLoader>[0];
    before(async () => {
      kv = await connect();
      ctx = {
        store: createSessionStore(kv),
        config: { https: true, SESSION_ABSOLUTE_LIFETIME_SECONDS: 86_400 },
        clock: () => new Date(),
        random: (n) => randomBytes(n),
      };
    });
    after(() => kv.close());

    /** A request with `cookie` (none: a first visit) through the session loader, and the cookies it sets. */
    async function loaded(cookie?: string) {
      const { res, cookies } = response();
      const req = request(cookie);
      await sessionLoader(ctx)(req, res);
      return { req, cookies };
    }

    async function signedIn() {
      const { req, cookies } = await loaded();
      req.session.auth = auth(Date.now());
      await req.session.save();
      return cookies.get(SESSION_COOKIE)!;
    }

    it('gives a new session a random 256-bit id and stores it under its digest only', async () => {
      const cookie = await signedIn();
      assert.match(cookie, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(await kv.get(`sess:${cookie}`), null);
      assert.ok(await kv.get(`sess:${storageKey(cookie)}`));
    });

    it('ignores a cookie it did not issue, and never adopts its id', async () => {
      const forged = randomBytes(32).toString('base64url');
      const { req, cookies } = await loaded(forged);
      assert.equal(req.session.auth, undefined);
      req.session.preId = 'p';
      await req.session.save();
      assert.notEqual(cookies.get(SESSION_COOKIE), forged);
      assert.equal(await kv.get(`sess:${storageKey(forged)}`), null);
    });

    it('does not bring back a session that a concurrent request ended', async () => {
      const cookie = await signedIn();
      const { req: late } = await loaded(cookie);
      const { req: ending } = await loaded(cookie);
      await ending.session.destroy();
      late.session.auth!.lastSeenAt = Date.now();
      await late.session.save();
      assert.equal(await kv.get(`sess:${storageKey(cookie)}`), null);
      const { req: again } = await loaded(cookie);
      assert.equal(again.session.auth, undefined);
    });

    it('moves a session to a fresh id on regenerate, and the old id is gone', async () => {
      const cookie = await signedIn();
      const { req, cookies } = await loaded(cookie);
      let oldGoneBeforeIndex: boolean | undefined;
      await req.session.regenerate(
        async () => {
          oldGoneBeforeIndex = (await kv.get(`sess:${storageKey(cookie)}`)) === null;
        },
        { oldIndexed: true },
      );
      const fresh = cookies.get(SESSION_COOKIE)!;
      assert.notEqual(fresh, cookie);
      assert.equal(
        oldGoneBeforeIndex,
        true,
        'an indexed session is deleted before the index names the new one',
      );
      assert.equal(await kv.get(`sess:${storageKey(cookie)}`), null);
      assert.equal(JSON.parse((await kv.get(`sess:${storageKey(fresh)}`))!).auth.handle, 'g_test');
    });

    it('writes no new session and sends no cookie when the index write fails on regenerate', async () => {
      const cookie = await signedIn();
      const { req, cookies } = await loaded(cookie);
      let newKey: string | undefined;
      await assert.rejects(
        req.session.regenerate(
          async (key) => {
            newKey = key;
            throw new Error('index unavailable');
          },
          { oldIndexed: false },
        ),
        /index unavailable/,
      );
      assert.equal(cookies.get(SESSION_COOKIE), undefined);
      assert.equal(await kv.get(`sess:${newKey!}`), null);
    });

    it("gives each request its own copy: one request's change is not another's", async () => {
      const cookie = await signedIn();
      const { req: first } = await loaded(cookie);
      first.session.auth!.enrolledHere = ['totp'];
      const { req: second } = await loaded(cookie);
      assert.deepEqual(second.session.auth!.enrolledHere, undefined);
    });
  });
}
