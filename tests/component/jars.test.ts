import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { latestCode, registerAccount, totpCode } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';

const MAX_UPLOAD = 3 * 1024 * 1024;
let gw: TestGateway;

before(async () => {
  gw = await startTestGateway({
    env: {
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
      WHOAMI_CACHE_SECONDS: '0',
      RATE_LIMIT_REGISTRATION: '100/60',
    },
  });
});
after(() => gw.close());

interface User {
  browser: Browser;
  identityId: string;
}

/** A signed-up user whose address is verified (sharing a jar needs that, per the policy file). */
async function signUp(): Promise<User> {
  const browser = new Browser(`${gw.url}/api`);
  const email = uniqueEmail('jar');
  const res = await registerAccount(gw, browser, { email, password: STRONG_PASSWORD });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal((await browser.post('/auth/verification', {})).status, 202);
  const code = await latestCode(gw.kratos, email);
  assert.equal((await browser.post('/auth/verification/code', { code })).status, 200);
  return { browser, identityId: res.body.identityId };
}

/**
 * Raises the user to aal2 the way a person does: enrols TOTP (the account's first factor),
 * signs in again (which now owes it) and steps up with a code. A factor never raises the
 * session that enrolled it, so the browser's session is the new one.
 */
async function raiseToAal2(user: User): Promise<void> {
  const started = await user.browser.post('/auth/mfa/totp');
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const secret = started.body.secret as string;
  const confirmed = await user.browser.post('/auth/mfa/totp/confirm', { code: totpCode(secret) });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  const me = await user.browser.get('/auth/session');
  const browser = new Browser(`${gw.url}/api`);
  const login = await browser.post('/auth/login/password', {
    identifier: me.body.email,
    password: STRONG_PASSWORD,
  });
  assert.equal(login.status, 403, JSON.stringify(login.body));
  const stepped = await browser.post('/auth/step-up/totp', { code: totpCode(secret) });
  assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
  user.browser = browser;
}

async function createJar(user: User, body: Record<string, unknown> = { name: 'Taxes' }) {
  const res = await user.browser.post('/jars', body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; name: string; restricted: boolean };
}

function upload(user: User, jarId: string, body: Buffer, options: { name?: string; type?: string } = {}) {
  return user.browser.request(
    'POST',
    `/jars/${jarId}/files?name=${encodeURIComponent(options.name ?? 'a.bin')}`,
    {
      body,
      headers: { 'Content-Type': options.type ?? 'application/octet-stream' },
    },
  );
}

