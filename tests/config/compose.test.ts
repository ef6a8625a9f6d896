import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createClient } from 'redis';
import { parse } from 'yaml';
import {
  describeErrors,
  draft07Validator,
  interpolate,
  readEnvFile,
  readReferenceJson,
  readRepoFile,
  repoPath,
} from './paths.js';
import { freePort } from '../helpers/net.js';

interface Service {
  image?: string;
  user?: string;
  restart?: string;
  entrypoint?: string[];
  read_only?: boolean;
  cap_drop?: string[];
  cap_add?: string[];
  security_opt?: string[];
  logging?: { driver?: string; options?: Record<string, string> };
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string; pids?: number } } };
  depends_on?: Record<string, { condition?: string }>;
  secrets?: (string | { source: string })[];
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
  secrets?: Record<string, { environment?: string; file?: string }>;
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

/** The one Docker secret that may be empty: SMS is optional (docs/operator-guide.md, SMS codes). */
const OPTIONAL_SECRET = 'sms_provider_api_key';

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

  it('interpolates no secret into any container, and scripts/generate-secrets gives every Docker secret a value', () => {
    const secretVariables = new Set(Object.values(compose.secrets ?? {}).map((s) => s.environment ?? ''));
    const secretRefs = [...interpolatedNames(composeText)].filter(
      (name) => SECRET_NAME.test(name) || secretVariables.has(name),
    );
    assert.deepEqual(secretRefs, [], 'secrets reach containers as Docker secrets only');
    const dir = mkdtempSync(path.join(tmpdir(), 'compose-secrets-'));
    try {
      const generated = spawnSync(
        'bash',
        [repoPath('scripts', 'generate-secrets'), '--env-file', path.join(dir, '.env')],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(generated.status, 0, generated.stderr);
      const dotenv = readEnvFile(path.join(dir, '.env'));
      const secrets = Object.entries(compose.secrets ?? {});
      assert.ok(secrets.length >= 15, `${secrets.length} Docker secrets`);
      for (const [name, secret] of secrets) {
        const value = interpolate(dotenv[secret.environment ?? ''] ?? '', dotenv);
        // The SMS provider's key is the operator's, and empty while SMS is off.
        if (name === OPTIONAL_SECRET) {
          assert.equal(value, '', `${name} is left for the operator`);
          continue;
        }
        assert.ok(value.length >= 16, `${name} (${secret.environment}) has a value`);
        assert.doesNotMatch(value, /\$\{/, `${name} is fully interpolated`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes the gateway, Kratos, Postgres and Redis secrets as Docker secrets from .env, read through *_FILE', () => {
    const example = readRepoFile('.env.example');
    const generator = readRepoFile('scripts', 'generate-secrets');
    for (const [name, secret] of Object.entries(compose.secrets ?? {})) {
      const variable = secret.environment ?? '';
      assert.match(example, new RegExp(`^${variable}=`, 'm'), `${name}: ${variable} is in .env.example`);
      const derived = new RegExp(`^${variable}=\\S*\\$\\{[A-Z_]+\\}`, 'm').test(example);
      const configured = /^(SMTP_URL|KRATOS_COURIER_SMTP_URI|SMS_PROVIDER_API_KEY)$/.test(variable);
      assert.ok(
        derived || configured || generator.includes(variable),
        `${variable} is generated by generate-secrets, composed from generated values, or set by the operator`,
      );
    }
    for (const name of ['gateway-1', 'gateway-2', 'keys', 'postgres', 'redis', 'kratos', 'kratos-migrate']) {
      const service = services[name] ?? {};
      const env = environmentOf(service);
      const secretNames = (service.secrets ?? []).map((s) => (typeof s === 'string' ? s : s.source));
      assert.ok(secretNames.length > 0, `${name} gets Docker secrets`);
      for (const [key, value] of Object.entries(env)) {
        assert.doesNotMatch(
          value,
          /\$\{[A-Z_]*(PASSWORD|SECRET|KEY)[A-Z_]*/,
          `${name}.${key} holds no secret`,
        );
        if (key.endsWith('_FILE') && value.startsWith('/run/secrets/'))
          assert.ok(secretNames.includes(value.slice('/run/secrets/'.length)), `${name}.${key} is mounted`);
      }
    }
    // Kratos: every placeholder of kratos.yml is set, its secrets only through NAME_FILE
    // (kratos/render-config.sh reads the file); the rest have render-config.sh defaults.
    const placeholders = new Set(
      [...readRepoFile('kratos', 'kratos.yml').matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1] ?? ''),
    );
    const renderDefaults = ['GATEWAY_HOOK_BASE_URL', 'KRATOS_ADMIN_BASE_URL', 'KRATOS_CONFIG_DIR'];
    const kratosSecrets = [
      'DSN',
      'KRATOS_COURIER_SMTP_URI',
      'KRATOS_WEBHOOK_API_KEY',
      'KRATOS_SECRETS_COOKIE',
      'KRATOS_SECRETS_CIPHER',
      'KRATOS_SECRETS_DEFAULT',
    ];
    for (const name of ['kratos', 'kratos-migrate']) {
      const env = environmentOf(services[name] ?? {});
      for (const placeholder of placeholders) {
        if (renderDefaults.includes(placeholder)) continue;
        assert.ok(env[placeholder] || env[`${placeholder}_FILE`], `${name} sets ${placeholder}`);
      }
      for (const secret of kratosSecrets) {
        assert.ok(placeholders.has(secret), `kratos.yml uses ${secret}`);
        assert.equal(env[secret], undefined, `${name} ${secret} is not an environment value`);
        assert.match(env[`${secret}_FILE`] ?? '', /^\/run\/secrets\//, `${name} ${secret}_FILE`);
      }
    }
    const gatewayEnv = environmentOf(services['gateway-1'] ?? {});
    for (const key of [
      'SESSION_SECRET',
      'SESSION_ENCRYPTION_KEY',
      'REDIS_URL',
      'DATABASE_URL',
      'KRATOS_WEBHOOK_API_KEY',
      'SMTP_URL',
    ]) {
      assert.equal(gatewayEnv[key], undefined, `gateway ${key} is not an environment value`);
      assert.match(gatewayEnv[`${key}_FILE`] ?? '', /^\/run\/secrets\//, `gateway ${key}_FILE`);
    }
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

  describe('networks: who may reach whom', () => {
    // Two services can talk when they share a network. The expected table, service by
    // service; a change to the compose networks must change this table too.
    const CORE = [
      'kratos',
      'kratos-migrate',
      'postgres',
      'redis',
      'vault',
      'vault-init',
      'vault-unsealer',
      'keys',
    ];
    const GATEWAYS = ['gateway-1', 'gateway-2'];
    const expected: Record<string, string[]> = {
      nginx: [...GATEWAYS, 'example-app', 'kratos'],
      'example-app': ['nginx'],
      mailpit: [...GATEWAYS, 'kratos'],
      'gateway-1': ['nginx', 'gateway-2', ...CORE, 'mailpit'],
      'gateway-2': ['nginx', 'gateway-1', ...CORE, 'mailpit'],
      kratos: ['nginx', ...GATEWAYS, ...CORE.filter((n) => n !== 'kratos'), 'mailpit'],
      ...Object.fromEntries(
        CORE.filter((n) => n !== 'kratos').map((name) => [
          name,
          [...GATEWAYS, ...CORE.filter((n) => n !== name)],
        ]),
      ),
    };

    function reachable(name: string): string[] {
      const mine = new Set(networksOf(services[name] ?? {}));
      return Object.keys(services)
        .filter((other) => other !== name && networksOf(services[other] ?? {}).some((n) => mine.has(n)))
        .sort();
    }

    for (const [name, peers] of Object.entries(expected)) {
      it(`${name} reaches exactly: ${peers.length > 6 ? 'its table entry' : peers.join(', ')}`, () => {
        assert.deepEqual(reachable(name), [...peers].sort());
      });
    }

    it('covers every service', () => {
      assert.deepEqual(Object.keys(expected).sort(), Object.keys(services).sort());
    });

    it('keeps upstream apps away from Kratos admin, Vault, Redis, Postgres, Mailpit and metrics', () => {
      for (const forbidden of ['kratos', 'vault', 'redis', 'postgres', 'mailpit', ...GATEWAYS])
        assert.ok(!reachable('example-app').includes(forbidden), `example-app cannot reach ${forbidden}`);
      // nginx proxies nothing to the metrics port.
      assert.doesNotMatch(readRepoFile('nginx', 'templates', 'default.conf.template'), /9464/);
    });

    it('gives only nginx, the gateways (and Kratos) a route out; the rest is on internal networks', () => {
      const withRoute = (name: string) =>
        networksOf(services[name] ?? {}).some((n) => compose.networks?.[n]?.internal !== true);
      const routed = Object.keys(services).filter(withRoute).sort();
      assert.deepEqual(routed, ['gateway-1', 'gateway-2', 'kratos', 'nginx']);
      for (const network of ['core', 'apps', 'kratos-public', 'mail'])
        assert.equal(compose.networks?.[network]?.internal, true, `${network} is internal`);
    });

    it('gives every replica the alias `gateway` on edge (nginx) and core (Kratos web hooks), never the keys tool', () => {
      for (const name of GATEWAYS) {
        const networks = services[name]?.networks as Record<string, { aliases?: string[] }>;
        assert.deepEqual(networks.edge?.aliases, ['gateway']);
        assert.deepEqual(networks.core?.aliases, ['gateway']);
      }
      assert.equal(JSON.stringify(services.keys?.networks).includes('gateway'), false);
    });

    it('binds the gateway AppRole to the core subnet', () => {
      assert.match(composeText, /subnet: \$\{CORE_SUBNET:-172\.30\.8\.0\/24\}/);
      assert.equal(
        environmentOf(services['vault-init'] ?? {}).VAULT_APPROLE_CIDRS,
        '${CORE_SUBNET:-172.30.8.0/24}',
      );
    });
  });

  it('runs Mailpit only in the dev profile; nothing else depends on it', () => {
    assert.deepEqual(services.mailpit?.profiles, ['dev']);
    for (const [name, service] of Object.entries(services))
      assert.ok(!('mailpit' in (service.depends_on ?? {})), `${name} does not wait for Mailpit`);
    const example = readRepoFile('.env.example');
    assert.doesNotMatch(
      example,
      /^(SMTP_URL|KRATOS_COURIER_SMTP_URI)=.*mailpit/m,
      'production mail goes to a relay',
    );
    assert.match(example, /^# COMPOSE_PROFILES=dev$/m);
  });

  describe('hardening', () => {
    const longRunning = Object.keys(services);
    for (const name of longRunning) {
      it(`${name}: resource, pids and log limits; no-new-privileges, no capabilities but the listed ones`, () => {
        const service = services[name] ?? {};
        const limits = service.deploy?.resources?.limits;
        assert.ok(limits?.cpus && limits.memory && limits.pids, `${name} has cpu, memory and pids limits`);
        assert.equal(service.logging?.driver, 'json-file');
        assert.ok(
          service.logging?.options?.['max-size'] && service.logging.options['max-file'],
          'log rotation',
        );
        assert.ok(service.security_opt?.includes('no-new-privileges:true'), 'no-new-privileges');
        assert.deepEqual(service.cap_drop, ['ALL']);
        const allowed: Record<string, string[]> = {
          postgres: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'],
          'vault-init': ['CHOWN', 'DAC_OVERRIDE', 'FOWNER'],
          'vault-unsealer': ['CHOWN'],
          nginx: ['CHOWN', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'],
        };
        assert.deepEqual(service.cap_add ?? [], allowed[name] ?? []);
        // The keys tool alone writes npm's cache and logs; it runs on demand only.
        assert.equal(service.read_only, name !== 'keys', 'read-only root file system');
      });
    }

    it("runs Redis and Vault as their images' unprivileged users", () => {
      assert.equal(services.redis?.user, 'redis');
      assert.equal(services.vault?.user, 'vault');
    });

    it('pins every image to an exact version tag: no latest, no floating major or minor', () => {
      for (const [name, service] of Object.entries(services)) {
        if (service.image === 'auth-gateway:local') continue;
        // Postgres numbers its releases major.minor (16.15); everything else major.minor.patch.
        // A digest may follow the tag (docs/operator-guide.md, "Upgrade").
        const exact = service.image?.startsWith('postgres:')
          ? /^[a-z0-9/._-]+:\d+\.\d+-alpine(@sha256:[0-9a-f]{64})?$/
          : /^[a-z0-9/._-]+:v?\d+\.\d+\.\d+(-[a-z0-9.]+)?(@sha256:[0-9a-f]{64})?$/;
        assert.match(service.image ?? '', exact, `${name}: ${service.image}`);
        assert.doesNotMatch(service.image ?? '', /:(latest|stable|mainline|alpine)(@|$)/, name);
      }
      const dockerfile = readRepoFile('Dockerfile');
      for (const from of dockerfile.matchAll(/^FROM (\S+)/gm))
        assert.match(from[1] ?? '', /:\d+\.\d+\.\d+-/, `Dockerfile ${from[1]}`);
    });

    it('runs the Vault and Kratos versions the real-stack tests build (tools/*/go.mod)', () => {
      const vaultVersion = /^require github\.com\/hashicorp\/vault v(\d+\.\d+\.\d+)$/m.exec(
        readRepoFile('tools', 'vault', 'go.mod'),
      )?.[1];
      assert.equal(vaultVersion, '1.21.1');
      const tagOf = (name: string) => services[name]?.image?.replace(/@sha256:[0-9a-f]{64}$/, '');
      for (const name of ['vault', 'vault-init', 'vault-unsealer'])
        assert.equal(tagOf(name), `hashicorp/vault:${vaultVersion}`, name);
      const kratosVersion = /^require github\.com\/ory\/kratos (v\d+\.\d+\.\d+)$/m.exec(
        readRepoFile('tools', 'kratos', 'go.mod'),
      )?.[1];
      assert.equal(kratosVersion, 'v1.3.1');
      for (const name of ['kratos', 'kratos-migrate'])
        assert.equal(tagOf(name), `oryd/kratos:${kratosVersion}`, name);
      // kratos.yml declares the version its schema is checked against.
      assert.match(readRepoFile('kratos', 'kratos.yml'), new RegExp(`^version: ${kratosVersion}$`, 'm'));
    });
  });

  describe('restarts', () => {
    it('restarts every long-running service by itself', () => {
      for (const [name, service] of Object.entries(services)) {
        if (['kratos-migrate', 'vault-init', 'keys'].includes(name)) continue;
        assert.equal(service.restart, 'unless-stopped', name);
      }
      assert.equal(services['kratos-migrate']?.restart, 'on-failure');
      assert.equal(services['vault-init']?.restart, 'on-failure');
    });

    it('unseals Vault after any restart through vault-unsealer (init.sh watch), started after vault-init', () => {
      const unsealer = services['vault-unsealer'] ?? {};
      assert.deepEqual(unsealer.entrypoint, ['/bin/sh', '/vault/init.sh', 'watch']);
      assert.equal(unsealer.depends_on?.['vault-init']?.condition, 'service_completed_successfully');
    });

    it("keeps Vault's raft storage and audit log on volumes, at the paths vault.hcl and init.sh use", () => {
      const volumes = (services.vault?.volumes ?? []).map(String);
      assert.ok(volumes.includes('vault-data:/vault/file'));
      assert.equal(environmentOf(services.vault ?? {}).VAULT_DATA_DIR, '/vault/file');
      assert.ok(volumes.includes('vault-logs:/vault/logs'));
      assert.match(environmentOf(services['vault-init'] ?? {}).VAULT_AUDIT_FILE ?? '', /^\/vault\/logs\//);
      assert.match(readRepoFile('vault', 'render-config.sh'), /VAULT_DATA_DIR:=\/vault\/file/);
    });

    it('starts nginx without waiting for the gateways', () => {
      assert.equal(services.nginx?.depends_on, undefined);
    });
  });

  it('runs Kratos v1.3.1 after its migration, with the config mounted read-only', () => {
    for (const name of ['kratos', 'kratos-migrate']) {
      const service = services[name] ?? {};
      assert.equal(service.image?.replace(/@sha256:[0-9a-f]{64}$/, ''), 'oryd/kratos:v1.3.1');
      assert.ok(
        (service.volumes ?? []).includes('./kratos:/etc/config/kratos:ro'),
        `${name} mounts kratos/ read-only`,
      );
    }
    assert.match(composeText, /kratos-migrate:\n\s+condition: service_completed_successfully/);
  });

  it('runs two gateway replicas, each health-checked on /healthz (a dependency outage is no reason to restart)', () => {
    const gateways = Object.entries(services).filter(
      ([, s]) => s.image === 'auth-gateway:local' && !s.profiles,
    );
    assert.equal(gateways.length, 2);
    for (const [name, service] of gateways) {
      assert.ok(service.build, `${name} is built from the Dockerfile`);
      assert.match(JSON.stringify(service.healthcheck?.test), /\/healthz/, `${name} health check`);
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
    assert.deepEqual(mounting('vault-unseal'), ['vault-init', 'vault-unsealer']);
    assert.deepEqual(mounting('vault-operator'), ['keys', 'vault-init', 'vault-unsealer']);
    assert.deepEqual(mounting('gateway-approle'), ['gateway-1', 'gateway-2', 'vault-init', 'vault-unsealer']);
    // vault-init and vault-unsealer write the gateway's AppRole files; the gateways only read them.
    const approleMount = (name: string) =>
      (services[name]?.volumes ?? []).map(String).find((v) => v.startsWith('gateway-approle:'));
    assert.equal(approleMount('vault-unsealer'), 'gateway-approle:/vault/approle');
    assert.equal(approleMount('vault-init'), 'gateway-approle:/vault/approle');
    for (const name of ['gateway-1', 'gateway-2']) assert.match(approleMount(name) ?? '', /:ro$/);
    assert.equal(environmentOf(services['gateway-1'] ?? {}).VAULT_SECRET_ID_FILE, '/run/vault/secret-id');
  });

  it('gives Redis a password (from its Docker secret) and persistence', () => {
    const command = [services.redis?.command ?? []].flat().join(' ');
    assert.match(command, /cat \/run\/secrets\/redis_password/);
    assert.match(command, /--appendonly yes/);
    assert.ok(
      (services.redis?.volumes ?? []).some((v) => String(v).endsWith(':/data')),
      'data on a volume',
    );
    assert.match(
      readRepoFile('.env.example'),
      /^GATEWAY_REDIS_URL=redis:\/\/:\$\{REDIS_PASSWORD\}@redis:6379\/0$/m,
    );
  });

  it('gives Kratos and the gateway separate Postgres databases and users', () => {
    const kratosDsn = /^KRATOS_DSN=(.*)$/m.exec(readRepoFile('.env.example'))?.[1] ?? '';
    assert.equal(compose.secrets?.kratos_dsn?.environment, 'KRATOS_DSN');
    const gatewayDsn = /^GATEWAY_DATABASE_URL=(.*)$/m.exec(readRepoFile('.env.example'))?.[1] ?? '';
    assert.match(kratosDsn, /^postgres:\/\/kratos:\$\{KRATOS_DB_PASSWORD[^}]*\}@postgres:5432\/kratos\b/);
    assert.match(gatewayDsn, /^postgres:\/\/gateway:\$\{GATEWAY_DB_PASSWORD[^}]*\}@postgres:5432\/gateway$/);
    const init = readRepoFile('postgres', 'init-databases.sh');
    assert.match(init, /KRATOS_DB_PASSWORD=\$\(cat "\$KRATOS_DB_PASSWORD_FILE"\)/);
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
  it('refuses clients without the password, keeps it out of its arguments, and keeps an append-only file', async () => {
    const [shell, flag, script] = [services.redis?.command ?? []].flat();
    assert.equal(`${shell} ${flag}`, 'sh -c');
    const dir = mkdtempSync(path.join(tmpdir(), 'redis-compose-'));
    const port = await freePort();
    const password = 'a-test-password-0123456789';
    writeFileSync(path.join(dir, 'redis_password'), `${password}\n`);
    // Compose turns $$ into $ and runs it in the container; here: the secret, tmpfs and data
    // folders in a temp dir, loopback and a free port.
    const command = `${String(script)
      .replaceAll('$$', '$')
      .replaceAll('/run/secrets/redis_password', path.join(dir, 'redis_password'))
      .replaceAll('/tmp/redis.conf', path.join(dir, 'redis.conf'))
      .replace('--dir /data', `--dir ${dir}`)} --port ${port} --bind 127.0.0.1`;
    assert.ok(!command.includes(password));
    const server = spawn('sh', ['-c', command], { env: { PATH: process.env.PATH } });
    try {
      // A raw PING without AUTH, as any client on the network could send it.
      assert.match(await rawPing(port), /^-NOAUTH/);
      const client = createClient({ url: `redis://:${password}@127.0.0.1:${port}` });
      await client.connect();
      assert.equal(await client.ping(), 'PONG');
      assert.deepEqual(await client.configGet('appendonly'), { appendonly: 'yes' });
      await client.quit();
      assert.ok(existsSync(dir) && readdirSync(dir).length > 2, 'persistence files on disk');
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

  it('health-checks /healthz', () => {
    assert.match(dockerfile, /HEALTHCHECK[\s\S]*\/healthz/);
  });
});
