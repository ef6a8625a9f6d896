import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { capabilitiesFor, parsePolicyHcl, type PolicyRule } from '../doubles/vault/policy.js';
import { readRepoFile, repoPath } from './paths.js';
import { scanVaultCalls, type VaultCall } from './vault-calls.js';

const MOUNT = 'transit';
const KEY = 'gateway-files';
/** The gateway's only HMAC is on the audit chain key (AUDIT_CHAIN_VAULT_KEY), never the files key. */
const AUDIT_CHAIN_KEY = 'gateway-audit-chain';

/**
 * Who makes each client operation: the running gateway (AppRole token, gateway.hcl) or an
 * operator through `encryption-keys` (operator token, operator.hcl). A new operation in
 * vault-client.ts fails the test below until it is placed here, and so in a policy.
 */
const OPERATION_ROLE: Record<string, 'gateway' | 'operator'> = {
  login: 'gateway',
  loginWith: 'gateway',
  renewOrRelogin: 'gateway',
  health: 'gateway',
  readKey: 'gateway',
  generateDataKey: 'gateway',
  decrypt: 'gateway',
  rewrap: 'gateway',
  hmac: 'gateway',
  createKey: 'operator',
  rotate: 'operator',
  configure: 'operator',
  backup: 'operator',
  restore: 'operator',
};

const calls = scanVaultCalls(readRepoFile('gateway', 'src', 'keys', 'vault-client.ts'), MOUNT, KEY).map(
  (call) =>
    call.operation === 'hmac' ? { ...call, path: call.path.replace(`/${KEY}`, `/${AUDIT_CHAIN_KEY}`) } : call,
);
const gatewayRules = parsePolicyHcl(readRepoFile('vault', 'policies', 'gateway.hcl'));
const operatorRules = parsePolicyHcl(readRepoFile('vault', 'policies', 'operator.hcl'));

function authenticatedCallsOf(role: 'gateway' | 'operator'): VaultCall[] {
  return calls.filter((call) => OPERATION_ROLE[call.operation] === role && call.capability !== 'none');
}

function grants(rules: PolicyRule[], call: VaultCall): boolean {
  return capabilitiesFor(rules, call.path).includes(call.capability);
}

describe('the Vault calls of gateway/src/keys/vault-client.ts', () => {
  it('are found in its source, the ones the gateway needs among them', () => {
    const paths = new Set(calls.map((call) => call.path));
    for (const path of [
      'transit/datakey/plaintext/gateway-files',
      'transit/decrypt/gateway-files',
      'transit/rewrap/gateway-files',
      'transit/keys/gateway-files',
      'auth/approle/login',
      'auth/token/renew-self',
      'sys/health',
    ]) {
      assert.ok(paths.has(path), `${path} is called`);
    }
  });

  it('each belong to the gateway or to the operator', () => {
    const unclassified = calls.filter((call) => !OPERATION_ROLE[call.operation]).map((c) => c.operation);
    assert.deepEqual(unclassified, []);
  });
});

describe('vault/policies/gateway.hcl', () => {
  it('grants every call the running gateway makes', () => {
    const denied = authenticatedCallsOf('gateway').filter((call) => !grants(gatewayRules, call));
    assert.deepEqual(denied, []);
  });

  it('grants exactly those calls: no other path, no other capability', () => {
    const needed = new Map<string, Set<string>>();
    for (const call of authenticatedCallsOf('gateway')) {
      needed.set(call.path, (needed.get(call.path) ?? new Set()).add(call.capability));
    }
    const granted = new Map(gatewayRules.map((rule) => [rule.path, new Set(rule.capabilities)]));
    assert.deepEqual(granted, needed);
  });

  it('never lets the gateway create, rotate, configure, back up or restore the key', () => {
    for (const call of authenticatedCallsOf('operator')) {
      assert.equal(grants(gatewayRules, call), false, `${call.operation} on ${call.path}`);
    }
    for (const rule of gatewayRules) {
      assert.ok(!rule.path.includes('*') && !rule.path.includes('+'), `${rule.path} is not a glob`);
      if (rule.path.startsWith(`${MOUNT}/keys/`)) assert.ok(!rule.capabilities.includes('create'), rule.path);
      assert.ok(!rule.capabilities.some((c) => ['sudo', 'delete', 'list'].includes(c)), rule.path);
    }
  });
});

