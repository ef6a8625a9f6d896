import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createPolicy,
  loadPolicy,
  type ResourceAttributes,
  type Subject,
} from '../../gateway/src/access/policy.js';
import { ConfigError } from '../../gateway/src/config.js';

const policy = loadPolicy('gateway/policy.json');

const subject = (over: Partial<Subject> = {}): Subject => ({
  identityId: 'me',
  roles: [],
  aal: 'aal1',
  emailVerified: true,
  ...over,
});
const mine: ResourceAttributes = { ownerId: 'me' };
const theirs: ResourceAttributes = { ownerId: 'someone-else' };

describe('the checked-in policy (gateway/policy.json)', () => {
  const table: [string, Subject, string, ResourceAttributes | undefined, string][] = [
    // [case, subject, permission, resource, expected: 'allowed' or the refusal reason]
    ['a signed-in user creates a jar', subject(), 'jars:create', undefined, 'allowed'],
    ['a user reads a jar at aal1', subject(), 'jars:read', mine, 'allowed'],
    ['a user deletes their own jar', subject(), 'jars:delete', mine, 'allowed'],
    ["a user deletes someone else's jar", subject(), 'jars:delete', theirs, 'not_owner'],
    ['a user shares their jar with a verified e-mail', subject(), 'jars:share', mine, 'allowed'],
    [
      'a user shares their jar with an unverified e-mail',
      subject({ emailVerified: false }),
      'jars:share',
      mine,
      'email_not_verified',
    ],
    [
      'a user opens files of an unrestricted jar at aal1',
      subject(),
      'jars:files:read',
      { restricted: false },
      'allowed',
    ],
    [
      'a user opens files of a restricted jar at aal1',
      subject(),
      'jars:files:read',
      { restricted: true },
      'aal2_required',
    ],
    [
      'a user opens files of a restricted jar at aal2',
      subject({ aal: 'aal2' }),
      'jars:files:write',
      { restricted: true },
      'allowed',
    ],
    [
      'a route guard asks without a resource (owner is checked later)',
      subject(),
      'jars:delete',
      undefined,
      'allowed',
    ],
    [
      'a user without a role opens the admin API',
      subject({ aal: 'aal2' }),
      'admin:users:read',
      undefined,
      'no_role',
    ],
    [
      'an admin at aal1 opens the admin API',
      subject({ roles: ['admin'] }),
      'admin:users:read',
      undefined,
      'aal2_required',
    ],
    [
      'an admin at aal2 opens the admin API',
      subject({ roles: ['admin'], aal: 'aal2' }),
      'admin:users:read',
      undefined,
      'allowed',
    ],
    [
      'an admin inherits the user permissions',
      subject({ roles: ['admin'] }),
      'jars:create',
      undefined,
      'allowed',
    ],
    [
      'an admin inherits the auditor permissions',
      subject({ roles: ['admin'], aal: 'aal2' }),
      'admin:audit:read',
      undefined,
      'allowed',
    ],
    [
      'an auditor reads the audit log at aal2',
      subject({ roles: ['auditor'], aal: 'aal2' }),
      'admin:audit:read',
      undefined,
      'allowed',
    ],
    [
      'an auditor changes roles',
      subject({ roles: ['auditor'], aal: 'aal2' }),
      'admin:roles:write',
      undefined,
      'no_role',
    ],
    [
      'a role the policy does not know grants nothing',
      subject({ roles: ['root'], aal: 'aal2' }),
      'admin:keys:read',
      undefined,
      'no_role',
    ],
    [
      'a permission the policy does not declare',
      subject({ roles: ['admin'], aal: 'aal2' }),
      'admin:everything',
      undefined,
      'unknown_permission',
    ],
  ];
  for (const [name, who, permission, resource, expected] of table) {
    it(`${name}: ${expected}`, () => {
      const decision = policy.authorize(who, permission, resource);
      assert.equal(decision.allowed ? 'allowed' : decision.reason, expected);
    });
  }

  it('lists the roles it defines', () => {
    assert.deepEqual(new Set(policy.roles), new Set(['user', 'auditor', 'admin']));
  });
});

