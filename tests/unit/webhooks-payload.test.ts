import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deliveryKey, hookPayload, profileOf } from '../../gateway/src/hooks/payload.js';
import { webhookKeyMatches } from '../../gateway/src/hooks/webhook-key.js';

const body = {
  identity: {
    id: 'c0ffee00-0000-4000-8000-000000000001',
    traits: { email: 'ada@example.com', name: { first: 'Ada' } },
    verifiable_addresses: [{ value: 'ada@example.com', verified: true }],
    updated_at: '2030-01-01T00:00:00.000Z',
  },
  flow_id: 'f1',
  flow_type: 'api',
  event: 'after-settings',
};

describe('webhookKeyMatches', () => {
  it('accepts the configured key only', () => {
    assert.equal(webhookKeyMatches('s3cret-key', 's3cret-key'), true);
    assert.equal(webhookKeyMatches('s3cret-key', 's3cret-kez'), false);
    assert.equal(webhookKeyMatches('s3cret-key', 's3cret-key-longer'), false);
    assert.equal(webhookKeyMatches('s3cret-key', undefined), false);
  });

  it('accepts nothing when no key is configured', () => {
    assert.equal(webhookKeyMatches(undefined, ''), false);
    assert.equal(webhookKeyMatches('', ''), false);
  });
});

describe('deliveryKey', () => {
  it('is the same for a repeated delivery and differs for a new version of the identity', () => {
    const first = hookPayload.parse(body);
    const repeat = hookPayload.parse(structuredClone(body));
    const later = hookPayload.parse({
      ...body,
      identity: { ...body.identity, updated_at: '2030-01-02T00:00:00.000Z' },
    });
    assert.equal(deliveryKey(first), deliveryKey(repeat));
    assert.notEqual(deliveryKey(first), deliveryKey(later));
  });

  it('differs between hooks of the same flow', () => {
    const settings = hookPayload.parse(body);
    const login = hookPayload.parse({ ...body, event: 'after-login' });
    assert.notEqual(deliveryKey(settings), deliveryKey(login));
  });
});

describe('hookPayload', () => {
  it('refuses an unknown event and a missing identity id', () => {
    assert.equal(hookPayload.safeParse({ ...body, event: 'after-logout' }).success, false);
    assert.equal(hookPayload.safeParse({ ...body, identity: { traits: {} } }).success, false);
  });

  it('reads the verified state of the primary address into the profile', () => {
    const profile = profileOf(hookPayload.parse(body));
    assert.equal(profile.email, 'ada@example.com');
    assert.equal(profile.emailVerified, true);
    assert.equal(profile.updatedAt, '2030-01-01T00:00:00.000Z');
  });
});
