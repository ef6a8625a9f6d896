import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cookieHeader, rememberCookies } from '../../scripts/bench/stack.js';

describe('the benchmark cookie jar', () => {
  it('keeps the name=value pair of each Set-Cookie line and sends them back as one header', () => {
    const jar = rememberCookies(new Map(), [
      'gw_session=abc.def; Path=/; HttpOnly; SameSite=Lax',
      'gw_pre=xyz=; Path=/api; HttpOnly',
    ]);
    assert.deepEqual(
      [...jar],
      [
        ['gw_session', 'abc.def'],
        ['gw_pre', 'xyz='],
      ],
    );
    assert.equal(cookieHeader(jar), 'gw_session=abc.def; gw_pre=xyz=');
  });

  it('a later line replaces a value, and a cleared cookie leaves the jar', () => {
    const jar = new Map([
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]);
    rememberCookies(jar, [
      'a=9; Path=/',
      'b=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
      'c=gone; Max-Age=0',
    ]);
    assert.deepEqual([...jar], [['a', '9']]);
    assert.equal(cookieHeader(new Map()), '');
  });
});