describe('createPolicy (validation at startup)', () => {
  const valid = {
    roles: { user: { permissions: ['a:read'] } },
    permissions: { 'a:read': {} },
  };

  it('accepts a minimal policy', () => {
    const p = createPolicy(valid);
    assert.deepEqual([...p.permissionsOf(['user'])], ['a:read']);
  });

  const broken: [string, unknown, RegExp][] = [
    [
      'a role granting an undeclared permission',
      { ...valid, roles: { user: { permissions: ['b:write'] } } },
      /grants b:write/,
    ],
    [
      'a role inheriting an unknown role',
      { ...valid, roles: { user: { permissions: [], inherits: ['ghost'] } } },
      /unknown role ghost/,
    ],
    [
      'roles inheriting in a cycle',
      {
        ...valid,
        roles: { a: { permissions: [], inherits: ['b'] }, b: { permissions: [], inherits: ['a'] } },
      },
      /cycle/,
    ],
    ['an unknown condition', { ...valid, permissions: { 'a:read': { mfa: true } } }, /a:read/],
    ['an aal that does not exist', { ...valid, permissions: { 'a:read': { aal: 'aal3' } } }, /aal/],
    ['signedInRoles naming an unknown role', { ...valid, signedInRoles: ['nobody'] }, /signedInRoles/],
    [
      'mandatoryMfa naming an unknown role',
      { ...valid, mandatoryMfa: { roles: ['nobody'] } },
      /mandatoryMfa/,
    ],
    ['a negative grace period', { ...valid, mandatoryMfa: { graceDays: -1 } }, /graceDays/],
    ['a grace period that is not a date', { ...valid, mandatoryMfa: { since: 'soon' } }, /since/],
    ['a way to exempt someone', { ...valid, mandatoryMfa: { exempt: ['a'] } }, /mandatoryMfa/],
  ];
  for (const [name, document, message] of broken) {
    it(`refuses ${name}, naming the problem`, () => {
      assert.throws(
        () => createPolicy(document, 'policy.json'),
        (err: unknown) =>
          err instanceof ConfigError && message.test(err.message) && /policy\.json/.test(err.message),
      );
    });
  }

  it('reports a missing policy file as a configuration problem', () => {
    assert.throws(
      () => loadPolicy('does/not/exist.json'),
      (err: unknown) => err instanceof ConfigError && /POLICY_FILE/.test(err.message),
    );
  });
});

describe('mandatory second factor (mandatoryMfa)', () => {
  const roles = {
    user: { permissions: ['jars:read'] },
    support: { permissions: ['jars:read'] },
    auditor: { permissions: ['admin:audit:read'] },
    admin: { inherits: ['user'], permissions: ['admin:users:write'] },
  };
  const permissions = {
    'jars:read': {},
    'admin:audit:read': { aal: 'aal2' },
    'admin:users:write': { aal: 'aal2' },
  };
  const withRule = (mandatoryMfa?: unknown) =>
    createPolicy({ signedInRoles: ['user'], roles, permissions, ...(mandatoryMfa ? { mandatoryMfa } : {}) });

  it('always covers roles that grant an admin permission, even when the policy names none', () => {
    const policy = withRule();
    assert.deepEqual(policy.mfaRequirement(['admin']), { graceDays: 0 });
    assert.deepEqual(policy.mfaRequirement(['auditor']), { graceDays: 0 });
    assert.equal(policy.mfaRequirement([]), undefined);
    assert.equal(policy.mfaRequirement(['support']), undefined);
  });

  it('covers the roles it names, or everyone, with their grace period and start', () => {
    const byRole = withRule({ roles: ['support'], graceDays: 14, since: '2026-12-01T00:00:00Z' });
    assert.deepEqual(byRole.mfaRequirement(['support']), {
      graceDays: 14,
      since: new Date('2026-12-01T00:00:00Z'),
    });
    assert.equal(byRole.mfaRequirement([]), undefined);
    assert.deepEqual(byRole.mfaRequirement(['admin'])?.graceDays, 14);
    const everyone = withRule({ allUsers: true, graceDays: 7 });
    assert.deepEqual(everyone.mfaRequirement([]), { graceDays: 7 });
    // A role every signed-in person has covers everyone.
    assert.deepEqual(withRule({ roles: ['user'] }).mfaRequirement([]), { graceDays: 0 });
  });

  it('the checked-in policy requires it of administrators and auditors only', () => {
    assert.ok(policy.mfaRequirement(['admin']));
    assert.ok(policy.mfaRequirement(['auditor']));
    assert.equal(policy.mfaRequirement([]), undefined);
  });
});
