import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig as loadDoubleConfig } from '../doubles/kratos/config.js';
import {
  describeErrors,
  draft07Validator,
  interpolate,
  readEnvFile,
  readReferenceJson,
  readRepoFile,
  repoPath,
} from './paths.js';

interface WebHook {
  hook: string;
  config?: {
    url?: string;
    method?: string;
    body?: string;
    auth?: { type?: string; config?: { name?: string; value?: string; in?: string } };
    response?: { parse?: boolean; ignore?: boolean };
  };
}

type Config = Record<string, any>;

const kratosYml = readRepoFile('kratos', 'kratos.yml');
const config = parse(kratosYml) as Config;
const GATEWAY_HOOK = /^\$\{GATEWAY_HOOK_BASE_URL\}\/hooks\/kratos\/((?:after|registration)-[a-z]+)$/;

/** Every web hook of the config, with where it sits. */
function webHooks(): { where: string; hook: WebHook }[] {
  const found: { where: string; hook: WebHook }[] = [];
  const walk = (node: unknown, where: string) => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, `${where}[${i}]`));
    else if (node && typeof node === 'object') {
      if ((node as WebHook).hook === 'web_hook') found.push({ where, hook: node as WebHook });
      for (const [key, value] of Object.entries(node)) walk(value, `${where}.${key}`);
    }
  };
  walk(config.selfservice, 'selfservice');
  return found;
}

