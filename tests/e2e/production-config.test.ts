import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/** Starts `gateway/src/main.ts` as operators do and waits for it to exit (it must, on a bad config). */
function startMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'gateway/src/main.ts'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the gateway did not exit; stderr: ${stderr}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('npm start with an unsafe production configuration', () => {
  it('exits 78 and lists every problem at once', async () => {
    const { code, stderr } = await startMain({
      NODE_ENV: 'production',
      PORT: '0',
      METRICS_PORT: '0',
      PUBLIC_BASE_URL: 'http://gateway.example.com',
      SESSION_SECRET: 'changeme',
      CORS_ORIGINS: '*',
      SESSION_STORE: 'memory',
      KEYS_BACKEND: 'local',
    });
    assert.equal(code, 78, stderr);
    for (const problem of [
      'PUBLIC_BASE_URL must be https in production',
      'SESSION_SECRET must be at least 32 characters',
      'SESSION_ENCRYPTION_KEY is required in production',
      'CORS_ORIGINS must not contain a wildcard',
      'SESSION_STORE=memory is not allowed in production',
      'WEBAUTHN_RP_ID is required in production',
      'KRATOS_WEBHOOK_API_KEY is required in production',
      'KEYS_BACKEND=local needs ALLOW_LOCAL_KEYRING_IN_PRODUCTION=true in production',
      'LOCAL_KEYRING_MASTER_KEY is required for the local keyring in production',
    ]) {
      assert.ok(stderr.includes(problem), `missing "${problem}" in:\n${stderr}`);
    }
    assert.doesNotMatch(stderr, /changeme/, 'a secret value must never be echoed');
  });

  it('exits 78 on guessable secrets and keys, listing each without echoing them', async () => {
    const zeroKey = Buffer.alloc(32).toString('base64');
    const { code, stderr } = await startMain({
      NODE_ENV: 'production',
      PORT: '0',
      METRICS_PORT: '0',
      PUBLIC_BASE_URL: 'https://gateway.example.com',
      SESSION_SECRET: 'changemechangemechangemechangeme',
      SESSION_ENCRYPTION_KEY: zeroKey,
      CORS_ORIGINS: 'null,http://app.example.com',
      WEBAUTHN_RP_ID: 'gateway.example.com',
      WEBAUTHN_ORIGINS: 'https://gateway.example.com',
      KRATOS_WEBHOOK_API_KEY: 'changeme',
      KEYS_BACKEND: 'local',
      ALLOW_LOCAL_KEYRING_IN_PRODUCTION: 'true',
      LOCAL_KEYRING_MASTER_KEY: zeroKey,
    });
    assert.equal(code, 78, stderr);
    for (const problem of [
      'SESSION_SECRET is a known placeholder value',
      'SESSION_ENCRYPTION_KEY is guessable',
      'LOCAL_KEYRING_MASTER_KEY is guessable',
      'KRATOS_WEBHOOK_API_KEY is a known placeholder value',
      'CORS_ORIGINS must not contain null',
      'CORS_ORIGINS must list https origins',
    ]) {
      assert.ok(stderr.includes(problem), `missing "${problem}" in:\n${stderr}`);
    }
    assert.doesNotMatch(stderr, /changemechangeme|AAAAAAAA/, 'a secret value must never be echoed');
  });

  it('exits 78 naming the problem when a rate limit is malformed', async () => {
    const { code, stderr } = await startMain({ PORT: '0', METRICS_PORT: '0', RATE_LIMIT_LOGIN: 'lots' });
    assert.equal(code, 78, stderr);
    assert.match(stderr, /RATE_LIMIT_LOGIN: must be <max>\/<window seconds>/);
  });

  describe('with a broken policy file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-policy-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('exits 78 before opening any connection, naming what is wrong', async () => {
      const file = join(dir, 'policy.json');
      writeFileSync(
        file,
        JSON.stringify({ roles: { admin: { permissions: ['admin:everything'] } }, permissions: {} }),
      );
      const { code, stderr } = await startMain({ PORT: '0', METRICS_PORT: '0', POLICY_FILE: file });
      assert.equal(code, 78, stderr);
      assert.match(stderr, /role admin grants admin:everything, which is not declared under permissions/);
    });
  });
});

describe('security headers', () => {
  let https: TestGateway;
  let http: TestGateway;
  before(async () => {
    https = await startTestGateway({ env: { PUBLIC_BASE_URL: 'https://gateway.example.com' } });
    http = await startTestGateway();
  });
  after(async () => {
    await https?.close();
    await http?.close();
  });

  const CSP = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join(';');

  for (const path of ['/healthz', '/api/auth/session', '/no/such/page']) {
    it(`sends the exact CSP, no X-Powered-By and HSTS under https (${path})`, async () => {
      const res = await fetch(https.url + path);
      assert.equal(res.headers.get('content-security-policy'), CSP);
      assert.doesNotMatch(res.headers.get('content-security-policy')!, /unsafe-inline|unsafe-eval/);
      assert.equal(res.headers.get('x-powered-by'), null);
      assert.equal(res.headers.get('strict-transport-security'), 'max-age=63072000; includeSubDomains');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    });
  }

  it('sends no HSTS when the public URL is plain http (development)', async () => {
    const res = await fetch(`${http.url}/healthz`);
    assert.equal(res.headers.get('strict-transport-security'), null);
    assert.equal(res.headers.get('content-security-policy'), CSP);
    assert.equal(res.headers.get('x-powered-by'), null);
  });
});
