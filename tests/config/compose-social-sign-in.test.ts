/**
 * Social sign-in for the operator's stack: kratos/social-sign-in.yml (Kratos' oidc method with
 * the provider `sso`), rendered by kratos/render-config.sh as a further --config when
 * KRATOS_CONFIG_OVERLAYS names it, and docker-compose.social-sign-in.yml, which gives the Kratos
 * containers that and the provider's settings, its client secret as a Docker secret. The real
 * Kratos runs the overlay in tests/real/kratos-oidc.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { describeErrors, draft07Validator, readReferenceJson, readRepoFile, repoPath } from './paths.js';

interface Service {
  environment?: Record<string, string>;
  secrets?: string[];
  ports?: unknown;
  cap_add?: unknown;
  networks?: unknown;
}

const base = parse(readRepoFile('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
};
const overrideText = readRepoFile('docker-compose.social-sign-in.yml');
const override = parse(overrideText, { merge: true }) as {
  services: Record<string, Service>;
  secrets: Record<string, { environment?: string }>;
};
const overlayText = readRepoFile('kratos', 'social-sign-in.yml');
const placeholders = (text: string) =>
  [...new Set([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1]!))].sort();

describe('kratos/social-sign-in.yml', () => {
  it('turns on the oidc method with one generic provider whose claims go through kratos/oidc/claims.jsonnet', () => {
    const config = parse(overlayText) as {
      selfservice: {
        methods: { oidc: { enabled: boolean; config: { providers: Record<string, unknown>[] } } };
      };
    };
    const oidc = config.selfservice.methods.oidc;
    assert.equal(oidc.enabled, true);
    assert.equal(oidc.config.providers.length, 1);
    const [sso] = oidc.config.providers;
    assert.equal(sso?.id, 'sso');
    assert.equal(sso?.provider, 'generic');
    assert.equal(sso?.mapper_url, 'file://${KRATOS_CONFIG_DIR}/oidc/claims.jsonnet');
    assert.ok(existsSync(repoPath('kratos', 'oidc', 'claims.jsonnet')));
    // The secret is a placeholder, filled from a Docker secret: never a value in git.
    assert.equal(sso?.client_secret, '${OIDC_SSO_CLIENT_SECRET}');
  });
});

describe('render-config.sh with KRATOS_CONFIG_OVERLAYS', () => {
  let dir: string;
  const env = () => {
    const values: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    for (const name of placeholders(readRepoFile('kratos', 'kratos.yml') + overlayText))
      values[name] = `value-of-${name}`;
    delete values.OIDC_SSO_CLIENT_SECRET;
    writeFileSync(path.join(dir, 'client-secret'), 'the-client-secret\n', { mode: 0o400 });
    return {
      ...values,
      OIDC_SSO_CLIENT_SECRET_FILE: path.join(dir, 'client-secret'),
      KRATOS_CONFIG_DIR: repoPath('kratos'),
      KRATOS_CONFIG_RENDERED: path.join(dir, 'rendered', 'kratos.yml'),
      KRATOS_BIN: path.join(dir, 'kratos'),
    };
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kratos-overlay-'));
    // Stands in for the kratos binary: prints its arguments, one per line.
    writeFileSync(path.join(dir, 'kratos'), '#!/bin/sh\nprintf "%s\\n" "$@"\n');
    chmodSync(path.join(dir, 'kratos'), 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const run = (extra: Record<string, string>) =>
    spawnSync('sh', [repoPath('kratos', 'render-config.sh'), 'serve'], {
      env: { ...env(), ...extra },
      encoding: 'utf8',
    });

  it('gives Kratos kratos.yml and then each overlay, every placeholder filled, the secret from its file', () => {
    const result = run({ KRATOS_CONFIG_OVERLAYS: 'social-sign-in.yml' });
    assert.equal(result.status, 0, result.stderr);
    const args = result.stdout.trim().split('\n');
    assert.equal(args[0], 'serve');
    const configs = args.flatMap((arg, i) => (args[i - 1] === '--config' ? [arg] : []));
    assert.equal(configs.length, 2);
    assert.equal(configs[0], path.join(dir, 'rendered', 'kratos.yml'));
    const rendered = readFileSync(configs[1]!, 'utf8');
    assert.doesNotMatch(rendered, /\$\{/);
    const sso = (parse(rendered) as any).selfservice.methods.oidc.config.providers[0];
    assert.equal(sso.client_secret, 'the-client-secret');
    assert.equal(sso.issuer_url, 'value-of-OIDC_SSO_ISSUER_URL');
    assert.equal(sso.mapper_url, `file://${repoPath('kratos')}/oidc/claims.jsonnet`);
  });

  it('gives Kratos kratos.yml alone without overlays', () => {
    const result = run({});
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.split('\n').filter((a) => a === '--config').length, 1);
  });

  it('refuses an overlay outside the config folder, and an overlay with a placeholder left unset', () => {
    const outside = run({ KRATOS_CONFIG_OVERLAYS: '../kratos.yml' });
    assert.equal(outside.status, 1);
    assert.match(outside.stderr, /names files in KRATOS_CONFIG_DIR/);
    const unset = run({ KRATOS_CONFIG_OVERLAYS: 'social-sign-in.yml', OIDC_SSO_CLIENT_ID: '' });
    assert.equal(unset.status, 1);
    assert.match(unset.stderr, /OIDC_SSO_CLIENT_ID is not set/);
    assert.doesNotMatch(unset.stderr, /the-client-secret/);
  });
});

describe('docker-compose.social-sign-in.yml', () => {
  it('is a valid Compose file according to the published compose-spec schema', () => {
    const validate = draft07Validator().compile(readReferenceJson('compose-spec', 'compose-spec.json'));
    assert.equal(validate(parse(overrideText)), true, describeErrors(validate.errors));
  });

  it('changes only the Kratos containers, and opens no port, capability or network', () => {
    assert.deepEqual(Object.keys(override.services).sort(), ['kratos', 'kratos-migrate']);
    for (const [name, service] of Object.entries(override.services)) {
      assert.ok(name in base.services, name);
      assert.equal(service.ports, undefined, name);
      assert.equal(service.cap_add, undefined, name);
      assert.equal(service.networks, undefined, name);
    }
  });

  it('gives each Kratos container every placeholder of the overlay, the client secret as a Docker secret', () => {
    for (const [name, service] of Object.entries(override.services)) {
      const environment = { ...base.services[name]?.environment, ...service.environment };
      assert.equal(environment.KRATOS_CONFIG_OVERLAYS, 'social-sign-in.yml', name);
      for (const placeholder of placeholders(overlayText)) {
        if (placeholder === 'KRATOS_CONFIG_DIR') continue; // render-config.sh's default
        assert.ok(
          placeholder in environment || `${placeholder}_FILE` in environment,
          `${name} sets ${placeholder}`,
        );
      }
      assert.equal(environment.OIDC_SSO_CLIENT_SECRET, undefined, `${name}: the secret is no variable`);
      assert.equal(environment.OIDC_SSO_CLIENT_SECRET_FILE, '/run/secrets/oidc_sso_client_secret');
      assert.ok(service.secrets?.includes('oidc_sso_client_secret'), name);
    }
    assert.equal(override.secrets.oidc_sso_client_secret?.environment, 'OIDC_SSO_CLIENT_SECRET');
  });
});
