import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createClient } from 'redis';
import { parse } from 'yaml';
import { describeErrors, draft07Validator, readReferenceJson, readRepoFile } from './paths.js';
import { freePort } from '../helpers/net.js';

interface Service {
  image?: string;
  build?: unknown;
  ports?: unknown[];
  expose?: unknown[];
  network_mode?: string;
  networks?: string[] | Record<string, unknown>;
  environment?: Record<string, string> | string[];
  command?: string | string[];
  volumes?: (string | { target?: string })[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  profiles?: string[];
}

interface ComposeFile {
  services: Record<string, Service>;
  networks?: Record<string, { internal?: boolean } | null>;
}

const composeText = readRepoFile('docker-compose.yml');
// Docker Compose resolves YAML merge keys (<<), so the test reads the file the same way.
const compose = parse(composeText, { merge: true }) as ComposeFile;
const services = compose.services;

/** `${VAR}`, `${VAR:-default}`, `${VAR:?message}` references, without the escaped `$${...}`. */
function interpolatedNames(text: string): Set<string> {
  const names = [...text.matchAll(/(?<!\$)\$\{([A-Z_][A-Z0-9_]*)(?:[:?+-][^}]*)?\}/g)].map((m) => m[1] ?? '');
  return new Set(names);
}

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (!Array.isArray(env))
    return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v ?? '')]));
  return Object.fromEntries(
    env.map((entry) => [entry.split('=')[0] ?? '', entry.split('=').slice(1).join('=')]),
  );
}

function networksOf(service: Service): string[] {
  const networks = service.networks ?? [];
  return Array.isArray(networks) ? networks : Object.keys(networks);
}

const SECRET_NAME = /PASSWORD|SECRET|TOKEN|API_KEY|ENCRYPTION_KEY|PRIVATE|CREDENTIAL|AUTH$|^DSN$/;

/** A value is safe when it carries no literal secret: empty, a placeholder, or a file path. */
function carriesLiteralSecret(name: string, value: string): boolean {
  if (name.endsWith('_FILE')) return false;
  const withoutPlaceholders = value.replace(/\$\{[^}]+\}/g, '');
  const credentialInUrl = /:\/\/[^/\s:@]*:([^@\s/]+)@/.exec(withoutPlaceholders);
  if (credentialInUrl) return true;
  if (!SECRET_NAME.test(name)) return false;
  return withoutPlaceholders.trim() !== '' && !value.includes('${');
}

