import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CDPSession, Page } from 'playwright-core';
import { signUpCode } from './account.js';
import type { TestGateway } from './gateway.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const INDEX = join(root, 'web/dist/index.html');
const SOURCES = ['web/src', 'web/index.html', 'web/vite.config.ts', 'clients/typescript/src'];

function newestSource(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestSource(join(path, name))));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Builds the React app (web/dist) when it is missing or older than its sources, as
 * `npm run build:web` does; suites running side by side build it once, behind a lock.
 */
export async function ensureWebAppBuilt(): Promise<void> {
  const fresh = () =>
    existsSync(INDEX) &&
    statSync(INDEX).mtimeMs >= Math.max(...SOURCES.map((s) => newestSource(join(root, s))));
  const lock = join(root, 'web/.build-lock');
  for (let waited = 0; !fresh(); waited += 250) {
    try {
      mkdirSync(lock);
    } catch {
      // A lock older than a build can take was left by a run that died: take it over.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000)
        rmSync(lock, { recursive: true, force: true });
      assert.ok(waited < 180_000, 'another suite has been building the React app for three minutes');
      await sleep(250);
      continue;
    }
    try {
      if (fresh()) return;
      for (const [cmd, cwd] of [
        [['node_modules/typescript/bin/tsc', '-p', 'clients/typescript'], root],
        [[join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], join(root, 'web')],
      ] as const) {
        const built = spawnSync(process.execPath, cmd, { cwd, encoding: 'utf8' });
        assert.equal(built.status, 0, `${cmd.join(' ')} failed:\n${built.stdout}${built.stderr}`);
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

export interface VirtualAuthenticator {
  cdp: CDPSession;
  id: string;
}

/** Adds a DevTools virtual platform authenticator to the page (resident keys, optional UV). */
export async function addAuthenticator(page: Page, userVerification = true): Promise<VirtualAuthenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: userVerification,
      isUserVerified: userVerification,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

/**
 * Whether the authenticator answers by itself. Off while typing into the e-mail field of a page
 * whose authenticator holds a passkey: focusing the field would start the passkey autofill.
 */
export async function setPresence(a: VirtualAuthenticator, enabled: boolean): Promise<void> {
  await a.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: a.id, enabled });
}

export async function removeAuthenticator(a: VirtualAuthenticator): Promise<void> {
  await a.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: a.id });
}

/** What the page shows, for failure messages. */
const pageState = (page: Page) =>
  page.evaluate(() => ({
    state: document.querySelector('.app')?.getAttribute('data-state'),
    aal: document.querySelector('.app')?.getAttribute('data-aal'),
    alerts: Array.from(document.querySelectorAll('[role=alert], [role=status]'), (e) => e.textContent),
    heading: document.querySelector('h2')?.textContent,
  }));

/** Waits for the app's session state (`signed-in`, `signed-out`, `second-factor`), and an AAL when given. */
export async function expectState(page: Page, state: string, aal?: string): Promise<void> {
  const selector = `.app[data-state="${state}"]${aal ? `[data-aal="${aal}"]` : ''}`;
  try {
    await page.waitForSelector(selector, { timeout: 20_000 });
  } catch (err) {
    assert.fail(`expected ${selector}: ${JSON.stringify(await pageState(page))} (${String(err)})`);
  }
}

/** Waits until the page shows `text` (an alert, a status, any text). */
export async function expectText(page: Page, text: string | RegExp): Promise<void> {
  try {
    await page.getByText(text).first().waitFor({ timeout: 20_000 });
  } catch (err) {
    assert.fail(`expected "${text}" on the page: ${JSON.stringify(await pageState(page))} (${String(err)})`);
  }
}

const cspViolations = new WeakMap<Page, string[]>();

/** What the browser refused under the gateway's Content-Security-Policy on this page so far. */
export const cspViolationsOf = (page: Page): string[] => cspViolations.get(page) ?? [];

declare global {
  interface Window {
    /** When the page last asked the browser for a passkey by autofill (conditional mediation), as Date.now(). */
    conditionalRequestAt?: number;
  }
}

/**
 * Runs in every page before the app: notes when the app hands the browser an autofill request
 * (the request itself goes on unchanged), so that a test can wait until one is pending.
 */
function noteConditionalRequests() {
  // Only secure contexts have it (not the first blank page).
  if (!('credentials' in navigator)) return;
  const get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = (options?: CredentialRequestOptions) => {
    if (options?.mediation === 'conditional') window.conditionalRequestAt = Date.now();
    return get(options);
  };
}

