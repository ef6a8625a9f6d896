import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { signUpOnDemoPage } from '../helpers/account.js';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';
import type { TestGateway } from '../helpers/gateway.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';

/** The demo page's Honey Jars section in headless Chromium: what a person does by hand. */

const available = chromiumAvailable();
let gw: TestGateway;
let browser: Browser;
let baseUrl: string;

let demo: Demo | undefined;
before(async () => {
  if (!available) return;
  demo = await startDemo();
  ({ gw, browser, baseUrl } = demo);
});

after(() => demo?.close());

describe('demo page: Honey Jars', { skip: !available && 'Chromium is not installed' }, () => {
  it('creates a jar, uploads a file that is ciphertext on disk, and downloads the plaintext', async () => {
    const page = await browser.newPage();
    await page.goto(baseUrl);
    await page.waitForFunction(() => 'gatewayDemo' in window);
    await signUpOnDemoPage(page, gw, { email: uniqueEmail('e2e-jars'), password: STRONG_PASSWORD });
    await page.waitForFunction(() => document.getElementById('session-view')?.dataset.aal === 'aal1');

    await page.fill('#jar-create-form input[name=name]', 'Tax papers');
    await page.click('#jar-create-form button[type=submit]');
    await page.waitForSelector('#jar-detail:not([hidden])');
    assert.match((await page.textContent('#jars-list'))!, /Tax papers/);

    const plaintext = `secret honey ${'0123456789'.repeat(5000)}`;
    const upload = join(tmpdir(), `jar-demo-${process.pid}.txt`);
    await writeFile(upload, plaintext);
    await page.setInputFiles('#jar-file', upload);
    await page.click('#jar-upload-form button[type=submit]');
    const link = await page.waitForSelector('#jar-files a');
    assert.equal(await link.textContent(), `jar-demo-${process.pid}.txt`);

    const fileId = (await link.getAttribute('data-file-id'))!;
    const onDisk = await readFile(join(gw.deps.config.DATA_DIR, 'files', `${fileId}.bin`));
    assert.ok(onDisk.length > plaintext.length, 'stored with header and tags');
    assert.equal(onDisk.includes(Buffer.from('secret honey')), false, 'no plaintext on disk');

    const download = await page.evaluate(
      async (href) => (await fetch(href)).text(),
      (await link.getAttribute('href'))!,
    );
    assert.equal(download, plaintext);
    await page.close();
  });
});