describe('kratos/kratos.yml rendered as the Kratos container sees it', () => {
  let workDir: string;
  let kratosEnv: Record<string, string>;
  /** Every secret value the container receives as a Docker secret file. */
  let secretValues: string[];

  before(() => {
    workDir = mkdtempSync(path.join(tmpdir(), 'kratos-config-'));
    // The full chain: .env.example → generate-secrets → compose environment and Docker secrets
    // (files under /run/secrets, here under workDir) → render-config.sh.
    execFileSync('bash', [repoPath('scripts', 'generate-secrets'), '--env-file', path.join(workDir, '.env')]);
    const dotenv = readEnvFile(path.join(workDir, '.env'));
    const compose = parse(readRepoFile('docker-compose.yml'), { merge: true }) as Config;
    const service = compose.services.kratos as { environment: Record<string, string>; secrets: string[] };
    const secrets = compose.secrets as Record<string, { environment: string }>;
    mkdirSync(path.join(workDir, 'secrets'));
    secretValues = [];
    kratosEnv = Object.fromEntries(
      Object.entries(service.environment).map(([key, raw]) => {
        const value = interpolate(String(raw), dotenv);
        if (!value.startsWith('/run/secrets/')) return [key, value];
        const name = value.slice('/run/secrets/'.length);
        assert.ok(service.secrets.includes(name), `${key}: the secret ${name} is mounted`);
        // Compose writes the value of the secret's variable (interpolated within .env) as the file.
        const content = interpolate(dotenv[secrets[name]?.environment ?? ''] ?? '', dotenv);
        // SMS is optional: the provider's key is empty until the operator sets one.
        if (name !== 'sms_provider_api_key') {
          assert.notEqual(content, '', `${name} has a value`);
          secretValues.push(content);
        }
        writeFileSync(path.join(workDir, 'secrets', name), content, { mode: 0o400 });
        return [key, path.join(workDir, 'secrets', name)];
      }),
    );
    // Stands in for the kratos binary: records its environment, prints the config it is started with.
    writeFileSync(
      path.join(workDir, 'kratos'),
      `#!/bin/sh\nenv > "${path.join(workDir, 'kratos-env')}"\n` +
        'while [ $# -gt 0 ]; do [ "$1" = --config ] && exec cat "$2"; shift; done; exit 9\n',
    );
    chmodSync(path.join(workDir, 'kratos'), 0o755);
  });

  after(() => rmSync(workDir, { recursive: true, force: true }));

  const renderedPath = () => path.join(workDir, 'rendered', 'kratos.yml');

  function render(env: Record<string, string>) {
    rmSync(renderedPath(), { force: true });
    return spawnSync('sh', [repoPath('kratos', 'render-config.sh'), 'serve', '--watch-courier'], {
      encoding: 'utf8',
      env: {
        PATH: `${workDir}${path.delimiter}${process.env.PATH ?? ''}`,
        KRATOS_CONFIG_TEMPLATE: repoPath('kratos', 'kratos.yml'),
        KRATOS_CONFIG_RENDERED: renderedPath(),
        ...env,
      },
    });
  }

  const withoutKey = (env: Record<string, string>, key: string) =>
    Object.fromEntries(Object.entries(env).filter(([k]) => k !== key));

  function assertNoSecretIn(text: string) {
    assert.ok(secretValues.length >= 6);
    for (const secret of secretValues) assert.ok(!text.includes(secret), 'no secret value in the output');
  }

  it('gets every secret from a Docker secret file, and validates against the published Kratos v1.3.1 schema', () => {
    for (const name of [
      'DSN',
      'KRATOS_COURIER_SMTP_URI',
      'KRATOS_WEBHOOK_API_KEY',
      'KRATOS_SECRETS_COOKIE',
      'KRATOS_SECRETS_CIPHER',
      'KRATOS_SECRETS_DEFAULT',
    ]) {
      assert.equal(kratosEnv[name], undefined, `${name} is no environment value`);
      assert.ok(kratosEnv[`${name}_FILE`], `${name}_FILE is set`);
    }
    const result = render(kratosEnv);
    assert.equal(result.status, 0, result.stderr);
    const rendered = parse(result.stdout) as Config;
    const ajv = draft07Validator();
    ajv.addSchema(readReferenceJson('kratos-v1.3.1', 'tracing-config.schema.json'), 'ory://tracing-config');
    const validate = ajv.compile(readReferenceJson('kratos-v1.3.1', 'config.schema.json'));
    assert.equal(validate(rendered), true, describeErrors(validate.errors));
    assert.equal(rendered.secrets.cipher[0].length, 32);
    assert.match(
      rendered.dsn,
      /^postgres:\/\/kratos:[0-9a-f]{64}@postgres:5432\/kratos\?sslmode=disable&max_conns=20$/,
    );
    assert.equal(rendered.courier.smtp.connection_uri, 'smtps://smtp.example.com:465/');
    assert.equal(statSync(renderedPath()).mode & 0o777, 0o600, 'the rendered copy is private');
  });

  it('keeps the values read from files out of the environment Kratos runs with', () => {
    assert.equal(render(kratosEnv).status, 0);
    const environment = readFileSync(path.join(workDir, 'kratos-env'), 'utf8');
    assert.match(environment, /^KRATOS_SECRETS_CIPHER_FILE=/m);
    assertNoSecretIn(environment);
  });

  it("gives the courier's sms channel the operator's endpoint and key, and starts without them (SMS off)", () => {
    const channel = (stdout: string) =>
      (parse(stdout) as Config).courier.channels[0] as {
        id: string;
        type: string;
        request_config: { url: string; auth: { config: { value: string } } };
      };
    // As compose passes it with SMS off: an empty URL and an empty key file.
    assert.equal(kratosEnv.SMS_PROVIDER_URL, '');
    assert.equal(readFileSync(kratosEnv.SMS_PROVIDER_API_KEY_FILE ?? '', 'utf8'), '');
    const off = render(kratosEnv);
    assert.equal(off.status, 0, off.stderr);
    assert.equal(channel(off.stdout).id, 'sms');
    assert.equal(channel(off.stdout).type, 'http');
    assert.match(channel(off.stdout).request_config.url, /^http:\/\/127\.0\.0\.1:9\//);
    const key = path.join(workDir, 'sms-key');
    writeFileSync(key, 'sms-provider-key-0123456789\n');
    const on = render({
      ...kratosEnv,
      SMS_PROVIDER_URL: 'https://sms.example.com/messages',
      SMS_PROVIDER_API_KEY_FILE: key,
    });
    assert.equal(on.status, 0, on.stderr);
    assert.equal(channel(on.stdout).request_config.url, 'https://sms.example.com/messages');
    assert.equal(channel(on.stdout).request_config.auth.config.value, 'Bearer sms-provider-key-0123456789');
    // A provider URL without its key is refused like any other missing secret.
    const keyless = render({ ...kratosEnv, SMS_PROVIDER_URL: 'https://sms.example.com/messages' });
    assert.notEqual(keyless.status, 0);
    assert.match(keyless.stderr, /SMS_PROVIDER_API_KEY_FILE names an empty file/);
  });

  it('takes a value from NAME or from the file NAME_FILE names, dropping one trailing newline', () => {
    const file = path.join(workDir, 'cookie-secret');
    writeFileSync(file, 'cookie-secret-from-a-file-0123456789\n');
    const fromFile = render({ ...kratosEnv, KRATOS_SECRETS_COOKIE_FILE: file });
    assert.equal(fromFile.status, 0, fromFile.stderr);
    assert.deepEqual((parse(fromFile.stdout) as Config).secrets.cookie, [
      'cookie-secret-from-a-file-0123456789',
    ]);
    const fromEnv = render({
      ...withoutKey(kratosEnv, 'KRATOS_SECRETS_COOKIE_FILE'),
      KRATOS_SECRETS_COOKIE: 'cookie-secret-from-the-environment-01',
    });
    assert.equal(fromEnv.status, 0, fromEnv.stderr);
    assert.deepEqual((parse(fromEnv.stdout) as Config).secrets.cookie, [
      'cookie-secret-from-the-environment-01',
    ]);
  });

  it('refuses NAME and NAME_FILE together, naming the variable and printing no value', () => {
    const result = render({ ...kratosEnv, KRATOS_WEBHOOK_API_KEY: 'an-environment-webhook-key-0123456789' });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /KRATOS_WEBHOOK_API_KEY and KRATOS_WEBHOOK_API_KEY_FILE are both set/);
    assert.ok(!result.stderr.includes('an-environment-webhook-key-0123456789'));
    assertNoSecretIn(result.stderr + result.stdout);
    assert.equal(existsSync(renderedPath()), false, 'no half-rendered config is left behind');
  });

  it('refuses a missing or empty secret file, naming the variable and printing no value', () => {
    const missing = render({ ...kratosEnv, DSN_FILE: path.join(workDir, 'secrets', 'no-such-file') });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /^render-config: DSN_FILE: cannot read the file it names$/m);
    assertNoSecretIn(missing.stderr + missing.stdout);
    assert.equal(existsSync(renderedPath()), false);
    const empty = path.join(workDir, 'empty');
    writeFileSync(empty, '');
    const blank = render({ ...kratosEnv, KRATOS_SECRETS_DEFAULT_FILE: empty });
    assert.notEqual(blank.status, 0);
    assert.match(blank.stderr, /KRATOS_SECRETS_DEFAULT_FILE names an empty file/);
    assertNoSecretIn(blank.stderr + blank.stdout);
  });

  it('refuses to render when a secret is set neither way, naming it without printing values', () => {
    const result = render(withoutKey(kratosEnv, 'KRATOS_SECRETS_CIPHER_FILE'));
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /KRATOS_SECRETS_CIPHER is not set/);
    assertNoSecretIn(result.stderr + result.stdout);
  });
});

