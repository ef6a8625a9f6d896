import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../gateway/src/config.js';

const goodProduction = {
  NODE_ENV: 'production',
  PUBLIC_BASE_URL: 'https://auth.example.com',
  SESSION_SECRET: randomBytes(32).toString('base64url'),
  SESSION_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  CORS_ORIGINS: 'https://app.example.com',
  WEBAUTHN_RP_ID: 'example.com',
  WEBAUTHN_ORIGINS: 'https://app.example.com',
  KRATOS_WEBHOOK_API_KEY: randomBytes(24).toString('base64url'),
  KEYS_BACKEND: 'vault',
  VAULT_ADDR: 'https://vault:8200',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
}

describe('loadConfig', () => {
  it('accepts a complete production configuration', () => {
    const config = loadConfig(goodProduction);
    assert.equal(config.production, true);
    assert.equal(config.https, true);
    assert.deepEqual(config.CORS_ORIGINS, ['https://app.example.com']);
  });

  it('runs in development with embedded defaults and no secrets', () => {
    const config = loadConfig({});
    assert.equal(config.production, false);
    assert.equal(config.PORT, 3000);
    assert.equal(config.SESSION_ENCRYPTION_KEY.length, 32);
    assert.deepEqual(config.WEBAUTHN_ORIGINS, ['http://localhost:3000']);
  });

  it('refuses unsafe production settings and lists every problem at once', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      PUBLIC_BASE_URL: 'http://auth.example.com',
      SESSION_SECRET: 'short',
      CORS_ORIGINS: '*',
      SESSION_STORE: 'memory',
    });
    const expected = [
      /PUBLIC_BASE_URL must be https/,
      /SESSION_SECRET must be at least 32/,
      /CORS_ORIGINS must not contain a wildcard/,
      /SESSION_STORE=memory/,
      /WEBAUTHN_RP_ID is required/,
      /WEBAUTHN_ORIGINS is required/,
      /SESSION_ENCRYPTION_KEY is required/,
      /KEYS_BACKEND=local needs ALLOW_LOCAL_KEYRING_IN_PRODUCTION/,
    ];
    for (const pattern of expected)
      assert.ok(
        problems.some((p) => pattern.test(p)),
        `missing ${pattern}`,
      );
  });

  it('refuses a missing session secret and an empty CORS allowlist in production', () => {
    const { SESSION_SECRET: _s, CORS_ORIGINS: _c, ...rest } = goodProduction;
    const problems = problemsOf(rest);
    assert.ok(problems.some((p) => /SESSION_SECRET is required/.test(p)));
    assert.ok(problems.some((p) => /CORS_ORIGINS must list/.test(p)));
  });

  it('refuses a well-known default secret even when long enough', () => {
    const problems = problemsOf({ ...goodProduction, SESSION_SECRET: 'changeme' });
    assert.ok(problems.some((p) => /SESSION_SECRET/.test(p)));
  });

  it('reads secrets from *_FILE paths', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
    const secret = randomBytes(32).toString('base64url');
    writeFileSync(join(dir, 'secret'), `${secret}\n`);
    const config = loadConfig({
      ...goodProduction,
      SESSION_SECRET: '',
      SESSION_SECRET_FILE: join(dir, 'secret'),
    });
    assert.equal(config.SESSION_SECRET, secret);
  });

  it('reports an unreadable *_FILE without echoing any secret', () => {
    const problems = problemsOf({ SESSION_SECRET_FILE: '/nonexistent/secret' });
    assert.deepEqual(problems, ['SESSION_SECRET_FILE: cannot read the file it names']);
  });

  it('rejects malformed values with the key named', () => {
    const problems = problemsOf({ PORT: 'eighty', SESSION_ENCRYPTION_KEY: 'c2hvcnQ=' });
    assert.ok(problems.some((p) => p.startsWith('PORT')));
  });

  it('rejects an encryption key that is not 32 bytes', () => {
    const problems = problemsOf({ SESSION_ENCRYPTION_KEY: Buffer.alloc(16).toString('base64') });
    assert.deepEqual(problems, ['SESSION_ENCRYPTION_KEY must be 32 bytes encoded in base64']);
  });
});
