import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedIdentity, signedIn } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser } from '../helpers/http.js';

/**
 * The attack: reach a route through another letter case, so middleware that looks at the
 * exact path (the raw-upload check, which keeps the JSON parser off upload bodies) does
 * not recognise it while the route still runs. `POST /api/JARS/:id/files` with a JSON
 * content type used to store an empty file with 201.
 */
let gw: TestGateway;
let owner: Browser;
let jarId: string;

before(async () => {
  gw = await startTestGateway();
  const { email } = await seedIdentity(gw.kratos);
  owner = await signedIn(gw, email);
  const jar = await new Browser(`${gw.url}/api`).request('POST', '/jars', {
    json: { name: 'Case' },
    headers: { Cookie: owner.cookieHeader() },
  });
  assert.equal(jar.status, 201, JSON.stringify(jar.body));
  jarId = jar.body.id;
});
after(() => gw.close());

const api = () => {
  const browser = new Browser(`${gw.url}/api`);
  for (const [k, v] of owner.cookies) browser.cookies.set(k, v);
  return browser;
};

describe('route matching is case-sensitive', () => {
  it('POST /api/JARS/:id/files with a JSON body is no route (404) and stores nothing', async () => {
    for (const path of [`/JARS/${jarId}/files?name=a.txt`, `/Jars/${jarId}/FILES?name=a.txt`]) {
      const res = await api().request('POST', path, {
        body: JSON.stringify({ hello: 'world' }),
        headers: { 'Content-Type': 'application/json' },
      });
      assert.equal(res.status, 404, `${path}: ${JSON.stringify(res.body)}`);
    }
    const files = await api().get(`/jars/${jarId}/files`);
    assert.equal(files.status, 200);
    assert.deepEqual(files.body.files, []);
  });

  it('the lower-case route still stores the body it is sent', async () => {
    const res = await api().request('POST', `/jars/${jarId}/files?name=a.json`, {
      body: JSON.stringify({ hello: 'world' }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.size, 17);
  });

  it('other letter cases of API, auth and admin paths are no route either', async () => {
    for (const [method, path] of [
      ['GET', '/JARS'],
      ['GET', '/Auth/session'],
      ['POST', '/auth/LOGIN/password'],
      ['GET', '/ADMIN/users'],
    ] as const) {
      const res = await api().request(method, path, { json: method === 'POST' ? {} : undefined });
      assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
    const upper = await fetch(`${gw.url}/API/auth/session`, { headers: { Cookie: owner.cookieHeader() } });
    assert.equal(upper.status, 404);
  });
});
