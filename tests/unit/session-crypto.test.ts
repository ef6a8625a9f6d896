import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { redact } from '../../gateway/src/logging/logger.js';
import { createTokenCipher } from '../../gateway/src/session/token-cipher.js';

describe('token cipher', () => {
  const cipher = createTokenCipher(randomBytes(32));

  it('round-trips a token for the same context', () => {
    const sealed = cipher.seal('ory_st_secret', 'g_handle');
    assert.ok(!sealed.includes('ory_st_secret'));
    assert.equal(cipher.open(sealed, 'g_handle'), 'ory_st_secret');
  });

  it('refuses a token sealed for another session', () => {
    assert.equal(cipher.open(cipher.seal('t', 'g_a'), 'g_b'), undefined);
  });

  it('refuses a tampered or foreign token', () => {
    const sealed = cipher.seal('token', 'ctx');
    const parts = sealed.split('.');
    parts[3] = Buffer.from('forged').toString('base64url');
    assert.equal(cipher.open(parts.join('.'), 'ctx'), undefined);
    assert.equal(createTokenCipher(randomBytes(32)).open(sealed, 'ctx'), undefined);
    assert.equal(cipher.open('garbage', 'ctx'), undefined);
  });
});

describe('log redaction', () => {
  it('hides passwords, tokens, cookies and codes at any depth', () => {
    const out = redact({
      identifier: 'a@b.c',
      password: 'hunter2hunter2',
      nested: { session_token: 'x', headers: { cookie: 'gw_session=1', accept: 'json' } },
      list: [{ code: '123456' }],
    }) as any;
    assert.equal(out.identifier, 'a@b.c');
    assert.equal(out.password, '[redacted]');
    assert.equal(out.nested.session_token, '[redacted]');
    assert.equal(out.nested.headers.cookie, '[redacted]');
    assert.equal(out.nested.headers.accept, 'json');
    assert.equal(out.list[0].code, '[redacted]');
  });
});
