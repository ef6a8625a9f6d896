import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startTestGateway, type TestGateway } from './gateway.js';
import type { OidcProvider } from './oidc-provider.js';
import { freePort } from './net.js';
import { ensureWebAppBuilt } from './web-app.js';

/** Debian's Chromium, driven by playwright-core (no browser download). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Whether the browser suites can run; in CI a missing browser is a failure, not a skip. */
export function chromiumAvailable(): boolean {
  const available = existsSync(CHROMIUM_PATH);
  if (!available && process.env.CI)
    throw new Error(`Chromium is required in CI and missing at ${CHROMIUM_PATH}`);
  return available;
}

/**
 * Headless Chromium with the flags this sandbox needs: no background networking (the
 * machine has no outside network) and localhost pinned to the loopback address.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP localhost 127.0.0.1',
    ],
  });
}

/** The gateway serving the React app (web/dist) on localhost (the WebAuthn RP id) and a browser to drive it. */
export interface Demo {
  gw: TestGateway;
  browser: Browser;
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the demo; `env` adds configuration (e.g. EMAIL_CODE_LOGIN), `socialProvider` offers
 * social sign-in with that OpenID provider (as `sso`), `sms` an SMS sink.
 */
export async function startDemo(
  env: Record<string, string> = {},
  options: { socialProvider?: OidcProvider; sms?: boolean } = {},
): Promise<Demo> {
  await ensureWebAppBuilt();
  const port = await freePort();
  const baseUrl = `http://localhost:${port}`;
  const gw = await startTestGateway({
    kratosOptions: { publicBaseUrl: baseUrl, socialProvider: options.socialProvider },
    sms: options.sms,
    env: {
      PORT: String(port),
      SERVE_DEMO: 'true',
      PUBLIC_BASE_URL: baseUrl,
      WEBAUTHN_RP_ID: 'localhost',
      WEBAUTHN_ORIGINS: baseUrl,
      ...env,
    },
  });
  const browser = await launchChromium();
  return {
    gw,
    browser,
    baseUrl,
    async close() {
      await browser.close();
      await gw.close();
    },
  };
}