describe('docker-compose.yml', () => {
  it('is a valid Compose file according to the published compose-spec schema', () => {
    const schema = readReferenceJson('compose-spec', 'compose-spec.json');
    assert.match(
      String(schema.$schema),
      /draft-07/,
      'the compose spec declares draft-07: the default Ajv class',
    );
    const validate = draft07Validator().compile(schema);
    const valid = validate(compose);
    assert.equal(valid, true, describeErrors(validate.errors));
  });

  it('contains no secret literal: every secret is a ${VAR} from .env', () => {
    const offenders = Object.entries(services).flatMap(([name, service]) =>
      Object.entries(environmentOf(service))
        .filter(([key, value]) => carriesLiteralSecret(key, value))
        .map(([key]) => `${name}.${key}`),
    );
    assert.deepEqual(offenders, []);
    assert.doesNotMatch(composeText, /\b(hvs|s)\.[A-Za-z0-9]{20,}\b/, 'no Vault token');
    assert.doesNotMatch(composeText, /\b[a-f0-9]{32,}\b|\b[A-Za-z0-9+/]{40,}={0,2}/, 'no key-like literal');
  });

  it('requires every secret to be set instead of starting with an empty one', () => {
    const secretRefs = [...composeText.matchAll(/\$\{([A-Z_][A-Z0-9_]*)([:?+-][^}]*)?\}/g)].filter(
      ([, name]) => SECRET_NAME.test(name ?? ''),
    );
    assert.ok(secretRefs.length > 5);
    for (const [ref, , modifier] of secretRefs)
      assert.match(modifier ?? '', /^:\?/, `${ref} must use :? (required)`);
  });

  it('declares every interpolated variable in .env.example, with the secrets left empty', () => {
    const example = readRepoFile('.env.example');
    const declared = new Map(
      [...example.matchAll(/^([A-Z_][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? ''] as const),
    );
    const missing = [...interpolatedNames(composeText)].filter((name) => !declared.has(name));
    assert.deepEqual(missing, []);
    const filledSecrets = [...declared].filter(
      ([name, value]) => carriesLiteralSecret(name, value) || (SECRET_NAME.test(name) && value !== ''),
    );
    assert.deepEqual(filledSecrets, []);
  });

  it('keeps .env out of git and out of the image build context', () => {
    assert.match(readRepoFile('.gitignore'), /^\.env$/m);
    assert.match(readRepoFile('.dockerignore'), /^\.env$/m);
  });

  it('publishes ports for nginx only, and only 80 and 443', () => {
    const publishing = Object.entries(services)
      .filter(([, s]) => (s.ports ?? []).length > 0 || s.network_mode === 'host')
      .map(([name]) => name);
    assert.deepEqual(publishing, ['nginx']);
    const published = (services.nginx?.ports ?? []).map((p) => String(p).split(':')[0]).sort();
    assert.deepEqual(published, ['443', '80']);
  });

  it('puts every other service on an internal network without a route out', () => {
    assert.equal(compose.networks?.internal?.internal, true);
    for (const [name, service] of Object.entries(services)) {
      assert.ok(networksOf(service).includes('internal'), `${name} is on the internal network`);
      if (name !== 'nginx')
        assert.ok(!networksOf(service).includes('edge'), `${name} is not on the edge network`);
    }
    for (const name of [
      'postgres',
      'redis',
      'vault',
      'vault-init',
      'kratos-migrate',
      'mailpit',
      'example-app',
    ]) {
      assert.deepEqual(networksOf(services[name] ?? {}), ['internal'], `${name} is reachable only inside`);
    }
  });

  it('runs Kratos v1.3.1 after its migration, with the config mounted read-only', () => {
    for (const name of ['kratos', 'kratos-migrate']) {
      const service = services[name] ?? {};
      assert.equal(service.image, 'oryd/kratos:v1.3.1');
      assert.ok(
        (service.volumes ?? []).includes('./kratos:/etc/config/kratos:ro'),
        `${name} mounts kratos/ read-only`,
      );
    }
    assert.match(composeText, /kratos-migrate:\n\s+condition: service_completed_successfully/);
  });

  it('runs two gateway replicas, each health-checked on /readyz', () => {
    const gateways = Object.entries(services).filter(
      ([, s]) => s.image === 'auth-gateway:local' && !s.profiles,
    );
    assert.equal(gateways.length, 2);
    for (const [name, service] of gateways) {
      assert.ok(service.build, `${name} is built from the Dockerfile`);
      assert.match(JSON.stringify(service.healthcheck?.test), /\/readyz/, `${name} health check`);
      const env = environmentOf(service);
      assert.equal(env.TRUST_PROXY_HOPS, '1');
      assert.equal(env.KEYS_BACKEND, 'vault');
      assert.equal(env.VAULT_ROLE_ID_FILE, '/run/vault/role-id');
      assert.equal(env.VAULT_TOKEN_FILE, undefined, `${name} never holds the operator token`);
    }
  });

  it('sets every placeholder of the nginx template in the nginx service', () => {
    const template = readRepoFile('nginx', 'templates', 'default.conf.template');
    const env = environmentOf(services.nginx ?? {});
    const missing = [...interpolatedNames(template)].filter((name) => !(name in env));
    assert.deepEqual(missing, []);
    assert.ok(interpolatedNames(template).size >= 10);
  });

  it('keeps Vault credentials apart: unseal key for vault-init, operator token for the keys tool', () => {
    const mounting = (volume: string) =>
      Object.entries(services)
        .filter(([, s]) => (s.volumes ?? []).some((v) => String(v).startsWith(`${volume}:`)))
        .map(([name]) => name)
        .sort();
    assert.deepEqual(mounting('vault-unseal'), ['vault-init']);
    assert.deepEqual(mounting('vault-operator'), ['keys', 'vault-init']);
    assert.deepEqual(mounting('gateway-approle'), ['gateway-1', 'gateway-2', 'vault-init']);
  });

  it('gives Redis a password and persistence', () => {
    const command = [services.redis?.command ?? []].flat().join(' ');
    assert.match(command, /--requirepass "\$\$REDIS_PASSWORD"/);
    assert.match(command, /--appendonly yes/);
    assert.ok(
      (services.redis?.volumes ?? []).some((v) => String(v).endsWith(':/data')),
      'data on a volume',
    );
    assert.match(
      environmentOf(services.gateway_1 ?? services['gateway-1'] ?? {}).REDIS_URL ?? '',
      /^redis:\/\/:\$\{REDIS_PASSWORD/,
    );
  });

  it('gives Kratos and the gateway separate Postgres databases and users', () => {
    const kratosDsn = environmentOf(services.kratos ?? {}).DSN ?? '';
    const gatewayDsn = environmentOf(services['gateway-1'] ?? {}).DATABASE_URL ?? '';
    assert.match(kratosDsn, /^postgres:\/\/kratos:\$\{KRATOS_DB_PASSWORD[^}]*\}@postgres:5432\/kratos\b/);
    assert.match(gatewayDsn, /^postgres:\/\/gateway:\$\{GATEWAY_DB_PASSWORD[^}]*\}@postgres:5432\/gateway$/);
    const init = readRepoFile('postgres', 'init-databases.sh');
    assert.match(init, /CREATE DATABASE kratos OWNER kratos/);
    assert.match(init, /CREATE DATABASE gateway OWNER gateway/);
  });
});

