/**
 * Vault with TLS on, as docs/operator-guide.md ("TLS inside the core network") configures it:
 * the real server started from vault/config/vault.hcl through vault/render-config.sh with
 * VAULT_TLS_DISABLE=false and a certificate a private CA signed; vault/init.sh sets it up over
 * https with VAULT_CACERT (as vault-init and vault-unsealer would), and the gateway's client
 * reaches it with that CA (VAULT_CACERT), logging in by AppRole. Without the CA it refuses.
 *
 * Part of the real-stack tier (`npm run test:real`), which builds on `npm run real:build`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createVaultClient } from '../../gateway/src/keys/vault-client.js';
import { createVaultKeyService } from '../../gateway/src/keys/vault-key-service.js';
import { repoPath } from '../config/paths.js';
import { binDir, freePortPair, initEnv, initScript, requireVault, runScript } from '../helpers/real-vault.js';
import { createTestPki, type TestPki } from '../helpers/tls.js';

describe('Vault with TLS on (VAULT_TLS_DISABLE=false), clients with VAULT_CACERT', () => {
  let pki: TestPki;
  let root: string;
  let addr: string;
  let server: ChildProcess | undefined;
  let output = '';

  before(async () => {
    pki = createTestPki();
    root = mkdtempSync(path.join(tmpdir(), 'vault-tls-'));
    const port = await freePortPair();
    addr = `https://127.0.0.1:${port}`;
    server = spawn('sh', [repoPath('vault', 'render-config.sh')], {
      env: {
        PATH: `${binDir(root, requireVault())}${path.delimiter}${process.env.PATH ?? ''}`,
        HOME: root,
        VAULT_CONFIG_TEMPLATE: repoPath('vault', 'config', 'vault.hcl'),
        VAULT_CONFIG_RENDERED: path.join(root, 'rendered', 'vault.hcl'),
        VAULT_DATA_DIR: path.join(root, 'data'),
        VAULT_LISTEN_ADDRESS: `127.0.0.1:${port}`,
        VAULT_API_ADDR: addr,
        VAULT_CLUSTER_ADDR: `https://127.0.0.1:${port + 1}`,
        VAULT_TLS_DISABLE: 'false',
        VAULT_TLS_CERT_FILE: pki.serverCertFile,
        VAULT_TLS_KEY_FILE: pki.serverKeyFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    server.stdout?.on('data', keep);
    server.stderr?.on('data', keep);
    const client = createVaultClient({ addr, auth: { token: 'none' }, timeoutMs: 2000, caCert: pki.caPem });
    const deadline = Date.now() + 30_000;
    while ((await client.health()).status !== 'uninitialized') {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`Vault over TLS: ${output}`);
      await sleep(100);
    }
  });

  after(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    if (root) rmSync(root, { recursive: true, force: true });
    pki?.close();
  });

  it('is set up by init.sh over https with VAULT_CACERT, and serves the gateway with its CA only', async () => {
    const env = initEnv(root, addr, { VAULT_CACERT: pki.caFile });
    const setup = await runScript(initScript, [], env);
    assert.equal(setup.code, 0, `${setup.stdout}\n${setup.stderr}\n${output}`);
    assert.match(setup.stdout, /vault-init: ready/);

    const keysWith = (caCert?: string) =>
      createVaultKeyService({
        client: createVaultClient({
          addr,
          auth: {
            roleId: readFileSync(path.join(root, 'approle', 'role-id'), 'utf8').trim(),
            secretIdFile: path.join(root, 'approle', 'secret-id'),
          },
          timeoutMs: 5000,
          caCert,
        }),
        mount: 'transit',
        keyName: 'gateway-files',
      });
    const keys = keysWith(pki.caPem);
    assert.equal((await keys.health()).ok, true);
    const dataKey = await keys.createDataKey('user-1');
    assert.deepEqual(await keys.unwrapDataKey('user-1', dataKey.wrapped), dataKey.plaintext);

    await assert.rejects(keysWith().createDataKey('user-1'), (error: { code?: string; status?: number }) => {
      assert.equal(error.code, 'keys_unavailable');
      assert.equal(error.status, 503);
      return true;
    });
    const status = await runScript(initScript, ['status'], env);
    assert.match(status.stdout, /^vault: unsealed \(shamir seal\)$/m);
  });
});
