import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  aal1User,
  aal2User,
  passwordLogin,
  pendingSecondFactorUser,
  seedIdentity,
  type TestUser,
} from '../helpers/admin-session.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser } from '../helpers/http.js';
import { addPasskey } from '../helpers/passkey-flows.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

let gw: TestGateway;
let admin: TestUser;
let target: { id: string; email: string };

before(async () => {
  gw = await startTestGateway();
  admin = await aal2User(gw, ['admin']);
  target = await seedIdentity(gw);
});
after(async () => {
  await gw?.close();
});

type Call = [method: string, path: string, body?: unknown];
/** Every admin route, aimed at `id`. */
const adminRoutes = (id: string): Call[] => [
  ['GET', '/users'],
  ['GET', `/users/${id}`],
  ['PUT', `/users/${id}/roles`, { roles: ['user'] }],
  ['POST', `/users/${id}/unlock`],
  ['DELETE', `/users/${id}/sessions`],
  ['POST', `/users/${id}/deactivate`],
  ['GET', '/keys'],
  ['GET', '/audit'],
  ['GET', '/audit/verify'],
];

const call = (browser: Browser, [method, path, body]: Call) =>
  browser.request(method, `/../admin${path}`, body === undefined ? {} : { json: body });

describe('admin routes refuse', () => {
  it('anonymous callers with 401', async () => {
    for (const route of adminRoutes(target.id)) {
      const res = await call(new Browser(gw.auth), route);
      assert.equal(res.status, 401, `${route[0]} ${route[1]}`);
    }
  });

  it('signed-in users without the admin role, even at aal2, with 403 forbidden (audited)', async () => {
    const user = await aal2User(gw, ['user']);
    for (const route of adminRoutes(target.id)) {
      const res = await call(user.browser, route);
      assert.equal(res.status, 403, `${route[0]} ${route[1]}`);
      assert.equal(res.body.error.code, 'forbidden');
    }
    const { rows } = await gw.deps.db.query<{ count: string }>(
      "SELECT count(*) AS count FROM audit_events WHERE type = 'admin.denied' AND actor_id = $1",
      [user.id],
    );
    assert.equal(Number(rows[0]!.count), adminRoutes(target.id).length);
  });

  it('admins whose session still owes the second factor with 403 aal2_required', async () => {
    const pending = await pendingSecondFactorUser(gw, ['admin']);
    for (const route of adminRoutes(target.id)) {
      const res = await call(pending.browser, route);
      assert.equal(res.status, 403, `${route[0]} ${route[1]}`);
      assert.equal(res.body.error.code, 'aal2_required');
    }
  });

  it('admins at aal1 who have a passkey with 403 aal2_required naming the passkey', async () => {
    const user = await aal1User(gw, ['admin']);
    await addPasskey(user.browser, new SoftAuthenticator());
    // With a passkey on the account, a password sign-in owes it (403 at login).
    const browser = await passwordLogin(gw, user.email, 403);
    for (const route of adminRoutes(target.id)) {
      const res = await call(browser, route);
      assert.equal(res.status, 403, `${route[0]} ${route[1]}`);
      assert.equal(res.body.error.code, 'aal2_required');
      assert.deepEqual(res.body.error.details.methods, ['passkey']);
    }
  });

  it('admins with no second factor at all with 403 mfa_enrollment_required', async () => {
    const user = await aal1User(gw, ['admin']);
    for (const route of adminRoutes(target.id)) {
      const res = await call(user.browser, route);
      assert.equal(res.status, 403, `${route[0]} ${route[1]}`);
      assert.equal(res.body.error.code, 'mfa_enrollment_required');
    }
  });
});

