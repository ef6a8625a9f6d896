/**
 * docker-compose.tls.yml, the opt-in TLS inside the core network, merged into
 * docker-compose.yml as Compose merges it: every CA or certificate path a service uses is
 * mounted there from a file scripts/internal-tls-certs makes, every client of Postgres, Redis
 * and Vault checks the server against the CA, and the Redis command and health check run with
 * a real redis-server and redis-cli over TLS, reached by the gateway's Redis client.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../gateway/src/config.js';
import { connectRedis } from '../../gateway/src/redis/client.js';
import { freePort } from '../helpers/net.js';
import { describeErrors, draft07Validator, readReferenceJson, readRepoFile, repoPath } from './paths.js';

interface Service {
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test?: string[] };
  ports?: unknown[];
  cap_add?: string[];
  networks?: unknown;
}

const base = parse(readRepoFile('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
};
const overrideText = readRepoFile('docker-compose.tls.yml');
const override = parse(overrideText, { merge: true }) as { services: Record<string, Service> };

/** Source and target of a short-syntax volume; a `${VAR:-default}` source keeps its colon. */
function splitVolume(volume: string): { source: string; target: string } {
  const masked = volume.replace(/\$\{[^}]*\}/g, (m) => m.replaceAll(':', '\u0000'));
  const [source = '', target = ''] = masked.split(':');
  return { source: source.replaceAll('\u0000', ':'), target };
}
const targetOf = (volume: string) => splitVolume(volume).target;

/** Compose's merge of an override: environment keys and volumes (by target) added, command and health check test replaced. */
function merged(name: string): Service {
  const a = base.services[name] ?? {};
  const b = override.services[name] ?? {};
  const volumes = new Map((a.volumes ?? []).map((v) => [targetOf(String(v)), String(v)]));
  for (const v of b.volumes ?? []) volumes.set(targetOf(v), v);
  return {
    ...a,
    command: b.command ?? a.command,
    environment: { ...a.environment, ...b.environment },
    volumes: [...volumes.values()],
    healthcheck: { ...a.healthcheck, ...b.healthcheck },
  };
}

/** The CA, certificate and key paths a service names (environment, command, health check). */
function tlsPathsNamed(service: Service): string[] {
  const text = JSON.stringify([service.environment, service.command, service.healthcheck?.test]);
  return [...new Set([...text.matchAll(/\/run\/(?:internal-ca|[a-z]+-tls)\/[a-z_.-]+/g)].map((m) => m[0]))];
}

