import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createAuditLog } from '../../gateway/src/audit/audit-log.js';
import { checkpointDir, readCheckpoints } from '../../gateway/src/audit/checkpoints.js';
import { verifyAuditChain } from '../../gateway/src/audit/verify-chain.js';
import { loadConfig } from '../../gateway/src/config.js';
import { resolveAuditChainKey } from '../../gateway/src/keys/audit-chain-key.js';
import { startVaultDouble } from '../doubles/vault/index.js';
import { openTestDatabase } from '../helpers/database.js';
import { startGatewayWithVault, startTestGateway } from '../helpers/gateway.js';
import { Browser, uniqueEmail } from '../helpers/http.js';

const wrongLogin = (auth: string) =>
  new Browser(auth).post('/login/password', { identifier: uniqueEmail(), password: 'wrong-password-1' });

const kinds = async (dataDir: string) =>
  (await readCheckpoints(checkpointDir(dataDir))).map((l) =>
    'checkpoint' in l ? `${l.checkpoint.kind}@${l.checkpoint.seq}` : 'unreadable',
  );

describe('the keyed audit chain of a running gateway', () => {
  it('keys every row with the local keyring subkey, and checkpoints its head at start and shutdown', async () => {
    const gw = await startTestGateway();
    const dataDir = gw.deps.config.DATA_DIR;
    try {
      await wrongLogin(gw.auth);
      await wrongLogin(gw.auth);
      const report = await gw.deps.audit.verify!();
      assert.ok(report.ok, JSON.stringify(report));
      assert.equal(report.keyedFrom, 1);
      assert.equal((await verifyAuditChain(gw.deps.db)).ok, false, 'without the key the rows do not verify');
    } finally {
      const { rows } = await gw.deps.db.query<{ seq: string }>('SELECT max(seq) AS seq FROM audit_events');
      await gw.close();
      assert.deepEqual(await kinds(dataDir), ['start@0', `shutdown@${Number(rows[0]!.seq)}`]);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('with Vault, derives the key from one transit HMAC at start, never per event, and the same key again', async () => {
    // Counts the Vault double's requests, so it runs against the double in every tier.
    const { gw, vault, close } = await startGatewayWithVault({}, 'double');
    try {
      for (let i = 0; i < 5; i++) await wrongLogin(gw.auth);
      const report = await gw.deps.audit.verify!();
      assert.ok(report.ok, JSON.stringify(report));
      const hmacs = () =>
        (vault as unknown as { requests: { path: string }[] }).requests.filter((r) =>
          r.path.includes('/transit/hmac/gateway-audit-chain'),
        ).length;
      assert.equal(hmacs(), 1);
      const again = await resolveAuditChainKey(gw.deps.config);
      const once = await resolveAuditChainKey(gw.deps.config);
      assert.equal(again.source, 'vault transit hmac');
      assert.ok(again.key.equals(once.key), 'the derivation is stable, so a restart verifies the old rows');
      const fromKeyring = await resolveAuditChainKey({ ...gw.deps.config, KEYS_BACKEND: 'local' });
      assert.ok(!again.key.equals(fromKeyring.key));
    } finally {
      await close();
    }
  });

  it('has no key, and so no start, when Vault lacks the audit chain key (init.sh creates it)', async () => {
    const vault = await startVaultDouble();
    vault.transit.create('gateway-files', { derived: true });
    try {
      const config = loadConfig({
        KEYS_BACKEND: 'vault',
        VAULT_ADDR: vault.url,
        VAULT_TOKEN: vault.rootToken,
      });
      await assert.rejects(resolveAuditChainKey(config), { code: 'keys_error' });
    } finally {
      await vault.close();
    }
  });

  it('refuses a malformed or guessable AUDIT_CHAIN_KEY in the configuration', () => {
    assert.throws(() => loadConfig({ AUDIT_CHAIN_KEY: 'short' }), /AUDIT_CHAIN_KEY must be 32 bytes/);
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production', AUDIT_CHAIN_KEY: Buffer.alloc(32).toString('base64') }),
      /AUDIT_CHAIN_KEY is guessable/,
    );
  });
});

describe('keyed group commit', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it('commits many concurrent keyed events as one chain, with a checkpoint every N events', async () => {
    const { db, close } = await openTestDatabase({ migrated: true });
    const dir = await mkdtemp(join(tmpdir(), 'gw-audit-chain-'));
    cleanups.push(async () => {
      await close();
      await rm(dir, { recursive: true, force: true });
    });
    const key = randomBytes(32);
    const audit = createAuditLog({
      db,
      clock: () => new Date(),
      chain: { key, checkpointDir: checkpointDir(dir), everyEvents: 100, intervalSeconds: 0 },
    });
    await Promise.all(
      Array.from({ length: 250 }, (_, i) =>
        audit.record({ type: 'login.password', outcome: 'success', identityId: `id-${i}`, details: { i } }),
      ),
    );
    await audit.close!();
    const checkpoints = await readCheckpoints(checkpointDir(dir));
    // The start, then one per batch that reached 100 uncovered events (group commit makes few, large batches).
    assert.ok(checkpoints.length >= 2, `${checkpoints.length} checkpoints`);
    const report = await verifyAuditChain(db, { key, checkpoints });
    assert.ok(report.ok, JSON.stringify(report));
    assert.equal(report.lastSeq, 250);
    assert.equal(report.newestCheckpoint, 250);
  });
});