describe('kratos/kratos.yml policy', () => {
  it('requires passwords of at least 12 characters, not similar to the identifier', () => {
    const password = config.selfservice.methods.password;
    assert.equal(password.enabled, true);
    assert.ok(password.config.min_password_length >= 12);
    assert.equal(password.config.identifier_similarity_check_enabled, true);
  });

  it('enables password, totp, lookup_secret and code', () => {
    for (const method of ['password', 'totp', 'lookup_secret', 'code']) {
      assert.equal(config.selfservice.methods[method].enabled, true, method);
    }
  });

  it('answers whoami at the highest AAL the identity has, and settings likewise', () => {
    assert.equal(config.session.whoami.required_aal, 'highest_available');
    assert.equal(config.selfservice.flows.settings.required_aal, 'highest_available');
  });

  it('keeps flows and codes short-lived', () => {
    const flows = config.selfservice.flows;
    assert.equal(flows.login.lifespan, '10m');
    assert.equal(flows.registration.lifespan, '10m');
    assert.equal(flows.recovery.lifespan, '15m');
    assert.equal(flows.verification.lifespan, '15m');
    assert.equal(flows.settings.lifespan, '15m');
    assert.equal(flows.settings.privileged_session_max_age, '15m');
    assert.equal(config.selfservice.methods.code.config.lifespan, '15m');
    assert.equal(config.session.lifespan, '24h');
    assert.equal(flows.recovery.use, 'code');
    assert.equal(flows.verification.use, 'code');
  });

  it('allows no wildcard CORS origin', () => {
    const cors = config.serve.public.cors;
    assert.equal(cors.enabled, true);
    assert.ok(cors.allowed_origins.length > 0);
    for (const origin of cors.allowed_origins) assert.ok(!String(origin).includes('*'), origin);
  });

  it('sends every web hook to the gateway with the api key header from the environment', () => {
    const hooks = webHooks();
    const events = new Set(hooks.map(({ hook }) => GATEWAY_HOOK.exec(hook.config?.url ?? '')?.[1]));
    assert.deepEqual([...events].sort(), [
      'after-login',
      'after-recovery',
      'after-registration',
      'after-settings',
      'after-verification',
      'registration-defaults',
    ]);
    for (const { where, hook } of hooks) {
      assert.match(hook.config?.url ?? '', GATEWAY_HOOK, where);
      assert.equal(hook.config?.method, 'POST', where);
      assert.deepEqual(
        hook.config?.auth,
        {
          type: 'api_key',
          config: { name: 'X-Webhook-Key', value: '${KRATOS_WEBHOOK_API_KEY}', in: 'header' },
        },
        where,
      );
      const event = GATEWAY_HOOK.exec(hook.config?.url ?? '')?.[1];
      assert.equal(hook.config?.body, `file://\${KRATOS_CONFIG_DIR}/webhooks/${event}.jsonnet`, where);
    }
  });

  it('lets registration-defaults set metadata before the identity is stored, and syncs after it is', () => {
    for (const method of ['password', 'code']) {
      const hooks = config.selfservice.flows.registration.after[method].hooks as WebHook[];
      assert.match(hooks[0]?.config?.url ?? '', /\/registration-defaults$/, method);
      assert.equal(hooks[0]?.config?.response?.parse, true, method);
      // Kratos gives a parsing hook the nil id: only a hook without parse sees the stored identity.
      assert.match(hooks[1]?.config?.url ?? '', /\/after-registration$/, method);
      assert.notEqual(hooks[1]?.config?.response?.parse, true, method);
      assert.equal(hooks.at(-1)?.hook, 'session', method);
    }
  });

  it('writes no secret literal: secrets, DSN and SMTP URI are placeholders', () => {
    const placeholder = /^\$\{[A-Z_][A-Z0-9_]*\}$/;
    assert.match(config.dsn, placeholder);
    assert.match(config.courier.smtp.connection_uri, placeholder);
    for (const list of Object.values(config.secrets) as string[][]) {
      for (const secret of list) assert.match(secret, placeholder);
    }
    assert.ok(!/[0-9a-f]{32,}|[A-Za-z0-9+=]{32,}/.test(kratosYml), 'nothing key-like');
  });
});

