import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultConfig, durationMs, loadConfig, repoRoot } from '../doubles/kratos/config.js';

describe('Kratos double configuration', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kratos-double-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses Go durations and rejects malformed ones', () => {
    assert.equal(durationMs('15m'), 15 * 60_000);
    assert.equal(durationMs('1h30m'), 90 * 60_000);
    assert.equal(durationMs('24h0m0s'), 24 * 3_600_000);
    assert.equal(durationMs('soon'), undefined);
    assert.equal(durationMs('10 m'), undefined);
  });

  it('falls back to the defaults when kratos.yml is absent', () => {
    assert.deepEqual(loadConfig(path.join(dir, 'missing.yml')), defaultConfig());
  });

  it("reads the project's kratos.yml settings that the double honours", () => {
    const config = loadConfig(path.join(repoRoot, 'kratos', 'kratos.yml'));
    assert.equal(config.lifespans.login, 10 * 60_000);
    assert.equal(config.lifespans.recovery, 15 * 60_000);
    assert.equal(config.privilegedSessionMaxAgeMs, 15 * 60_000);
    assert.equal(config.sessionLifespanMs, 24 * 3_600_000);
    assert.equal(config.minPasswordLength, 12);
    assert.equal(config.whoamiRequiredAal, 'highest_available');
    assert.deepEqual(
      config.webHooks.registration?.map((h) => h.parse),
      [true, false],
    );
    assert.equal(config.webHooks.login?.[0]?.ignore, true);
    assert.equal(config.webHooks.settings?.[0]?.ignore, false);
    assert.ok(config.revokeSessionsAfter.has('recovery'));
    assert.ok(config.identitySchemaPath?.endsWith(path.join('kratos', 'identity.schema.json')));
  });

  it('takes overrides and keeps defaults for keys a file omits', () => {
    const file = path.join(dir, 'kratos.yml');
    writeFileSync(
      file,
      [
        'session:',
        '  lifespan: 1h',
        '  whoami:',
        '    required_aal: aal1',
        'selfservice:',
        '  methods:',
        '    password:',
        '      config:',
        '        min_password_length: 16',
        '  flows:',
        '    settings:',
        '      after:',
        '        hooks:',
        '          - hook: web_hook',
        '            config:',
        '              auth: { type: api_key, config: { name: X-Other-Key, value: v, in: header } }',
        '              response: { parse: true }',
      ].join('\n'),
    );
    const config = loadConfig(file);
    assert.equal(config.sessionLifespanMs, 3_600_000);
    assert.equal(config.whoamiRequiredAal, 'aal1');
    assert.equal(config.minPasswordLength, 16);
    assert.equal(config.lifespans.login, 10 * 60_000);
    assert.deepEqual(config.webHooks, {
      settings: [{ name: 'after-settings', parse: true, ignore: false, apiKeyHeader: 'X-Other-Key' }],
    });
  });
});
