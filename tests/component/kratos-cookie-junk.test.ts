import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * The attack: send a made-up ory_kratos_session cookie (malformed, huge, odd characters)
 * and hope the gateway trips over it. None names a session, so each is a plain 401.
 */
let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
});
after(async () => {
  await gw.close();
});

const JUNK: Record<string, string> = {
  empty: '',
  garbage: 'not-a-session',
  quotes: '"abc"',
  'percent escapes': '%00%ff%zz',
  'a tab inside': 'a\tb',
  'non-ascii bytes': 'é🍯',
  'separators and brackets': '[]{}()<>@,?/\\',
  'longer than a browser keeps (8 KiB)': 'A'.repeat(8 * 1024),
};

describe('a junk ory_kratos_session cookie', () => {
  for (const [name, value] of Object.entries(JUNK)) {
    it(`answers 401, never 5xx: ${name}`, async () => {
      for (const path of ['/session', '/verify', '/sessions']) {
        const res = await fetch(`${gw.auth}${path}`, {
          headers: { Cookie: Buffer.from(`ory_kratos_session=${value}`, 'utf8').toString('latin1') },
        });
        const text = await res.text();
        assert.equal(res.status, 401, `${path}: ${res.status} ${text.slice(0, 200)}`);
      }
    });
  }

  it('past the header size limit is refused by the HTTP server with 431, never 5xx', async () => {
    const res = await fetch(`${gw.auth}/session`, {
      headers: { Cookie: `ory_kratos_session=${'x'.repeat(64 * 1024)}` },
    });
    assert.equal(res.status, 431);
  });
});
