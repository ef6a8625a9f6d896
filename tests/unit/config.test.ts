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

  it('keeps SMS off by default, and turns on its features only with the provider and its key', () => {
    const dev = loadConfig({});
    assert.equal(dev.SMS_PROVIDER_URL, undefined);
    assert.equal(dev.SMS_CODE_LOGIN, false);
    assert.equal(dev.SMS_CODE_MFA, false);
    assert.deepEqual(problemsOf({ SMS_CODE_LOGIN: 'true', SMS_CODE_MFA: 'true' }), [
      'SMS_CODE_LOGIN needs SMS_PROVIDER_URL (the SMS provider)',
      'SMS_CODE_MFA needs SMS_PROVIDER_URL (the SMS provider)',
    ]);
    assert.deepEqual(problemsOf({ SMS_PROVIDER_URL: 'https://sms.example.com/messages' }), [
      'SMS_PROVIDER_URL is set, so SMS_PROVIDER_API_KEY (or SMS_PROVIDER_API_KEY_FILE) is required',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'config-sms-'));
    writeFileSync(join(dir, 'key'), 'sms-provider-key-0123456789\n');
    const on = loadConfig({
      ...goodProduction,
      SMS_PROVIDER_URL: 'https://sms.example.com/messages',
      SMS_PROVIDER_API_KEY_FILE: join(dir, 'key'),
      SMS_CODE_LOGIN: 'true',
    });
    assert.equal(on.SMS_PROVIDER_API_KEY, 'sms-provider-key-0123456789');
    assert.equal(on.SMS_CODE_LOGIN, true);
    // An empty key file (compose mounts one while SMS is off) is no key.
    writeFileSync(join(dir, 'empty'), '');
    assert.equal(
      loadConfig({ SMS_PROVIDER_API_KEY_FILE: join(dir, 'empty') }).SMS_PROVIDER_API_KEY,
      undefined,
    );
    assert.ok(
      problemsOf({
        ...goodProduction,
        SMS_PROVIDER_URL: 'http://sms.example.com/messages',
        SMS_PROVIDER_API_KEY: 'sms-provider-key-0123456789',
      }).includes('SMS_PROVIDER_URL must be https in production'),
    );
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

  describe('production refuses guessable configuration (each problem named, no value echoed)', () => {
    const zeroKey = Buffer.alloc(32).toString('base64');
    const cases: [string, Record<string, string>, RegExp][] = [
      [
        'a long placeholder session secret',
        { SESSION_SECRET: 'changemechangemechangemechangeme' },
        /SESSION_SECRET is a known placeholder/,
      ],
      [
        'a placeholder inside other text',
        { SESSION_SECRET: 'Replace-Me-With-A-Real-Value-Please!' },
        /SESSION_SECRET is a known placeholder/,
      ],
      ['one repeated character', { SESSION_SECRET: 'a'.repeat(48) }, /SESSION_SECRET is guessable/],
      ['a repeated short unit', { SESSION_SECRET: 'x7Q!'.repeat(10) }, /SESSION_SECRET is guessable/],
      [
        'a sequence',
        { SESSION_SECRET: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij' },
        /SESSION_SECRET is guessable/,
      ],
      [
        'few distinct characters',
        { SESSION_SECRET: 'ab'.repeat(10) + 'ba'.repeat(10) },
        /SESSION_SECRET is guessable/,
      ],
      ['an all-zero session key', { SESSION_ENCRYPTION_KEY: zeroKey }, /SESSION_ENCRYPTION_KEY is guessable/],
      [
        'a repeated-byte session key',
        { SESSION_ENCRYPTION_KEY: Buffer.alloc(32, 0x41).toString('base64') },
        /SESSION_ENCRYPTION_KEY is guessable/,
      ],
      [
        'an all-zero keyring master key',
        {
          KEYS_BACKEND: 'local',
          ALLOW_LOCAL_KEYRING_IN_PRODUCTION: 'true',
          LOCAL_KEYRING_MASTER_KEY: zeroKey,
        },
        /LOCAL_KEYRING_MASTER_KEY is guessable/,
      ],
      [
        'webhook key changeme',
        { KRATOS_WEBHOOK_API_KEY: 'changeme' },
        /KRATOS_WEBHOOK_API_KEY is a known placeholder/,
      ],
      ['a short webhook key', { KRATOS_WEBHOOK_API_KEY: 'k3y' }, /KRATOS_WEBHOOK_API_KEY is guessable/],
      ['vault dev token', { VAULT_TOKEN: 'dev-secret-token' }, /VAULT_TOKEN is a known placeholder/],
      [
        'a null CORS origin',
        { CORS_ORIGINS: 'null,https://app.example.com' },
        /CORS_ORIGINS must not contain null/,
      ],
      [
        'an http CORS origin',
        { CORS_ORIGINS: 'http://app.example.com' },
        /CORS_ORIGINS must list https origins/,
      ],
      [
        'a CORS origin with a path',
        { CORS_ORIGINS: 'https://app.example.com/x' },
        /CORS_ORIGINS must list https origins/,
      ],
    ];
    for (const [name, env, pattern] of cases) {
      it(`refuses ${name}`, () => {
        const problems = problemsOf({ ...goodProduction, ...env });
        assert.ok(
          problems.some((p) => pattern.test(p)),
          `missing ${pattern} in ${JSON.stringify(problems)}`,
        );
        for (const value of Object.values(env))
          if (value.length > 8) assert.ok(!problems.join('\n').includes(value), 'a value was echoed');
      });
    }

    it('lists every problem at once', () => {
      const problems = problemsOf({
        ...goodProduction,
        SESSION_SECRET: 'changemechangemechangemechangeme',
        SESSION_ENCRYPTION_KEY: zeroKey,
        KRATOS_WEBHOOK_API_KEY: 'changeme',
        CORS_ORIGINS: 'null,http://app.example.com',
      });
      assert.equal(problems.length, 5, JSON.stringify(problems));
    });

    it('accepts generated values of every shape scripts/generate-secrets makes', () => {
      for (let i = 0; i < 50; i++) {
        const alnum = Array.from(randomBytes(64))
          .map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62])
          .join('')
          .slice(0, 32);
        for (const secret of [
          randomBytes(32).toString('hex'),
          randomBytes(16).toString('hex'),
          randomBytes(32).toString('base64'),
          alnum,
        ]) {
          const problems = problemsOf({
            ...goodProduction,
            SESSION_SECRET: secret,
            KRATOS_WEBHOOK_API_KEY: secret,
          });
          assert.deepEqual(problems, []);
        }
      }
    });

    it('does not apply in development', () => {
      assert.doesNotThrow(() => loadConfig({ SESSION_SECRET: 'changeme', SESSION_ENCRYPTION_KEY: zeroKey }));
    });
  });
});
