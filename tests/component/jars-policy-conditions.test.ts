import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { latestCode, seedIdentity, signedIn, startAccountGateway } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser } from '../helpers/http.js';

/**
 * Every jar and file route is decided by the policy file, conditions included. The
 * attacks: an owner whose address nobody verified shares a jar (`jars:share` requires
 * `emailVerified`); an owner grants access to an identity that does not exist; and an
 * operator's policy that takes jar permissions away is ignored by some route.
 */
let gw: TestGateway;
let denyAll: TestGateway;

before(async () => {
  gw = await startAccountGateway();
  const policy = JSON.parse(readFileSync('gateway/policy.json', 'utf8'));
  policy.roles.user.permissions = policy.roles.user.permissions.filter((p: string) => !p.startsWith('jars:'));
  const file = join(mkdtempSync(join(tmpdir(), 'gw-policy-')), 'policy.json');
  writeFileSync(file, JSON.stringify(policy));
  denyAll = await startTestGateway({ env: { POLICY_FILE: file } });
});
after(async () => {
  await gw.close();
  await denyAll.close();
});

/** A password user at `target`, with a browser on /api; `verified` proves the address by code. */
async function user(target: TestGateway, verified = false) {
  const { id, email } = await seedIdentity(target.kratos);
  const auth = await signedIn(target, email);
  if (verified) {
    assert.equal((await auth.post('/verification', {})).status, 202);
    const code = await latestCode(target.kratos, email);
    assert.equal((await auth.post('/verification/code', { code })).status, 200);
  }
  const api = new Browser(`${target.url}/api`);
  for (const [k, v] of auth.cookies) api.cookies.set(k, v);
  return { id, email, api };
}

describe('jar sharing follows the policy conditions', () => {
  it('refuses an owner with an unverified address: 403 email_verification_required, no grant', async () => {
    const owner = await user(gw);
    const friend = await user(gw);
    const jar = await owner.api.post('/jars', { name: 'Unverified' });
    assert.equal(jar.status, 201);
    const res = await owner.api.put(`/jars/${jar.body.id}/grants/${friend.id}`, { role: 'viewer' });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'email_verification_required');
    assert.equal((await friend.api.get(`/jars/${jar.body.id}`)).status, 404);
    const list = await owner.api.get(`/jars/${jar.body.id}/grants`);
    assert.equal(list.status, 403);
  });

  it('lets the same owner share once the address is verified', async () => {
    const owner = await user(gw, true);
    const friend = await user(gw);
    const jar = await owner.api.post('/jars', { name: 'Verified' });
    const res = await owner.api.put(`/jars/${jar.body.id}/grants/${friend.id}`, { role: 'viewer' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((await friend.api.get(`/jars/${jar.body.id}`)).status, 200);
  });

  it('refuses a grant to an identity that does not exist (404) or to no identity id (400), changing nothing', async () => {
    const owner = await user(gw, true);
    const jar = await owner.api.post('/jars', { name: 'Ghosts' });
    const ghost = await owner.api.put(`/jars/${jar.body.id}/grants/${randomUUID()}`, { role: 'editor' });
    assert.equal(ghost.status, 404, JSON.stringify(ghost.body));
    assert.equal(ghost.body.error.code, 'identity_not_found');
    const junk = await owner.api.put(`/jars/${jar.body.id}/grants/not-an-identity`, { role: 'editor' });
    assert.equal(junk.status, 400, JSON.stringify(junk.body));
    assert.equal(junk.body.error.code, 'invalid_request');
    const grants = await owner.api.get(`/jars/${jar.body.id}/grants`);
    assert.deepEqual(grants.body.grants, []);
  });
});

describe('a policy without jar permissions', () => {
  it('refuses every jar and file route with 403', async () => {
    const owner = await user(denyAll);
    const friend = await user(denyAll);
    // A jar made before the policy changed (as an operator tightening it would find).
    const jarId = randomUUID();
    await denyAll.deps.db.query(
      'INSERT INTO jars (id, owner_id, name, restricted) VALUES ($1, $2, $3, false)',
      [jarId, owner.id, 'Old'],
    );
    const fileId = randomUUID();
    for (const [method, path, body] of [
      ['POST', '/jars', { name: 'New' }],
      ['GET', '/jars'],
      ['GET', `/jars/${jarId}`],
      ['PATCH', `/jars/${jarId}`, { name: 'Renamed' }],
      ['GET', `/jars/${jarId}/grants`],
      ['PUT', `/jars/${jarId}/grants/${friend.id}`, { role: 'viewer' }],
      ['DELETE', `/jars/${jarId}/grants/${friend.id}`],
      ['GET', `/jars/${jarId}/files`],
      ['GET', `/jars/${jarId}/files/${fileId}`],
      ['DELETE', `/jars/${jarId}/files/${fileId}`],
      ['DELETE', `/jars/${jarId}`],
    ] as const) {
      const res = await owner.api.request(method, path, body ? { json: body } : {});
      assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
    const upload = await owner.api.request('POST', `/jars/${jarId}/files?name=a.txt`, {
      body: 'x',
      headers: { 'Content-Type': 'text/plain' },
    });
    assert.equal(upload.status, 403);
    const { rows } = await denyAll.deps.db.query('SELECT name FROM jars WHERE id = $1', [jarId]);
    assert.deepEqual(rows, [{ name: 'Old' }]);
  });
});
