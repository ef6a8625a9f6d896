/**
 * The configuration of TLS on the internal connections (VAULT_CACERT, REDIS_TLS_CA_FILE) and of
 * the AppRole secret id file the gateway reads again at every Vault login (VAULT_SECRET_ID_FILE).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../gateway/src/config.js';
import { createTestPki, type TestPki } from '../helpers/tls.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
}

describe('TLS and secret id file configuration', () => {
  let pki: TestPki;
  let dir: string;
  let notPem: string;

  before(() => {
    pki = createTestPki();
    dir = mkdtempSync(path.join(tmpdir(), 'config-tls-'));
    notPem = path.join(dir, 'not-a-certificate.txt');
    writeFileSync(notPem, 'hello\n');
  });
  after(() => {
    pki.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts VAULT_CACERT with an https VAULT_ADDR and keeps the path', () => {
    const config = loadConfig({ VAULT_ADDR: 'https://vault:8200', VAULT_CACERT: pki.caFile });
    assert.equal(config.VAULT_CACERT, pki.caFile);
  });

  it('refuses VAULT_CACERT with an http VAULT_ADDR, an unreadable file or one without a certificate', () => {
    assert.deepEqual(problemsOf({ VAULT_ADDR: 'http://vault:8200', VAULT_CACERT: pki.caFile }), [
      'VAULT_CACERT is set, so VAULT_ADDR must start with https://',
    ]);
    assert.deepEqual(
      problemsOf({ VAULT_ADDR: 'https://vault:8200', VAULT_CACERT: path.join(dir, 'missing.pem') }),
      ['VAULT_CACERT: cannot read the file it names'],
    );
    assert.deepEqual(problemsOf({ VAULT_ADDR: 'https://vault:8200', VAULT_CACERT: notPem }), [
      'VAULT_CACERT: the file it names holds no PEM certificate',
    ]);
  });

  it('accepts REDIS_TLS_CA_FILE with a rediss:// REDIS_URL', () => {
    const config = loadConfig({ REDIS_URL: 'rediss://:pw@redis:6380/0', REDIS_TLS_CA_FILE: pki.caFile });
    assert.equal(config.REDIS_TLS_CA_FILE, pki.caFile);
    assert.equal(config.REDIS_URL, 'rediss://:pw@redis:6380/0');
  });

  it('refuses REDIS_TLS_CA_FILE with a plain redis:// URL without quoting the URL (it holds the password)', () => {
    const problems = problemsOf({
      REDIS_URL: 'redis://:a-redis-password-0123@redis:6379/0',
      REDIS_TLS_CA_FILE: pki.caFile,
    });
    assert.deepEqual(problems, ['REDIS_TLS_CA_FILE is set, so REDIS_URL must start with rediss://']);
    assert.ok(!problems.join(' ').includes('a-redis-password-0123'));
    assert.deepEqual(problemsOf({ REDIS_URL: 'rediss://redis:6380', REDIS_TLS_CA_FILE: notPem }), [
      'REDIS_TLS_CA_FILE: the file it names holds no PEM certificate',
    ]);
  });

  it('keeps VAULT_SECRET_ID_FILE beside the secret id it read, for the logins that follow', () => {
    const file = path.join(dir, 'secret-id');
    writeFileSync(file, 'a-secret-id-0123456789\n');
    const config = loadConfig({
      KEYS_BACKEND: 'vault',
      VAULT_ADDR: 'http://vault:8200',
      VAULT_ROLE_ID: 'role',
      VAULT_SECRET_ID_FILE: file,
    });
    assert.equal(config.VAULT_SECRET_ID, 'a-secret-id-0123456789');
    assert.equal(config.VAULT_SECRET_ID_FILE, file);
  });
});
