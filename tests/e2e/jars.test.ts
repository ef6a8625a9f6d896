import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { seedIdentity } from '../helpers/account.js';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { expectState, expectText, openApp, signUpInApp } from '../helpers/web-app.js';

/** The React app's Honey Jars in headless Chromium: what a person does by hand. */

const available = chromiumAvailable();
let demo: Demo | undefined;
before(async () => {
  if (available) demo = await startDemo();
});
after(() => demo?.close());

describe('Honey Jars in the React app', { skip: !available && 'Chromium is not installed' }, () => {
  it('creates a jar, uploads a file that is ciphertext on disk, downloads the plaintext, shares and deletes', async () => {
    const { gw, browser, baseUrl } = demo!;
    const page = await openApp(browser, baseUrl);
    page.on('dialog', (dialog) => void dialog.accept());
    await signUpInApp(page, gw, { email: uniqueEmail('e2e-jars'), password: STRONG_PASSWORD });
    await expectState(page, 'signed-in', 'aal1');
    await expectText(page, 'No jars yet');

    await page.fill('#field-jar-name', 'Tax papers');
    await page.getByRole('button', { name: 'Create jar' }).click();
    const detail = page.locator('#jar-detail');
    await detail.getByRole('heading', { name: 'Tax papers' }).waitFor();
    assert.match((await page.getByRole('list', { name: 'Your jars' }).textContent())!, /Tax papers/);

    const name = `jar-demo-${process.pid}.txt`;
    const plaintext = `secret honey ${'0123456789'.repeat(5000)}`;
    const upload = join(tmpdir(), name);
    await writeFile(upload, plaintext);
    await page.setInputFiles('#jar-file', upload);
    await page.getByRole('button', { name: 'Upload' }).click();
    await expectText(page, `“${name}” is uploaded and encrypted.`);
    const link = detail.getByRole('link', { name });
    const fileId = (await link.getAttribute('data-file-id'))!;
    const onDisk = await readFile(join(gw.deps.config.DATA_DIR, 'files', `${fileId}.bin`));
    assert.ok(onDisk.length > plaintext.length, 'stored with header and tags');
    assert.equal(onDisk.includes(Buffer.from('secret honey')), false, 'no plaintext on disk');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.equal(await readFile((await download.path())!, 'utf8'), plaintext);

    // Sharing asks for a recent sign-in (this one is) and names an existing account.
    const friend = await seedIdentity(gw.kratos);
    await page.fill('#field-grant-identity', friend.id);
    await page.getByRole('button', { name: 'Share' }).click();
    await expectText(page, 'Access granted.');
    await detail.getByRole('list', { name: 'People with access' }).getByText(friend.id).waitFor();
    await page.fill('#field-grant-identity', '00000000-0000-4000-8000-000000000000');
    await page.getByRole('button', { name: 'Share' }).click();
    await expectText(page, 'No identity has this id.');

    await detail.getByTestId('file').getByRole('button', { name: 'Delete' }).click();
    await expectText(page, 'File deleted.');
    await expectText(page, 'No files yet.');
    await detail.getByRole('button', { name: 'Delete this jar' }).click();
    await expectText(page, 'No jars yet');
    await page.context().close();
  });
});
