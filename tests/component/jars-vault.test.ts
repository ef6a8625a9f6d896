import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { registerAccount } from '../helpers/account.js';
import { startGatewayWithVault, type TestGateway, type VaultUnderTest } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';

let vault: VaultUnderTest;
let gw: TestGateway;

let close: () => Promise<void>;

before(async () => {
  ({ gw, vault, close } = await startGatewayWithVault({
    VAULT_TIMEOUT_MS: '500',
    RATE_LIMIT_REGISTRATION: '100/60',
  }));
});
after(() => close());
beforeEach(async () => {
  await vault.unseal();
  await vault.setDown(false);
});

async function signUpWithJar() {
  const browser = new Browser(`${gw.url}/api`);
  const res = await registerAccount(gw, browser, { email: uniqueEmail('vault'), password: STRONG_PASSWORD });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const jar = await browser.post('/jars', { name: 'Jar' });
  return { browser, jarId: jar.body.id as string };
}

const upload = (browser: Browser, jarId: string, body: Buffer) =>
  browser.request('POST', `/jars/${jarId}/files?name=f.bin`, {
    body,
    headers: { 'Content-Type': 'application/octet-stream' },
  });

async function download(browser: Browser, jarId: string, fileId: string) {
  const res = await fetch(`${gw.url}/api/jars/${jarId}/files/${fileId}`, {
    headers: { Cookie: browser.cookieHeader() },
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

const storedBodies = async () =>
  (await readdir(join(gw.deps.config.DATA_DIR, 'files')).catch(() => [])).filter((f) => f.endsWith('.bin'));
const tempBodies = async () =>
  (await readdir(join(gw.deps.config.DATA_DIR, 'files', 'tmp')).catch(() => [])).length;
const fileRows = async () =>
  Number((await gw.deps.db.query('SELECT count(*)::int AS n FROM jar_files')).rows[0]?.n);

describe('Honey Jars with Vault transit keys', () => {
  it('wraps each data key with transit under the owner context and reads the file back', async () => {
    const { browser, jarId } = await signUpWithJar();
    const plain = randomBytes(100_000);
    const res = await upload(browser, jarId, plain);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const row = await gw.deps.db.query<{ wrapped_key: string }>(
      'SELECT wrapped_key FROM jar_files WHERE id = $1',
      [res.body.id],
    );
    assert.match(row.rows[0]?.wrapped_key ?? '', /^vault:v1:/);
    assert.deepEqual((await download(browser, jarId, res.body.id)).body, plain);
  });

  it('answers 503 keys_unavailable while Vault is sealed and leaves no body, temp file or row', async () => {
    const { browser, jarId } = await signUpWithJar();
    const [rowsBefore, bodiesBefore] = [await fileRows(), (await storedBodies()).length];
    await vault.seal();
    const res = await upload(browser, jarId, randomBytes(300_000));
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'keys_unavailable');
    assert.equal(await fileRows(), rowsBefore);
    assert.equal((await storedBodies()).length, bodiesBefore);
    assert.equal(await tempBodies(), 0);
  });

  it('answers 503 for a download while Vault is down, and serves it again once Vault is back', async () => {
    const { browser, jarId } = await signUpWithJar();
    const file = (await upload(browser, jarId, Buffer.from('hello'))).body;
    await vault.setDown(true, 'close');
    const refused = await fetch(`${gw.url}/api/jars/${jarId}/files/${file.id}`, {
      headers: { Cookie: browser.cookieHeader() },
    });
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'keys_unavailable');
    await vault.setDown(false);
    assert.deepEqual((await download(browser, jarId, file.id)).body, Buffer.from('hello'));
  });

  it("refuses to decrypt a file whose row was moved to another user's context", async () => {
    const { browser, jarId } = await signUpWithJar();
    const file = (await upload(browser, jarId, Buffer.from('mine'))).body;
    await gw.deps.db.query("UPDATE jar_files SET key_owner_id = 'someone-else' WHERE id = $1", [file.id]);
    const res = await download(browser, jarId, file.id);
    assert.equal(res.status, 500);
    assert.ok(!res.body.includes(Buffer.from('mine')));
  });

  it('leaves no body behind when the jar is deleted while its file is uploading', async () => {
    const { browser, jarId } = await signUpWithJar();
    const bodiesBefore = (await storedBodies()).length;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const source = async function* () {
      yield randomBytes(200_000);
      await gate;
      yield randomBytes(200_000);
    };
    const uploading = fetch(`${gw.url}/api/jars/${jarId}/files?name=late.bin`, {
      method: 'POST',
      headers: { Cookie: browser.cookieHeader(), 'X-CSRF': '1', 'Content-Type': 'application/octet-stream' },
      body: Readable.toWeb(Readable.from(source())),
      duplex: 'half',
    } as RequestInit);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await browser.delete(`/jars/${jarId}`)).status, 204);
    release();
    const res = await uploading;
    assert.equal(res.status, 404);
    assert.equal((await storedBodies()).length, bodiesBefore);
    assert.equal(await tempBodies(), 0);
  });
});
