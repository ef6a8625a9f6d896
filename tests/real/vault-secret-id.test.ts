/**
 * The gateway's AppRole secret id with the real Vault: `vault/init.sh watch` (the
 * vault-unsealer service) replaces a secret id that is 30 days old, or that Vault no longer
 * accepts, with the operator token alone (no root token), writes the file atomically and
 * destroys the old id. The gateway's Vault client reads the file again at its next login:
 * after its tokens were revoked, the next key operation works with the new id. A secret id
 * Vault refuses answers 503 keys_unavailable until the file holds a valid one.
 *
 * Part of the real-stack tier (`npm run test:real`), which builds on `npm run real:build`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, renameSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { KeyService } from '../../gateway/src/keys/key-service.js';
import { createVaultClient } from '../../gateway/src/keys/vault-client.js';
import { createVaultKeyService } from '../../gateway/src/keys/vault-key-service.js';
import {
  api,
  initEnv,
  initScript,
  runScript,
  startRealVault,
  type RealVault,
} from '../helpers/real-vault.js';

const read = (file: string) => readFileSync(file, 'utf8').trim();

describe('the gateway secret id, rotated by vault/init.sh watch and read again by the gateway', () => {
  let vault: RealVault;
  let root: string;
  let env: NodeJS.ProcessEnv;
  let keys: KeyService;

  before(async () => {
    vault = await startRealVault();
    root = path.dirname(path.dirname(vault.secretIdFile));
    env = initEnv(root, vault.addr);
    const client = createVaultClient({
      addr: vault.addr,
      auth: { roleId: read(vault.roleIdFile), secretIdFile: vault.secretIdFile },
      timeoutMs: 5000,
    });
    keys = createVaultKeyService({ client, mount: 'transit', keyName: 'gateway-files' });
  });

  after(() => vault?.close());

  /** Runs `init.sh watch` until its log shows `line`, without the root token in reach. */
  async function watchUntil(line: RegExp): Promise<string> {
    const rootToken = path.join(root, 'unseal', 'root-token');
    renameSync(rootToken, `${rootToken}.away`);
    const watcher = spawn('sh', [initScript, 'watch'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    watcher.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    watcher.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!line.test(log)) {
        if (watcher.exitCode !== null || Date.now() > deadline) throw new Error(`init.sh watch: ${log}`);
        await sleep(100);
      }
      return log;
    } finally {
      watcher.kill('SIGTERM');
      await once(watcher, 'exit');
      renameSync(`${rootToken}.away`, rootToken);
    }
  }

  const loginStatus = async (secretId: string) =>
    (
      await api(vault.addr, 'POST', 'auth/approle/login', {
        body: { role_id: read(vault.roleIdFile), secret_id: secretId },
      })
    ).status;

  /** Revokes every token an AppRole login issued, as an operator would after a leak. */
  const revokeGatewayTokens = async () => {
    const answer = await api(vault.addr, 'PUT', 'sys/leases/revoke-prefix/auth/approle/login', {
      token: vault.rootToken,
    });
    assert.equal(answer.status, 204, JSON.stringify(answer.body));
  };

  it('replaces a 30-day-old secret id with the operator token alone, destroys the old one, and the gateway logs in with the new one', async () => {
    const dataKey = await keys.createDataKey('user-1');
    const old = read(vault.secretIdFile);
    const monthAgo = new Date(Date.now() - 31 * 86_400_000);
    utimesSync(vault.secretIdFile, monthAgo, monthAgo);

    const log = await watchUntil(/issued a new gateway secret id/);
    assert.doesNotMatch(log, /WARNING/);
    const fresh = read(vault.secretIdFile);
    assert.notEqual(fresh, old);
    assert.equal(statSync(vault.secretIdFile).mode & 0o777, 0o440);
    assert.ok(Date.now() - statSync(vault.secretIdFile).mtimeMs < 60_000, 'a new file');
    assert.equal(await loginStatus(old), 400, 'the replaced secret id is destroyed');
    assert.equal(await loginStatus(fresh), 200);

    await revokeGatewayTokens();
    assert.deepEqual(await keys.unwrapDataKey('user-1', dataKey.wrapped), dataKey.plaintext);
  });

  it('answers 503 keys_unavailable while Vault refuses the stored secret id, and recovers once watch replaced it', async () => {
    const current = read(vault.secretIdFile);
    const destroyed = await api(vault.addr, 'POST', 'auth/approle/role/gateway/secret-id/destroy', {
      token: vault.rootToken,
      body: { secret_id: current },
    });
    assert.equal(destroyed.status, 204);
    await revokeGatewayTokens();
    await assert.rejects(keys.createDataKey('user-2'), (error: { code?: string; status?: number }) => {
      assert.equal(error.code, 'keys_unavailable');
      assert.equal(error.status, 503);
      return true;
    });

    const status = await runScript(initScript, ['status'], env);
    assert.match(status.stdout, /WARNING: Vault does not accept the stored gateway secret id/);

    await watchUntil(/issued a new gateway secret id/);
    assert.notEqual(read(vault.secretIdFile), current);
    assert.equal((await keys.createDataKey('user-2')).plaintext.length, 32);
    const after = await runScript(initScript, ['status'], env);
    assert.doesNotMatch(after.stdout, /WARNING/);
  });
});
