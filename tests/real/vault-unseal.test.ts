/**
 * The stack's Vault with the real server: started from vault/config/vault.hcl through
 * vault/render-config.sh with its raft storage in a temp folder (compose mounts the
 * vault-data volume there), set up by vault/init.sh, restarted, and unsealed again by
 * `init.sh watch` (the vault-unsealer service) without a person. The transit key, the
 * AppRole and the operator token survive. A second suite proves the documented auto-unseal
 * option (vault/config/seal-transit.hcl.example) with a second, dev-mode Vault.
 *
 * Part of the real-stack tier (`npm run test:real`), which builds on `npm run real:build`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoPath } from '../config/paths.js';
import {
  api,
  freePortPair,
  initEnv,
  initScript,
  requireVault,
  runScript,
  VaultServer,
  waitForSealStatus,
} from '../helpers/real-vault.js';

const read = (file: string) => readFileSync(file, 'utf8').trim();
const context = Buffer.from('user-0001').toString('base64');

async function gatewayLogin(addr: string, root: string): Promise<string> {
  const login = await api(addr, 'POST', 'auth/approle/login', {
    body: {
      role_id: read(path.join(root, 'approle', 'role-id')),
      secret_id: read(path.join(root, 'approle', 'secret-id')),
    },
  });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  return String(login.body.auth?.client_token);
}

describe('Vault from vault/config/vault.hcl, set up by vault/init.sh', () => {
  let root: string;
  let vault: VaultServer;
  let env: NodeJS.ProcessEnv;
  let wrapped: { ciphertext: string; plaintext: string };

  before(async () => {
    requireVault();
    root = mkdtempSync(path.join(tmpdir(), 'vault-real-'));
    vault = new VaultServer(root, await freePortPair());
    await vault.start();
    env = initEnv(root, vault.addr);
  });

  after(async () => {
    await vault?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('starts on first run with its raft storage in the folder compose mounts, and init.sh sets it up', async () => {
    const first = await waitForSealStatus(vault.addr, () => true, 'reachable');
    assert.equal(first.initialized, false);
    const run = await runScript(initScript, [], env);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${vault.output}`);
    assert.match(run.stdout, /vault-init: ready/);
    const status = await waitForSealStatus(vault.addr, (s) => !s.sealed, 'unsealed');
    assert.equal(status.type, 'shamir');
    assert.ok(readdirSync(vault.dataDir).length > 0, 'raft files in VAULT_DATA_DIR');
    for (const file of ['unseal/unseal-key', 'unseal/root-token', 'approle/role-id', 'approle/secret-id']) {
      assert.ok(read(path.join(root, file)).length > 0, `${file} written`);
    }
    assert.equal(statSync(path.join(root, 'approle', 'role-id')).mode & 0o777, 0o400);
    // Group-readable: vault-unsealer (the gateway's group) checks and replaces it.
    assert.equal(statSync(path.join(root, 'approle', 'secret-id')).mode & 0o777, 0o440);
    assert.equal(statSync(path.join(root, 'operator', 'token')).mode & 0o777, 0o440);
  });

  it('records every request in the file audit device', async () => {
    const token = read(path.join(root, 'unseal', 'root-token'));
    const devices = await api(vault.addr, 'GET', 'sys/audit', { token });
    assert.equal(devices.status, 200);
    assert.ok('file/' in (devices.body.data ?? devices.body), JSON.stringify(devices.body));
    assert.match(readFileSync(path.join(root, 'logs', 'audit.log'), 'utf8'), /"type":"request"/);
  });

  it('gives the gateway an AppRole secret id with a TTL and a CIDR binding, and a key to wrap with', async () => {
    const token = read(path.join(root, 'unseal', 'root-token'));
    const role = await api(vault.addr, 'GET', 'auth/approle/role/gateway', { token });
    assert.equal(role.body.data?.secret_id_ttl, 2160 * 3600);
    assert.deepEqual(role.body.data?.secret_id_bound_cidrs, ['127.0.0.1/32']);
    const gatewayToken = await gatewayLogin(vault.addr, root);
    const datakey = await api(vault.addr, 'POST', 'transit/datakey/plaintext/gateway-files', {
      token: gatewayToken,
      body: { context },
    });
    assert.equal(datakey.status, 200, JSON.stringify(datakey.body));
    wrapped = {
      ciphertext: String(datakey.body.data?.ciphertext),
      plaintext: String(datakey.body.data?.plaintext),
    };
  });

  it('gives the keys tool a periodic operator token, and a second run renews it instead of replacing it', async () => {
    const operatorToken = read(path.join(root, 'operator', 'token'));
    const secretId = read(path.join(root, 'approle', 'secret-id'));
    const lookup = await api(vault.addr, 'GET', 'auth/token/lookup-self', { token: operatorToken });
    assert.equal(lookup.body.data?.period, 768 * 3600);
    assert.equal(lookup.body.data?.renewable, true);
    const again = await runScript(initScript, [], env);
    assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
    assert.match(again.stdout, /renewed the operator token/);
    assert.doesNotMatch(again.stdout, /created transit key|issued/);
    assert.equal(read(path.join(root, 'operator', 'token')), operatorToken);
    assert.equal(read(path.join(root, 'approle', 'secret-id')), secretId);
  });

  it('issues a new operator token when the stored one no longer works', async () => {
    const rootToken = read(path.join(root, 'unseal', 'root-token'));
    const old = read(path.join(root, 'operator', 'token'));
    await api(vault.addr, 'POST', 'auth/token/revoke', { token: rootToken, body: { token: old } });
    const run = await runScript(initScript, [], env);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /issued the operator token/);
    const fresh = read(path.join(root, 'operator', 'token'));
    assert.notEqual(fresh, old);
    assert.equal((await api(vault.addr, 'GET', 'auth/token/lookup-self', { token: fresh })).status, 200);
  });

  it('is unsealed again by the unsealer after a restart, with the transit key intact', async () => {
    await vault.stop();
    await vault.start();
    await waitForSealStatus(vault.addr, (s) => s.initialized && s.sealed, 'sealed after the restart');
    const watcher = spawn('sh', [initScript, 'watch'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let watchLog = '';
    watcher.stdout.on('data', (chunk: Buffer) => (watchLog += chunk.toString()));
    watcher.stderr.on('data', (chunk: Buffer) => (watchLog += chunk.toString()));
    try {
      await waitForSealStatus(vault.addr, (s) => !s.sealed, 'unsealed by init.sh watch').catch(
        (error: unknown) => {
          throw new Error(`${String(error)}\n${watchLog}`);
        },
      );
      // Vault may say so before the watcher has written its line about it.
      for (const deadline = Date.now() + 10_000; !/unsealed/.test(watchLog) && Date.now() < deadline;)
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      watcher.kill('SIGTERM');
      await once(watcher, 'exit');
    }
    assert.match(watchLog, /unsealed/);
    const decrypted = await api(vault.addr, 'POST', 'transit/decrypt/gateway-files', {
      token: await gatewayLogin(vault.addr, root),
      body: { ciphertext: wrapped.ciphertext, context },
    });
    assert.equal(decrypted.status, 200, JSON.stringify(decrypted.body));
    assert.equal(decrypted.body.data?.plaintext, wrapped.plaintext);
  });

  it('reports the seal, the operator token lifetime and the secret id age in `init.sh status`', async () => {
    const run = await runScript(initScript, ['status'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^vault: unsealed \(shamir seal\)$/m);
    assert.match(run.stdout, /^operator token: 76\dh\d+m\d+s left/m);
    assert.match(
      run.stdout,
      /^gateway secret id: issued 0 days ago, valid 2160h \(replaced by the vault-unsealer service after 30 days\)$/m,
    );
    assert.doesNotMatch(run.stdout, /WARNING/);
  });
});

describe('auto-unseal with vault/config/seal-transit.hcl.example', () => {
  let root: string;
  let unsealVault: ChildProcess | undefined;
  let vault: VaultServer;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const binary = requireVault();
    root = mkdtempSync(path.join(tmpdir(), 'vault-autounseal-'));
    // The unseal Vault: a dev server with a transit key for the stack's Vault's root key.
    const unsealPort = await freePortPair();
    const unsealAddr = `http://127.0.0.1:${unsealPort}`;
    const rootToken = randomBytes(12).toString('hex');
    unsealVault = spawn(
      binary,
      ['server', '-dev', `-dev-root-token-id=${rootToken}`, `-dev-listen-address=127.0.0.1:${unsealPort}`],
      { env: { PATH: process.env.PATH, HOME: root }, stdio: 'ignore' },
    );
    await waitForSealStatus(unsealAddr, (s) => !s.sealed, 'a running dev Vault', unsealVault);
    assert.equal(
      (await api(unsealAddr, 'POST', 'sys/mounts/transit', { token: rootToken, body: { type: 'transit' } }))
        .status,
      204,
    );
    await api(unsealAddr, 'POST', 'transit/keys/auth-gateway-unseal', { token: rootToken, body: {} });

    const example = readFileSync(repoPath('vault', 'config', 'seal-transit.hcl.example'), 'utf8');
    const sealFile = path.join(root, 'seal-transit.hcl');
    writeFileSync(sealFile, example.replace('https://unseal-vault.example.com:8200', unsealAddr));
    assert.notEqual(readFileSync(sealFile, 'utf8'), example, 'the example names the address to replace');
    vault = new VaultServer(path.join(root, 'stack'), await freePortPair(), [`-config=${sealFile}`], {
      VAULT_TOKEN: rootToken,
    });
    mkdirSync(path.join(root, 'stack'));
    await vault.start();
    env = initEnv(path.join(root, 'stack'), vault.addr);
  });

  after(async () => {
    await vault?.stop();
    if (unsealVault && unsealVault.exitCode === null) {
      unsealVault.kill('SIGTERM');
      await once(unsealVault, 'exit');
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('is initialised with a recovery key, stores no unseal key, and unseals itself after a restart', async () => {
    const run = await runScript(initScript, [], env);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${vault.output}`);
    assert.match(run.stdout, /auto-unseal \(transit\)/);
    const stack = path.join(root, 'stack');
    assert.equal(existsSync(path.join(stack, 'unseal', 'unseal-key')), false);
    assert.ok(read(path.join(stack, 'unseal', 'recovery-key')).length > 0);
    const gatewayToken = await gatewayLogin(vault.addr, stack);
    const datakey = await api(vault.addr, 'POST', 'transit/datakey/plaintext/gateway-files', {
      token: gatewayToken,
      body: { context },
    });
    assert.equal(datakey.status, 200);

    await vault.stop();
    await vault.start();
    // No unsealer runs here: the transit seal alone unseals it.
    await waitForSealStatus(vault.addr, (s) => s.initialized && !s.sealed, 'unsealed by its transit seal');
    const decrypted = await api(vault.addr, 'POST', 'transit/decrypt/gateway-files', {
      token: await gatewayLogin(vault.addr, stack),
      body: { ciphertext: datakey.body.data?.ciphertext, context },
    });
    assert.equal(decrypted.body.data?.plaintext, datakey.body.data?.plaintext);
  });
});