describe('vault/policies/operator.hcl', () => {
  it('grants the key lifecycle calls of encryption-keys', () => {
    const denied = authenticatedCallsOf('operator').filter((call) => !grants(operatorRules, call));
    assert.deepEqual(denied, []);
  });

  it('lets vault-unsealer issue, check and destroy the gateway secret ids, and nothing else of the AppRole', () => {
    const role = 'auth/approle/role/gateway';
    for (const path of [`${role}/secret-id`, `${role}/secret-id/lookup`, `${role}/secret-id/destroy`])
      assert.deepEqual(capabilitiesFor(operatorRules, path), ['update'], path);
    for (const path of [
      role,
      `${role}/role-id`,
      `${role}/secret-id-accessor/lookup`,
      'auth/approle/role/other/secret-id',
      'auth/approle/login',
      'sys/auth/approle',
    ])
      assert.deepEqual(capabilitiesFor(operatorRules, path), [], path);
  });

  it('cannot obtain or unwrap data keys', () => {
    for (const op of [
      'datakey/plaintext',
      'datakey/wrapped',
      'decrypt',
      'encrypt',
      'rewrap',
      'export/encryption-key',
    ]) {
      const path = `${MOUNT}/${op}/${KEY}`;
      assert.deepEqual(capabilitiesFor(operatorRules, path), [], path);
    }
  });
});

describe('vault/policies/restore-check.hcl', () => {
  const rules = parsePolicyHcl(readRepoFile('vault', 'policies', 'restore-check.hcl'));
  const check = `${KEY}-restore-check-20261125T120000Z`;

  it('lets a dry-run restore use, then delete, its check key', () => {
    assert.ok(capabilitiesFor(rules, `${MOUNT}/restore/${check}`).includes('update'));
    assert.ok(capabilitiesFor(rules, `${MOUNT}/decrypt/${check}`).includes('update'));
    assert.ok(capabilitiesFor(rules, `${MOUNT}/keys/${check}/config`).includes('update'));
    assert.ok(capabilitiesFor(rules, `${MOUNT}/keys/${check}`).includes('delete'));
  });

  it('grants nothing on the live key', () => {
    for (const op of ['restore', 'decrypt', 'keys', 'datakey/plaintext', 'rewrap', 'backup']) {
      assert.deepEqual(capabilitiesFor(rules, `${MOUNT}/${op}/${KEY}`), [], op);
    }
  });

  it('is written by vault/init.sh and held by the encryption-keys token only', () => {
    const script = readRepoFile('vault', 'init.sh');
    assert.match(script, /vault policy write restore-check "\$policy_dir\/restore-check\.hcl"/);
    assert.match(script, /vault token create -orphan -policy=operator -policy=gateway -policy=restore-check/);
    assert.doesNotMatch(script, /token_policies=[^ ]*restore-check/);
  });
});

describe('vault/init.sh', () => {
  const script = readRepoFile('vault', 'init.sh');

  it('is valid POSIX shell', () => {
    execFileSync('sh', ['-n', repoPath('vault', 'init.sh')]);
  });

  it('creates the derived key that encryption-keys can back up', () => {
    assert.match(
      script,
      /type=aes256-gcm96 derived=true\s*\\?\s*exportable=true allow_plaintext_backup=true/,
    );
  });

  it('binds the AppRole to gateway.hcl alone and hands over role id and secret id as files', () => {
    assert.match(script, /auth\/approle\/role\/gateway token_policies=gateway token_no_default_policy=true/);
    assert.match(script, /vault policy write gateway "\$policy_dir\/gateway\.hcl"/);
    assert.match(script, /vault policy write operator "\$policy_dir\/operator\.hcl"/);
    assert.match(script, /role_id auth\/approle\/role\/gateway\/role-id >"\$approle_dir\/role-id"/);
    assert.match(script, /-field=secret_id auth\/approle\/role\/gateway\/secret-id\)/);
    assert.match(script, /chmod 0400 "\$approle_dir\/role-id"/);
    assert.match(script, /chmod 0440 "\$approle_dir\/secret-id"/);
  });

  it('replaces the secret id file atomically and passes secret ids to the vault CLI on stdin only', () => {
    assert.match(script, /mv -f "\$tmp" "\$approle_dir\/secret-id"/);
    // A secret id in an argument would show in `ps`: lookups and destroys read it from stdin.
    assert.doesNotMatch(script, /secret_id="\$/);
    assert.equal([...script.matchAll(/secret_id=- /g)].length, 2);
  });
});