describe('admin routes for an admin at aal2', () => {
  it('allows every route, each call audited with the acting admin', async () => {
    const victim = await seedIdentity(gw);
    const before = await gw.deps.db.query<{ max: string | null }>('SELECT max(seq) AS max FROM audit_events');
    for (const route of adminRoutes(victim.id)) {
      const res = await call(admin.browser, route);
      assert.ok(
        res.status >= 200 && res.status < 300,
        `${route[0]} ${route[1]}: ${res.status} ${JSON.stringify(res.body)}`,
      );
    }
    const { rows } = await gw.deps.db.query<{ type: string; actor_id: string }>(
      'SELECT type, actor_id FROM audit_events WHERE seq > $1 ORDER BY seq',
      [Number(before.rows[0]!.max ?? 0)],
    );
    assert.deepEqual(
      rows.map((r) => r.type),
      [
        'admin.users_searched',
        'admin.user_viewed',
        'admin.roles_changed',
        'account.unlocked',
        'admin.sessions_revoked',
        'admin.user_deactivated',
        'admin.keys_viewed',
        'admin.audit_queried',
        'admin.audit_verified',
      ],
    );
    assert.ok(rows.every((r) => r.actor_id === admin.id));
  });

  it('finds a user by exact login identifier', async () => {
    const res = await admin.browser.get(`/../admin/users?identifier=${encodeURIComponent(target.email)}`);
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.users.map((u: { id: string }) => u.id),
      [target.id],
    );
  });

  it('pages through all users', async () => {
    const first = await admin.browser.get('/../admin/users?pageSize=1');
    assert.equal(first.body.users.length, 1);
    assert.ok(first.body.nextPageToken);
    const second = await admin.browser.get(
      `/../admin/users?pageSize=1&pageToken=${first.body.nextPageToken}`,
    );
    assert.equal(second.body.users.length, 1);
    assert.notEqual(second.body.users[0].id, first.body.users[0].id);
  });

  it('sets roles that take effect on the user’s next request, and refuses unknown roles', async () => {
    const user = await aal1User(gw);
    assert.deepEqual((await user.browser.get('/session')).body.roles, []);
    const res = await admin.browser.put(`/../admin/users/${user.id}/roles`, { roles: ['auditor'] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.roles, ['auditor']);
    // At once: an auditor reads the audit log, so the policy makes them enrol a second factor first.
    const next = await user.browser.get('/session');
    assert.equal(next.status, 403, JSON.stringify(next.body));
    assert.equal(next.body.error.code, 'mfa_enrollment_required');
    assert.equal((await user.browser.post('/mfa/totp')).status, 200, 'enrolment stays open');
    const unknown = await admin.browser.put(`/../admin/users/${user.id}/roles`, { roles: ['root'] });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, 'unknown_role');
  });

  it('revokes every session of a user', async () => {
    const user = await aal1User(gw);
    const res = await admin.browser.delete(`/../admin/users/${user.id}/sessions`);
    assert.equal(res.status, 204);
    assert.equal((await user.browser.get('/session')).status, 401);
  });

  it('deactivates a user: sessions end and password login stops working', async () => {
    const user = await aal1User(gw);
    const res = await admin.browser.post(`/../admin/users/${user.id}/deactivate`);
    assert.equal(res.status, 200);
    assert.equal(res.body.state, 'inactive');
    assert.equal((await user.browser.get('/session')).status, 401);
    const login = await new Browser(gw.auth).post('/login/password', {
      identifier: user.email,
      password: 'correct-horse-battery-staple-42',
    });
    assert.notEqual(login.status, 200);
  });

  it('answers 404 for an unknown user and 400 for a malformed id', async () => {
    const missing = await admin.browser.get('/../admin/users/00000000-0000-4000-8000-000000000000');
    assert.equal(missing.status, 404);
    const malformed = await admin.browser.get('/../admin/users/not-an-id!');
    assert.equal(malformed.status, 400);
  });

  it('shows the key status', async () => {
    const res = await admin.browser.get('/../admin/keys');
    assert.equal(res.status, 200);
    assert.equal(typeof res.body, 'object');
  });
});