async function download(user: User, jarId: string, fileId: string) {
  const res = await fetch(`${gw.url}/api/jars/${jarId}/files/${fileId}`, {
    headers: { Cookie: user.browser.cookieHeader() },
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

const filesDir = () => join(gw.deps.config.DATA_DIR, 'files');
const tempFiles = async () => (await readdir(join(filesDir(), 'tmp')).catch(() => [])).length;

describe('Honey Jars: /api/jars', () => {
  it('creates, lists, renames and deletes a jar', async () => {
    const owner = await signUp();
    const jar = await createJar(owner);
    assert.equal(jar.restricted, false);
    const list = await owner.browser.get('/jars');
    assert.deepEqual(
      list.body.jars.map((j: { id: string; role: string }) => [j.id, j.role]),
      [[jar.id, 'owner']],
    );
    const renamed = await owner.browser.patch(`/jars/${jar.id}`, { name: 'Receipts' });
    assert.equal(renamed.body.name, 'Receipts');
    assert.equal((await owner.browser.delete(`/jars/${jar.id}`)).status, 204);
    assert.equal((await owner.browser.get(`/jars/${jar.id}`)).status, 404);
  });

  it('answers 401 without a session and 400 for an invalid name', async () => {
    const anonymous = new Browser(`${gw.url}/api`);
    assert.equal((await anonymous.post('/jars', { name: 'x' })).status, 401);
    const owner = await signUp();
    const res = await owner.browser.post('/jars', { name: 'a/b' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_request');
  });

  it('uploads a file, stores only ciphertext on disk and streams the plaintext back', async () => {
    const owner = await signUp();
    const jar = await createJar(owner);
    const plain = Buffer.concat([Buffer.from('TOP-SECRET-MARKER '.repeat(100)), randomBytes(200_000)]);
    const res = await upload(owner, jar.id, plain, { name: 'rapport été.pdf', type: 'application/pdf' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.size, plain.length);
    assert.equal(res.body.contentType, 'application/pdf');
    const onDisk = await readFile(join(filesDir(), `${res.body.id}.bin`));
    assert.ok(!onDisk.includes(Buffer.from('TOP-SECRET-MARKER')));
    const back = await download(owner, jar.id, res.body.id);
    assert.equal(back.status, 200);
    assert.deepEqual(back.body, plain);
    assert.equal(back.headers.get('content-type'), 'application/pdf');
    assert.match(
      back.headers.get('content-disposition') ?? '',
      /^attachment; filename="rapport _t_.pdf"; filename\*=UTF-8''rapport%20%C3%A9t%C3%A9.pdf$/,
    );
    const files = await owner.browser.get(`/jars/${jar.id}/files`);
    assert.deepEqual(
      files.body.files.map((f: { id: string }) => f.id),
      [res.body.id],
    );
  });

  it('round-trips an empty file', async () => {
    const owner = await signUp();
    const jar = await createJar(owner);
    const res = await upload(owner, jar.id, Buffer.alloc(0));
    assert.equal(res.status, 201);
    const back = await download(owner, jar.id, res.body.id);
    assert.equal(back.status, 200);
    assert.equal(back.body.length, 0);
  });

  it('deletes a file and its body', async () => {
    const owner = await signUp();
    const jar = await createJar(owner);
    const file = (await upload(owner, jar.id, randomBytes(10))).body;
    assert.equal((await owner.browser.delete(`/jars/${jar.id}/files/${file.id}`)).status, 204);
    assert.equal((await download(owner, jar.id, file.id)).status, 404);
    await assert.rejects(readFile(join(filesDir(), `${file.id}.bin`)));
  });

  it('refuses an upload past the size limit with 413 and keeps nothing', async () => {
    const owner = await signUp();
    const jar = await createJar(owner);
    const declared = await upload(owner, jar.id, randomBytes(MAX_UPLOAD + 1));
    assert.equal(declared.status, 413);
    assert.equal(declared.body.error.code, 'payload_too_large');
    const chunks = async function* () {
      for (let i = 0; i < 4; i++) yield randomBytes(1024 * 1024);
    };
    const streamed = await fetch(`${gw.url}/api/jars/${jar.id}/files?name=big.bin`, {
      method: 'POST',
      headers: {
        Cookie: owner.browser.cookieHeader(),
        'X-CSRF': '1',
        'Content-Type': 'application/octet-stream',
      },
      body: Readable.toWeb(Readable.from(chunks())),
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.equal((await owner.browser.get(`/jars/${jar.id}/files`)).body.files.length, 0);
    assert.equal(await tempFiles(), 0);
  });

  it('requires the CSRF header on uploads', async () => {
    const owner = await signUp();
    const jar = await createJar(owner);
    const res = await owner.browser.request('POST', `/jars/${jar.id}/files?name=x`, {
      body: 'x',
      csrf: false,
    });
    assert.equal(res.status, 403);
  });
});

describe('Honey Jars access control', () => {
  let owner: User;
  let stranger: User;
  let viewer: User;
  let editor: User;
  let jarId: string;
  let fileId: string;

  before(async () => {
    [owner, stranger, viewer, editor] = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
    jarId = (await createJar(owner)).id;
    fileId = (await upload(owner, jarId, Buffer.from('shared'))).body.id;
    assert.equal(
      (await owner.browser.put(`/jars/${jarId}/grants/${viewer.identityId}`, { role: 'viewer' })).status,
      200,
    );
    assert.equal(
      (await owner.browser.put(`/jars/${jarId}/grants/${editor.identityId}`, { role: 'editor' })).status,
      200,
    );
  });

  it("answers 404, not 403, for another user's jar", async () => {
    assert.equal((await stranger.browser.get(`/jars/${jarId}`)).status, 404);
    assert.equal((await stranger.browser.get(`/jars/${jarId}/files`)).status, 404);
    assert.equal((await download(stranger, jarId, fileId)).status, 404);
    assert.equal((await upload(stranger, jarId, Buffer.from('x'))).status, 404);
    assert.equal((await stranger.browser.delete(`/jars/${jarId}`)).status, 404);
    assert.equal((await stranger.browser.get('/jars')).body.jars.length, 0);
  });

  it('lets a viewer list and download but not upload or delete', async () => {
    assert.deepEqual((await download(viewer, jarId, fileId)).body, Buffer.from('shared'));
    assert.equal((await viewer.browser.get('/jars')).body.jars[0].role, 'viewer');
    assert.equal((await upload(viewer, jarId, Buffer.from('x'))).status, 403);
    assert.equal((await viewer.browser.delete(`/jars/${jarId}/files/${fileId}`)).status, 403);
  });

  it('lets an editor upload with the owner key, but not manage the jar or its grants', async () => {
    const res = await upload(editor, jarId, Buffer.from('from the editor'));
    assert.equal(res.status, 201);
    assert.deepEqual((await download(owner, jarId, res.body.id)).body, Buffer.from('from the editor'));
    assert.equal(
      (await editor.browser.put(`/jars/${jarId}/grants/${stranger.identityId}`, { role: 'viewer' })).status,
      403,
    );
    assert.equal((await editor.browser.patch(`/jars/${jarId}`, { name: 'mine' })).status, 403);
  });

  it('shows the owner the grants and takes access away when a grant is removed', async () => {
    const grants = await owner.browser.get(`/jars/${jarId}/grants`);
    assert.equal(grants.body.grants.length, 2);
    assert.equal((await owner.browser.delete(`/jars/${jarId}/grants/${viewer.identityId}`)).status, 204);
    assert.equal((await viewer.browser.get(`/jars/${jarId}`)).status, 404);
  });

  it('requires an aal2 session to open a restricted jar', async () => {
    const user = await signUp();
    const jar = await createJar(user, { name: 'Vault', restricted: true });
    const refused = await user.browser.get(`/jars/${jar.id}/files`);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'aal2_required');
    assert.equal((await upload(user, jar.id, Buffer.from('x'))).status, 403);
    await raiseToAal2(user);
    const file = await upload(user, jar.id, Buffer.from('after step-up'));
    assert.equal(file.status, 201, JSON.stringify(file.body));
    assert.deepEqual((await download(user, jar.id, file.body.id)).body, Buffer.from('after step-up'));
  });
});