describe('kratos/webhooks/*.jsonnet', () => {
  for (const event of [
    'registration-defaults',
    'after-registration',
    'after-login',
    'after-settings',
    'after-verification',
    'after-recovery',
  ]) {
    it(`${event} sends the identity and the flow reference, and nothing from the request`, () => {
      const body = readRepoFile('kratos', 'webhooks', `${event}.jsonnet`);
      assert.match(body, /^function\(ctx\) \{/m);
      assert.match(body, /^\s+identity: ctx\.identity,$/m);
      assert.match(body, /^\s+flow_id: ctx\.flow\.id,$/m);
      assert.match(body, /^\s+flow_type: ctx\.flow\.type,$/m);
      assert.doesNotMatch(body.replace(/\/\/.*$/gm, ''), /request_headers|cookie/i);
    });
  }
});

describe('kratos/identity.schema.json', () => {
  const schema = JSON.parse(readRepoFile('kratos', 'identity.schema.json')) as Config;

  it('is a valid identity schema according to identity_meta.schema.json', () => {
    const ajv = draft07Validator();
    ajv.addSchema(readReferenceJson('kratos-v1.3.1', 'identity_extension.schema.json'));
    const validate = ajv.compile(readReferenceJson('kratos-v1.3.1', 'identity_meta.schema.json'));
    assert.equal(validate(schema), true, describeErrors(validate.errors));
  });

  it('makes the e-mail the identifier for password and code, recovery and verification', () => {
    const email = schema.properties.traits.properties.email;
    assert.equal(email.format, 'email');
    assert.deepEqual(email['ory.sh/kratos'].credentials.password, { identifier: true });
    assert.deepEqual(email['ory.sh/kratos'].credentials.code, { identifier: true, via: 'email' });
    assert.deepEqual(email['ory.sh/kratos'].recovery, { via: 'email' });
    assert.deepEqual(email['ory.sh/kratos'].verification, { via: 'email' });
    assert.deepEqual(schema.properties.traits.required, ['email']);
  });

  it('has an optional name with first and last', () => {
    const name = schema.properties.traits.properties.name;
    assert.deepEqual(Object.keys(name.properties).sort(), ['first', 'last']);
    assert.ok(!schema.properties.traits.required.includes('name'));
  });
});

describe('the Kratos double', () => {
  it('is configured from kratos/kratos.yml and kratos/identity.schema.json where they overlap', () => {
    const double = loadDoubleConfig(undefined);
    const flows = config.selfservice.flows;
    assert.equal(double.identitySchemaPath, repoPath('kratos', 'identity.schema.json'));
    assert.equal(double.minPasswordLength, config.selfservice.methods.password.config.min_password_length);
    assert.equal(double.identifierSimilarityCheck, true);
    assert.deepEqual(double.lifespans, {
      login: minutes(flows.login.lifespan),
      registration: minutes(flows.registration.lifespan),
      recovery: minutes(flows.recovery.lifespan),
      verification: minutes(flows.verification.lifespan),
      settings: minutes(flows.settings.lifespan),
    });
    assert.equal(double.privilegedSessionMaxAgeMs, minutes(flows.settings.privileged_session_max_age));
    assert.equal(double.sessionLifespanMs, minutes(config.session.lifespan));
    assert.equal(double.whoamiRequiredAal, config.session.whoami.required_aal);
    assert.deepEqual(Object.keys(double.webHooks).sort(), [
      'login',
      'recovery',
      'registration',
      'settings',
      'verification',
    ]);
    assert.deepEqual(
      double.webHooks.registration?.map((h) => [h.name, h.parse]),
      [
        ['registration-defaults', true],
        ['after-registration', false],
      ],
    );
    assert.equal(double.webHooks.login?.[0]?.ignore, true);
    assert.ok(double.revokeSessionsAfter.has('recovery'));
  });
});

/** `10m`, `24h` as milliseconds. */
function minutes(duration: string): number {
  const match = /^(\d+)([mh])$/.exec(duration);
  assert.ok(match, `a duration in minutes or hours: ${duration}`);
  return Number(match[1]) * (match[2] === 'h' ? 60 : 1) * 60_000;
}
