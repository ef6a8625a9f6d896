import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { findProfile } from '../../gateway/src/profiles/profile-store.js';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import {
  registerAccount,
  seedIdentity,
  signedIn,
  startAccountGateway,
  WEBHOOK_KEY,
} from '../helpers/account.js';

let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway();
});
after(async () => {
  await gw.close();
});

function payload(
  hook: string,
  overrides: { id?: string; name?: string; updatedAt?: string; flowId?: string } = {},
) {
  const email = uniqueEmail('hook');
  return {
    identity: {
      id: overrides.id ?? randomUUID(),
      schema_id: 'default',
      state: 'active',
      traits: { email, ...(overrides.name ? { name: { first: overrides.name } } : {}) },
      verifiable_addresses: [{ value: email, verified: false, via: 'email', status: 'sent' }],
      metadata_public: null,
      updated_at: overrides.updatedAt ?? new Date().toISOString(),
    },
    flow_id: overrides.flowId ?? randomUUID(),
    flow_type: 'api',
    event: hook,
  };
}

function deliver(
  hook: string,
  body: unknown,
  headers: Record<string, string> = { 'X-Webhook-Key': WEBHOOK_KEY },
) {
  return fetch(`${gw.url}/hooks/kratos/${hook}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function receivedCount(identityId: string, hook: string) {
  const { rows } = await gw.deps.db.query(
    `SELECT 1 FROM audit_events WHERE type = 'webhook.received' AND identity_id = $1 AND details->>'hook' = $2`,
    [identityId, hook],
  );
  return rows.length;
}

describe('POST /hooks/kratos/* authentication', () => {
  it('answers 401 without the key, and records the refusal', async () => {
    const res = await deliver('after-settings', payload('after-settings'), {});
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as any).error.code, 'invalid_webhook_key');
    const { rows } = await gw.deps.db.query(
      `SELECT 1 FROM audit_events WHERE type = 'webhook.refused' AND outcome = 'denied'`,
    );
    assert.ok(rows.length >= 1);
  });

  it('answers 401 for a wrong key, even one of the same length', async () => {
    const wrong = WEBHOOK_KEY.replace(/.$/, (c) => (c === 'x' ? 'y' : 'x'));
    const res = await deliver('after-settings', payload('after-settings'), { 'X-Webhook-Key': wrong });
    assert.equal(res.status, 401);
  });

  it('needs no CSRF header or Origin: it is a server-to-server call', async () => {
    const res = await deliver('after-login', payload('after-login'));
    assert.equal(res.status, 204);
  });
});

describe('POST /hooks/kratos/* validation', () => {
  it('answers 400 for a body without an identity', async () => {
    const res = await deliver('after-settings', {
      flow_id: randomUUID(),
      flow_type: 'api',
      event: 'after-settings',
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as any).error.code, 'invalid_request');
  });

  it('answers 400 when the event does not match the hook', async () => {
    const res = await deliver('after-settings', payload('after-login'));
    assert.equal(res.status, 400);
  });

  it('answers 400 for malformed JSON and 415 for another content type', async () => {
    assert.equal((await deliver('after-settings', '{"identity":')).status, 400);
    const res = await deliver('after-settings', 'x=1', {
      'X-Webhook-Key': WEBHOOK_KEY,
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    assert.equal(res.status, 415);
  });

  it('answers 404 for a hook it does not know', async () => {
    assert.equal((await deliver('after-logout', payload('after-logout'))).status, 404);
  });
});

describe('POST /hooks/kratos/after-registration', () => {
  it('gives new identities the default role through Kratos’ response parsing, and syncs the profile', async () => {
    const email = uniqueEmail();
    const res = await registerAccount(gw, new Browser(gw.auth), { email, password: STRONG_PASSWORD });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.roles, ['user']);
    const profile = await findProfile(gw.deps.db, res.body.identityId);
    assert.equal(profile?.email, email);
    assert.equal(await receivedCount(res.body.identityId, 'after-registration'), 1);
  });

  it('records a repeated delivery once', async () => {
    const body = payload('after-registration');
    assert.equal((await deliver('after-registration', body)).status, 204);
    assert.equal((await deliver('after-registration', body)).status, 204);
    assert.equal(await receivedCount(body.identity.id, 'after-registration'), 1);
  });

  it('refuses an identity that is not stored yet (the nil id), so no row is written under it', async () => {
    const body = payload('after-registration', { id: '00000000-0000-0000-0000-000000000000' });
    const res = await deliver('after-registration', body);
    assert.equal(res.status, 400);
    assert.equal(await findProfile(gw.deps.db, body.identity.id), undefined);
  });
});

describe('POST /hooks/kratos/registration-defaults', () => {
  it('answers the default role for Kratos to store, and records nothing under the nil id', async () => {
    const body = payload('registration-defaults', { id: '00000000-0000-0000-0000-000000000000' });
    const first = await deliver('registration-defaults', body);
    const second = await deliver('registration-defaults', body);
    const expected = { identity: { metadata_public: { roles: ['user'] } } };
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), expected);
    assert.deepEqual(await second.json(), expected);
    assert.equal(await findProfile(gw.deps.db, body.identity.id), undefined);
    assert.equal(await receivedCount(body.identity.id, 'registration-defaults'), 0);
  });
});

describe('POST /hooks/kratos/after-settings', () => {
  it('re-syncs the profile when the user changes it through the gateway', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    const res = await browser.patch('/profile', { traits: { name: { first: 'Hedy' } } });
    assert.equal(res.status, 200);
    assert.ok((await receivedCount(id, 'after-settings')) >= 1);
    assert.deepEqual((await findProfile(gw.deps.db, id))?.traits.name, { first: 'Hedy' });
  });

  it('applies a replayed delivery only once, and never over a newer one', async () => {
    const id = randomUUID();
    const older = payload('after-settings', { id, name: 'Old', updatedAt: '2030-01-01T00:00:00.000Z' });
    const newer = payload('after-settings', { id, name: 'New', updatedAt: '2030-01-02T00:00:00.000Z' });
    assert.equal((await deliver('after-settings', older)).status, 204);
    assert.equal((await deliver('after-settings', newer)).status, 204);
    assert.equal((await deliver('after-settings', older)).status, 204);
    assert.deepEqual((await findProfile(gw.deps.db, id))?.traits.name, { first: 'New' });
    assert.equal(await receivedCount(id, 'after-settings'), 2);
  });
});

describe('POST /hooks/kratos/after-verification and after-recovery', () => {
  it('syncs the verified address into the profile', async () => {
    const body = payload('after-verification');
    body.identity.verifiable_addresses[0]!.verified = true;
    assert.equal((await deliver('after-verification', body)).status, 204);
    assert.equal((await findProfile(gw.deps.db, body.identity.id))?.emailVerified, true);
  });

  it('records a recovery', async () => {
    const body = payload('after-recovery');
    assert.equal((await deliver('after-recovery', body)).status, 204);
    assert.equal(await receivedCount(body.identity.id, 'after-recovery'), 1);
  });
});
