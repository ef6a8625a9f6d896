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