describe('docker-compose.tls.yml (TLS inside the core network)', () => {
  let certs: string;

  before(() => {
    certs = mkdtempSync(path.join(tmpdir(), 'internal-tls-'));
    const made = spawnSync('bash', [repoPath('scripts', 'internal-tls-certs'), '--dir', certs], {
      encoding: 'utf8',
    });
    assert.equal(made.status, 0, made.stderr);
  });
  after(() => rmSync(certs, { recursive: true, force: true }));

  it('is a valid Compose file according to the published compose-spec schema', () => {
    const validate = draft07Validator().compile(readReferenceJson('compose-spec', 'compose-spec.json'));
    assert.equal(validate(parse(overrideText)), true, describeErrors(validate.errors));
  });

  it('overrides only services of docker-compose.yml, and opens no port, capability or network', () => {
    for (const [name, service] of Object.entries(override.services)) {
      assert.ok(name in base.services, `${name} exists in docker-compose.yml`);
      assert.equal(service.ports, undefined, name);
      assert.equal(service.cap_add, undefined, name);
      assert.equal(service.networks, undefined, name);
    }
  });

  it('mounts every CA, certificate and key a service names, from the files scripts/internal-tls-certs makes', () => {
    const made = new Set([
      'ca.pem',
      'postgres.pem',
      'postgres.key',
      'redis.pem',
      'redis.key',
      'vault.pem',
      'vault.key',
    ]);
    for (const file of made)
      assert.ok(existsSync(path.join(certs, file)), `internal-tls-certs makes ${file}`);
    let checked = 0;
    for (const name of Object.keys(override.services)) {
      const service = merged(name);
      const mounts = new Map((service.volumes ?? []).map((v) => [targetOf(v), splitVolume(v).source]));
      for (const target of tlsPathsNamed(service)) {
        const source = mounts.get(target);
        assert.ok(source, `${name} mounts ${target}`);
        const file = source.replace('${INTERNAL_TLS_DIR:-./tls}/', '');
        if (source.startsWith('./')) assert.ok(existsSync(repoPath(source)), `${name}: ${source} exists`);
        else assert.ok(made.has(file), `${name}: ${source} is made by internal-tls-certs`);
        checked++;
      }
    }
    assert.ok(checked >= 14, `${checked} mounted paths`);
  });

  it('points every client of Vault, Redis and Postgres at TLS with the CA', () => {
    for (const name of ['gateway-1', 'gateway-2', 'keys']) {
      const env = merged(name).environment ?? {};
      assert.equal(env.VAULT_ADDR, 'https://vault:8200', name);
      assert.equal(env.VAULT_CACERT, '/run/internal-ca/ca.pem', name);
      assert.equal(env.REDIS_TLS_CA_FILE, '/run/internal-ca/ca.pem', name);
    }
    for (const name of ['vault-init', 'vault-unsealer']) {
      const env = merged(name).environment ?? {};
      assert.equal(env.VAULT_ADDR, 'https://vault:8200', name);
      assert.equal(env.VAULT_CACERT, '/run/internal-ca/ca.pem', name);
    }
    const vault = merged('vault').environment ?? {};
    assert.equal(vault.VAULT_TLS_DISABLE, 'false');
    assert.match(vault.VAULT_API_ADDR ?? '', /^https:\/\/vault:8200$/);
    // The connection URLs are Docker secrets from .env: its TLS forms use the mounted CA.
    const example = readRepoFile('.env.example');
    const tlsLine = (name: string) => new RegExp(`^# ${name}=(.*)$`, 'm').exec(example)?.[1] ?? '';
    assert.match(example, /^# COMPOSE_FILE=docker-compose\.yml:docker-compose\.tls\.yml$/m);
    for (const name of ['GATEWAY_DATABASE_URL', 'KRATOS_DSN'])
      assert.match(tlsLine(name), /\?sslmode=verify-full&sslrootcert=\/run\/internal-ca\/ca\.pem(&|$)/, name);
    assert.match(tlsLine('GATEWAY_REDIS_URL'), /^rediss:\/\/:\$\{REDIS_PASSWORD\}@redis:6379\/0$/);
    for (const name of ['kratos', 'kratos-migrate', 'gateway-1'])
      assert.ok(
        (merged(name).volumes ?? []).some((v) => targetOf(v) === '/run/internal-ca/ca.pem'),
        name,
      );
  });

  it("gives the gateway a configuration its loader accepts (the CA's path mapped to the test's files)", () => {
    const env = merged('gateway-1').environment ?? {};
    const config = loadConfig({
      KEYS_BACKEND: 'vault',
      VAULT_ADDR: env.VAULT_ADDR,
      VAULT_CACERT: path.join(certs, 'ca.pem'),
      REDIS_URL: 'rediss://:a-redis-password@redis:6379/0',
      REDIS_TLS_CA_FILE: path.join(certs, 'ca.pem'),
    });
    assert.equal(config.VAULT_ADDR, 'https://vault:8200');
  });

  it('lets Postgres take TCP clients over TLS only', () => {
    const command = (merged('postgres').command ?? []).join(' ');
    for (const setting of ['ssl=on', 'ssl_cert_file=', 'ssl_key_file=', 'hba_file='])
      assert.ok(command.includes(setting), setting);
    const hba = readRepoFile('postgres', 'pg_hba-tls.conf')
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'))
      .map((line) => line.trim().split(/\s+/));
    assert.deepEqual(
      hba.map((fields) => fields[0]),
      ['local', 'hostssl', 'hostssl'],
    );
    for (const fields of hba.filter((f) => f[0] === 'hostssl')) assert.equal(fields.at(-1), 'scram-sha-256');
  });

  it('runs the Redis command with a real redis-server over TLS only; the health check and the gateway client reach it with the CA', async () => {
    const [shell, flag, script] = merged('redis').command ?? [];
    assert.equal(`${shell} ${flag}`, 'sh -c');
    const dir = mkdtempSync(path.join(tmpdir(), 'redis-tls-'));
    const port = await freePort();
    const password = 'a-test-password-0123456789';
    writeFileSync(path.join(dir, 'redis_password'), `${password}\n`);
    const local = (text: string) =>
      text
        .replaceAll('$$', '$')
        .replaceAll('/run/secrets/redis_password', path.join(dir, 'redis_password'))
        .replaceAll('/run/redis-tls/server.pem', path.join(certs, 'redis.pem'))
        .replaceAll('/run/redis-tls/server.key', path.join(certs, 'redis.key'))
        .replaceAll('/run/internal-ca/ca.pem', path.join(certs, 'ca.pem'));
    const command = `${local(String(script))
      .replaceAll('/tmp/redis.conf', path.join(dir, 'redis.conf'))
      .replace('--dir /data', `--dir ${dir}`)
      .replace('--tls-port 6379', `--tls-port ${port}`)} --bind 127.0.0.1`;
    const server = spawn('sh', ['-c', command], { env: { PATH: process.env.PATH }, stdio: 'ignore' });
    try {
      let kv: Awaited<ReturnType<typeof connectRedis>> | undefined;
      for (let attempt = 0; !kv; attempt++) {
        try {
          kv = await connectRedis(`rediss://:${password}@127.0.0.1:${port}`, 't:', () => undefined, {
            tlsCa: readFileSync(path.join(certs, 'ca.pem')),
            clientCache: false,
          });
        } catch (error) {
          if (attempt > 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await kv.set('k', 'over tls', 10);
      assert.equal(await kv.get('k'), 'over tls');
      await kv.close();
      // The container's health check, with redis-cli against the same server.
      const health = local(String(merged('redis').healthcheck?.test?.[1])).replace(
        '-h 127.0.0.1',
        `-h 127.0.0.1 -p ${port}`,
      );
      assert.equal(spawnSync('sh', ['-c', health]).status, 0, health);
      // A client without TLS gets no answer from the TLS port.
      const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
      const answer = await new Promise<string>((resolve) => {
        socket.once('data', (data: Buffer) => resolve(String(data)));
        socket.once('error', (error) => resolve(error.message));
        socket.once('close', () => resolve('closed'));
      });
      socket.destroy();
      assert.doesNotMatch(answer, /PONG|NOAUTH/);
    } finally {
      server.kill('SIGTERM');
      await once(server, 'exit');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
