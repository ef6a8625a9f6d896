import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD } from '../helpers/http.js';
import { passkeyLogin, signUpWithPasskey } from '../helpers/passkey-flows.js';
import type { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import { signedUp } from './harness.js';

/** The one long test: a full minute in CI, shorter on a laptop unless SOAK_SECONDS says otherwise. */
const SECONDS = Number(process.env.SOAK_SECONDS ?? (process.env.CI ? 60 : 20));
const RATE_PER_SECOND = 10;
const MAX_IN_FLIGHT = 40;
const MB = 1024 * 1024;

let gw: TestGateway;
const passwordUsers: { browser: Browser; email: string }[] = [];
const passkeyUsers: { authenticator: SoftAuthenticator }[] = [];

before(async () => {
  const unlimited = '1000000/60';
  gw = await startTestGateway({
    env: {
      RATE_LIMIT_LOGIN: unlimited,
      RATE_LIMIT_REGISTRATION: unlimited,
      RATE_LIMIT_PASSKEY: unlimited,
      RATE_LIMIT_IDENTIFY: unlimited,
    },
  });
  for (let i = 0; i < 3; i++) passwordUsers.push(await signedUp(gw));
  for (let i = 0; i < 2; i++) passkeyUsers.push(await signUpWithPasskey(gw));
});
after(() => gw.close());

const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;

/** One operation of the mix; answers a label and whether it did what it should. */
async function operation(): Promise<[string, boolean]> {
  const roll = Math.random();
  if (roll < 0.15) {
    const user = pick(passwordUsers);
    const res = await new Browser(gw.auth).post('/login/password', {
      identifier: user.email,
      password: STRONG_PASSWORD,
    });
    return ['password login', res.status === 200];
  }
  if (roll < 0.3) {
    const { res } = await passkeyLogin(gw, pick(passkeyUsers).authenticator);
    return ['passkey login', res.status === 200];
  }
  const user = pick(passwordUsers);
  const path = roll < 0.65 ? '/session' : '/verify';
  return [`GET ${path}`, (await user.browser.get(path)).status === 200];
}

describe(`a ${SECONDS}-second steady load`, () => {
  it(
    `serves ${RATE_PER_SECOND} operations a second (logins, passkey ceremonies, session checks) without an error or a leak`,
    { timeout: (SECONDS + 120) * 1000 },
    async (t) => {
      const rssStart = process.memoryUsage().rss;
      const outcomes: string[] = [];
      const failures: string[] = [];
      let inFlight = 0;
      let dropped = 0;
      const running: Promise<void>[] = [];
      const end = Date.now() + SECONDS * 1000;
      for (let next = Date.now(); next < end; next += 1000 / RATE_PER_SECOND) {
        await sleep(Math.max(0, next - Date.now()));
        if (inFlight >= MAX_IN_FLIGHT) {
          dropped++;
          continue;
        }
        inFlight++;
        running.push(
          operation()
            .then(([label, ok]) => void (ok ? outcomes.push(label) : failures.push(label)))
            .catch((err: Error) => void failures.push(`exception: ${err.message}`))
            .finally(() => void inFlight--),
        );
      }
      await Promise.all(running);
      const rssEnd = process.memoryUsage().rss;
      t.diagnostic(
        `operations ${outcomes.length}, dropped ticks ${dropped}; RSS ${Math.round(rssStart / MB)} MB at the start, ` +
          `${Math.round(rssEnd / MB)} MB at the end`,
      );
      const mix: Record<string, number> = {};
      for (const o of outcomes) mix[o] = (mix[o] ?? 0) + 1;
      t.diagnostic(`mix ${JSON.stringify(mix)}`);
      assert.deepEqual(failures, [], 'zero errors');
      assert.ok(outcomes.length >= SECONDS * RATE_PER_SECOND * 0.5, `only ${outcomes.length} operations ran`);
      for (const kind of ['password login', 'passkey login', 'GET /session', 'GET /verify'])
        assert.ok(outcomes.includes(kind), `the mix included ${kind}`);
      assert.ok(rssEnd - rssStart < 100 * MB, `RSS grew by ${Math.round((rssEnd - rssStart) / MB)} MB`);
    },
  );
});