/** Sends PING on a fresh connection, retrying while the server starts; returns the first reply line. */
async function rawPing(port: number): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write('PING\r\n');
      const [data] = (await once(socket, 'data')) as [Buffer];
      socket.destroy();
      return data.toString('utf8');
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('the redis service command, run by a real redis-server', () => {
  it('refuses clients without the password and keeps an append-only file', async () => {
    const [shell, flag, script] = [services.redis?.command ?? []].flat();
    assert.equal(`${shell} ${flag}`, 'sh -c');
    const dir = mkdtempSync(path.join(tmpdir(), 'redis-compose-'));
    const port = await freePort();
    const password = 'a-test-password-0123456789';
    // Compose turns $$ into $ and runs it in the container; here: loopback, a free port, a temp dir.
    const command = `${String(script).replaceAll('$$', '$').replace('--dir /data', `--dir ${dir}`)} --port ${port} --bind 127.0.0.1`;
    const server = spawn('sh', ['-c', command], {
      env: { PATH: process.env.PATH, REDIS_PASSWORD: password },
    });
    try {
      // A raw PING without AUTH, as any client on the network could send it.
      assert.match(await rawPing(port), /^-NOAUTH/);
      const client = createClient({ url: `redis://:${password}@127.0.0.1:${port}` });
      await client.connect();
      assert.equal(await client.ping(), 'PONG');
      assert.deepEqual(await client.configGet('appendonly'), { appendonly: 'yes' });
      await client.quit();
      assert.ok(existsSync(dir) && readdirSync(dir).length > 0, 'persistence files on disk');
    } finally {
      server.kill('SIGTERM');
      await once(server, 'exit');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readRepoFile('Dockerfile');
  const instructions = dockerfile
    .split('\n')
    .filter((line) => /^[A-Z]+\s/.test(line))
    .map((line) => line.trim());

  it('builds in several stages', () => {
    assert.ok(instructions.filter((i) => i.startsWith('FROM ')).length >= 2);
  });

  it('runs the gateway as a non-root user', () => {
    const users = instructions.filter((i) => i.startsWith('USER '));
    const last = users.at(-1)?.split(/\s+/)[1];
    assert.ok(last, 'a USER instruction');
    assert.notEqual(last, 'root');
    assert.notEqual(last, '0');
  });

  it('health-checks /readyz', () => {
    assert.match(dockerfile, /HEALTHCHECK[\s\S]*\/readyz/);
  });
});
