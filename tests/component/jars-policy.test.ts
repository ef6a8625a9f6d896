import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { registerAccount } from '../helpers/account.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';

/**
 * The restricted-jar rule lives in the policy file, not in the jars code: an operator who
 * drops the `restrictedAal` condition lets aal1 sessions read restricted jars.
 */
let gw: TestGateway;

before(async () => {
  const policy = JSON.parse(readFileSync('gateway/policy.json', 'utf8'));
  delete policy.permissions['jars:files:read'].restrictedAal;
  const file = join(mkdtempSync(join(tmpdir(), 'gw-policy-')), 'policy.json');
  writeFileSync(file, JSON.stringify(policy));
  gw = await startTestGateway({ env: { POLICY_FILE: file } });
});
after(() => gw.close());

describe('jar access through the policy file', () => {
  it('follows the policy: reading a restricted jar at aal1 once the condition is removed, writing still refused', async () => {
    const browser = new Browser(`${gw.url}/api`);
    assert.equal(
      (await registerAccount(gw, browser, { email: uniqueEmail('pol'), password: STRONG_PASSWORD })).status,
      201,
    );
    const jar = await browser.post('/jars', { name: 'Restricted', restricted: true });
    assert.equal(jar.status, 201);
    const list = await browser.get(`/jars/${jar.body.id}/files`);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const write = await browser.request('POST', `/jars/${jar.body.id}/files?name=a.txt`, {
      body: 'x',
      headers: { 'Content-Type': 'text/plain' },
    });
    assert.equal(write.status, 403);
    assert.equal(write.body.error.code, 'aal2_required');
  });
});
