import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser } from '../helpers/http.js';
import {
  adminIdentity,
  kratosBrowserSession,
  seedIdentity,
  signedIn,
  startAccountGateway,
  totpCode,
  withTotp,
} from '../helpers/account.js';

let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway();
});
after(async () => {
  await gw.close();
});

async function auditCount(type: string, outcome: string, identityId: string) {
  const { rows } = await gw.deps.db.query(
    'SELECT 1 FROM audit_events WHERE type = $1 AND outcome = $2 AND identity_id = $3',
    [type, outcome, identityId],
  );
  return rows.length;
}

describe('POST /api/auth/mfa/totp', () => {
  it('offers a secret, its otpauth URI and a QR code, never cached', async () => {
    const browser = await signedIn(gw, (await seedIdentity(gw.kratos)).email);
    const res = await browser.post('/mfa/totp');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.match(res.body.secret, /^[A-Z2-7]{16,}$/);
    assert.match(res.body.otpauthUri, /^otpauth:\/\/totp\/.+secret=/);
    assert.ok(res.body.otpauthUri.includes(res.body.secret));
    assert.match(res.body.qrCode, /^data:image\/png;base64,/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('answers 409 kratos_session_required for a session without a Kratos token', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    browser.cookies.set('ory_kratos_session', await kratosBrowserSession(gw.kratos, email));
    const res = await browser.post('/mfa/totp');
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'kratos_session_required');
  });
});

describe('POST /api/auth/mfa/totp/confirm', () => {
  it('enables TOTP at Kratos with a code from the app, without raising the session that enrolled it', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    const started = await browser.post('/mfa/totp');
    const res = await browser.post('/mfa/totp/confirm', { code: totpCode(started.body.secret) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.aal, 'aal1');
    assert.ok((await adminIdentity(gw.kratos, id)).credentials.totp);
    assert.equal(await auditCount('mfa.totp_enabled', 'success', id), 1);
  });

  it('answers 400 invalid_code for a wrong code and records it', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    const started = await browser.post('/mfa/totp');
    const right = totpCode(started.body.secret);
    const res = await browser.post('/mfa/totp/confirm', { code: right === '000000' ? '111111' : '000000' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_code');
    assert.equal((await adminIdentity(gw.kratos, id)).credentials.totp, undefined);
    assert.equal(await auditCount('mfa.totp_enabled', 'failure', id), 1);
  });

  it('answers 400 totp_enrollment_not_started without a started enrollment', async () => {
    const browser = await signedIn(gw, (await seedIdentity(gw.kratos)).email);
    const res = await browser.post('/mfa/totp/confirm', { code: '123456' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'totp_enrollment_not_started');
  });

  it('answers 400 for a code that is not six digits', async () => {
    const browser = await signedIn(gw, (await seedIdentity(gw.kratos)).email);
    const res = await browser.post('/mfa/totp/confirm', { code: '12ab' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details.field, 'code');
  });

  it('answers 409 totp_already_enabled when asked to enroll again', async () => {
    const { browser, secret } = await withTotp(gw);
    assert.equal((await browser.post('/step-up/totp', { code: totpCode(secret) })).status, 200);
    const res = await browser.post('/mfa/totp');
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'totp_already_enabled');
  });
});

describe('second factor at password login', () => {
  it('answers 403 aal2_required with totp among the methods', async () => {
    const { login, browser } = await withTotp(gw);
    assert.equal(login.status, 403);
    assert.equal(login.body.error.code, 'aal2_required');
    assert.ok(login.body.error.details.methods.includes('totp'));
    const guarded = await browser.get('/sessions');
    assert.equal(guarded.status, 403);
    assert.equal(guarded.body.error.code, 'aal2_required');
  });

  it('POST /step-up/totp completes it in place with a fresh session id', async () => {
    const { browser, secret, id } = await withTotp(gw);
    const before = browser.cookies.get('gw_session');
    const res = await browser.post('/step-up/totp', { code: totpCode(secret) });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.aal, 'aal2');
    assert.ok(res.body.methods.some((m: { method: string }) => m.method === 'totp'));
    assert.notEqual(browser.cookies.get('gw_session'), before);
    assert.equal((await browser.get('/sessions')).status, 200);
    assert.equal(await auditCount('step_up.totp', 'success', id), 1);
  });

  it('POST /step-up/totp answers 400 invalid_code for a wrong code and records it', async () => {
    const { browser, secret, id } = await withTotp(gw);
    const right = totpCode(secret);
    const res = await browser.post('/step-up/totp', { code: right === '000000' ? '111111' : '000000' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_code');
    assert.equal(await auditCount('step_up.totp', 'failure', id), 1);
    assert.equal((await browser.get('/session')).status, 403);
  });

  it('POST /step-up/totp answers 401 without a session', async () => {
    const res = await new Browser(gw.auth).post('/step-up/totp', { code: '123456' });
    assert.equal(res.status, 401);
  });

  it('POST /step-up/totp answers 409 kratos_session_required for a session without a Kratos token', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    browser.cookies.set('ory_kratos_session', await kratosBrowserSession(gw.kratos, email));
    const res = await browser.post('/step-up/totp', { code: '123456' });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'kratos_session_required');
  });
});

describe('POST /api/auth/mfa/backup-codes', () => {
  it('answers a fresh set of codes once; each completes a second factor once', async () => {
    const { email, password } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    const res = await browser.post('/mfa/backup-codes');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.body.codes.length, 12);
    const [code] = res.body.codes as string[];

    const next = new Browser(gw.auth);
    const login = await next.post('/login/password', { identifier: email, password });
    assert.equal(login.status, 403);
    assert.ok(login.body.error.details.methods.includes('lookup_secret'));
    const stepped = await next.post('/step-up/backup-code', { code });
    assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
    assert.equal(stepped.body.aal, 'aal2');

    const third = new Browser(gw.auth);
    await third.post('/login/password', { identifier: email, password });
    const reused = await third.post('/step-up/backup-code', { code });
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error.code, 'invalid_code');
  });

  it('answers 401 without a session', async () => {
    assert.equal((await new Browser(gw.auth).post('/mfa/backup-codes')).status, 401);
  });
});

describe('DELETE /api/auth/mfa/totp', () => {
  it('needs aal2', async () => {
    const browser = await signedIn(gw, (await seedIdentity(gw.kratos)).email);
    const res = await browser.delete('/mfa/totp');
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'aal2_required');
  });

  it('removes TOTP for an aal2 session, after which a password login is complete again', async () => {
    const { browser, secret, id, email, password } = await withTotp(gw);
    assert.equal((await browser.post('/step-up/totp', { code: totpCode(secret) })).status, 200);
    const res = await browser.delete('/mfa/totp');
    assert.equal(res.status, 204, JSON.stringify(res.body));
    assert.equal((await adminIdentity(gw.kratos, id)).credentials.totp, undefined);
    const login = await new Browser(gw.auth).post('/login/password', { identifier: email, password });
    assert.equal(login.status, 200);
    assert.equal(await auditCount('mfa.totp_removed', 'success', id), 1);
  });
});
