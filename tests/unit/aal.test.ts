import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeAal, type CompletedMethod } from '../../gateway/src/session/aal.js';

const at = '2026-01-01T00:00:00.000Z';
const m = (method: string, extra: Partial<CompletedMethod> = {}): CompletedMethod => ({
  method,
  completedAt: at,
  ...extra,
});

describe('computeAal (the AAL table)', () => {
  const table: [string, CompletedMethod[], 'aal1' | 'aal2' | undefined, 'aal1' | 'aal2'][] = [
    ['password', [m('password')], undefined, 'aal1'],
    ['passkey without user verification', [m('passkey', { userVerified: false })], undefined, 'aal1'],
    ['passkey with user verification', [m('passkey', { userVerified: true })], undefined, 'aal2'],
    ['password + TOTP', [m('password'), m('totp')], undefined, 'aal2'],
    ['password + backup code', [m('password'), m('lookup_secret')], undefined, 'aal2'],
    [
      'password + passkey without UV',
      [m('password'), m('passkey', { userVerified: false })],
      undefined,
      'aal2',
    ],
    ['a Kratos aal2 session', [m('password')], 'aal2', 'aal2'],
    ['a Kratos aal1 session', [m('password')], 'aal1', 'aal1'],
    [
      'two passkeys without user verification',
      [m('passkey', { userVerified: false }), m('passkey', { userVerified: false })],
      undefined,
      'aal1',
    ],
    ['nothing', [], undefined, 'aal1'],
    ['TOTP alone', [m('totp')], undefined, 'aal1'],
    ['password twice', [m('password'), m('password')], undefined, 'aal1'],
    ['password + e-mailed code', [m('password'), m('email_code')], undefined, 'aal2'],
    [
      'passkey without UV + e-mailed code',
      [m('passkey', { userVerified: false }), m('email_code')],
      undefined,
      'aal2',
    ],
    ['sign-in code + e-mailed code (one inbox)', [m('code'), m('email_code')], undefined, 'aal1'],
    ['recovery code + e-mailed code (one inbox)', [m('code_recovery'), m('email_code')], undefined, 'aal1'],
    ['e-mailed code alone', [m('email_code')], undefined, 'aal1'],
  ];

  for (const [name, methods, kratosAal, expected] of table) {
    it(`gives ${expected} for ${name}`, () => {
      assert.equal(computeAal(methods, kratosAal), expected);
    });
  }
});