/** A fresh browser context on the app, once it knows whether someone is signed in. */
export async function openApp(
  browser: import('playwright-core').Browser,
  baseUrl: string,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<Page> {
  const context = await browser.newContext(options.viewport ? { viewport: options.viewport } : {});
  await context.addInitScript(noteConditionalRequests);
  const page = await context.newPage();
  const violations: string[] = [];
  cspViolations.set(page, violations);
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(baseUrl);
  await page.waitForSelector('.app:not([data-state="loading"])');
  return page;
}

/** GET /api/auth<path> from the page, with its cookies. */
export function fetchFromPage(page: Page, path: string) {
  return page.evaluate(async (p) => {
    const res = await fetch(`/api/auth${p}`);
    return { status: res.status, body: await res.json().catch(() => null) };
  }, path);
}

export const session = (page: Page) => fetchFromPage(page, '/session');

/** Signs up in the app as a person does: the form, then the code from the mail. */
export async function signUpInApp(
  page: Page,
  gw: TestGateway,
  input: { email: string; password?: string },
): Promise<void> {
  assert.ok(gw.mail, 'signUpInApp needs the mail sink of the test gateway');
  const address = input.email.trim().toLowerCase();
  const seen = gw.mail.to(address).length;
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.fill('#field-email', input.email);
  if (input.password) {
    await page.getByLabel('With a password').check();
    await page.fill('#field-new-password', input.password);
  }
  await page.getByRole('button', { name: 'Send me a code' }).click();
  const code = signUpCode((await gw.mail.waitFor(address, seen)).raw);
  assert.ok(code, `the sign-up mail to ${address} carries no code (is the address taken?)`);
  await page.fill('#field-signup-code', code);
  await page.getByRole('button', { name: 'Create account' }).click();
}

/**
 * A passwordless sign-up, finished with its first passkey (the page needs an authenticator);
 * `aal` is the level the session should reach (aal2 with a user-verifying authenticator, `any` not to check).
 */
export async function signUpWithPasskey(
  page: Page,
  gw: TestGateway,
  email: string,
  aal: 'aal1' | 'aal2' | 'any' = 'aal2',
): Promise<void> {
  await signUpInApp(page, gw, { email });
  await expectText(page, 'One more step: add your passkey');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  // The session is signed in all along; the app's sections appear once the passkey is registered.
  await page.getByRole('navigation', { name: 'Sections' }).waitFor();
  await expectState(page, 'signed-in', aal === 'any' ? undefined : aal);
}

/** Names the account, then signs in with its password. */
export async function signInWithPassword(page: Page, email: string, password: string): Promise<void> {
  await page.fill('#field-identifier', email);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.fill('#field-password', password);
  await page.getByRole('button', { name: 'Sign in with password' }).click();
}

export async function signOut(page: Page): Promise<void> {
  await page.locator('header').getByRole('button', { name: 'Sign out' }).click();
  await expectState(page, 'signed-out');
}

/**
 * Signs out without letting the sign-in page's passkey autofill sign straight back in: the
 * authenticator stops answering first. Where the browser offers autofill, the sign-in page asks
 * for options at once, and that answer sets the browser's pre-session cookie; waiting for it
 * keeps the next step (a reload, another ceremony) from racing it.
 */
export async function signOutQuietly(page: Page, authenticator: VirtualAuthenticator): Promise<void> {
  await setPresence(authenticator, false);
  await afterAutofillStarts(page, () => signOut(page));
}

/**
 * Runs `step`, which shows the sign-in page, and waits for that page's autofill options answer
 * and then for its autofill request to be with the browser: an authenticator that answers
 * from then on does not answer it.
 */
export async function afterAutofillStarts(page: Page, step: () => Promise<void>): Promise<void> {
  const autofills = await page.evaluate(
    async () => (await PublicKeyCredential.isConditionalMediationAvailable?.()) ?? false,
  );
  const autofill =
    autofills &&
    page.waitForResponse(
      (res) => res.url().endsWith('/api/auth/login/passkey/options') && res.request().method() === 'POST',
    );
  const since = Date.now();
  await step();
  if (!autofill) return;
  await autofill;
  await page.waitForFunction((t) => (window.conditionalRequestAt ?? 0) >= t, since);
}

/**
 * A returning visitor whose authenticator answers the sign-in page's autofill: the signed-out
 * page is left first, so its own pending autofill request cannot answer once the authenticator
 * does, then the app is opened again.
 */
export async function returnWithAutofill(
  page: Page,
  authenticator: VirtualAuthenticator,
  baseUrl: string,
): Promise<void> {
  await page.goto('about:blank');
  await setPresence(authenticator, true);
  await page.goto(baseUrl);
}

export async function openTab(page: Page, name: 'Honey Jars' | 'Security' | 'Devices' | 'Profile') {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name }).click();
}
