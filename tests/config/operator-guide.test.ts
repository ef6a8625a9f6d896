/**
 * The operator guide's compose-only steps, checked against docker-compose.yml: every service,
 * volume, profile and repository file a command names exists. (The steps that run without
 * Docker are proven by their own suites: nginx, Vault, the scripts, the keys CLI.)
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { readRepoFile, repoPath } from './paths.js';

const guide = readRepoFile('docs', 'operator-guide.md');
const compose = parse(readRepoFile('docker-compose.yml'), { merge: true }) as {
  name: string;
  services: Record<string, { profiles?: string[] }>;
  volumes: Record<string, unknown>;
};
const services = new Set(Object.keys(compose.services));
/** Shell lines of the guide: fenced blocks and inline code. */
const commands = [
  ...[...guide.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) =>
    (m[1] ?? '').replace(/\s*\\\n\s*/g, ' ').split('\n'),
  ),
  ...[...guide.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? ''),
];

describe('docs/operator-guide.md against docker-compose.yml', () => {
  it('names only services that exist in `docker compose exec|run|cp` and `scripts/manage`', () => {
    const named: string[] = [];
    for (const line of commands) {
      // Flags with a value (possibly quoted, with spaces), flags without, then the service.
      const flags = String.raw`(?: (?:-T|--rm|--no-deps|-d|(?:-e|-v|--entrypoint|--user)[ =](?:[^\s"]*"[^"]*"|\S+)))*`;
      for (const m of line.matchAll(
        new RegExp(String.raw`docker compose (?:exec|run)${flags} ([a-z0-9-]+)`, 'g'),
      ))
        named.push(m[1] ?? '');
      for (const m of line.matchAll(/docker compose cp ([a-z0-9-]+):/g)) named.push(m[1] ?? '');
      for (const m of line.matchAll(/scripts\/manage (?:start|stop|restart|status|logs) ([a-z0-9-]+)/g))
        named.push(m[1] ?? '');
    }
    assert.ok(named.length > 10, `found ${named.length} service names`);
    const unknown = named.filter((name) => !services.has(name));
    assert.deepEqual([...new Set(unknown)], []);
  });

  it('names only volumes that exist, with the project prefix compose gives them', () => {
    const volumes = [...guide.matchAll(/auth-gateway_([a-z-]+)/g)].map((m) => m[1] ?? '');
    assert.ok(volumes.length > 0);
    assert.equal(compose.name, 'auth-gateway');
    for (const volume of volumes) assert.ok(volume in compose.volumes, volume);
  });

  it('describes the profiles compose defines: dev for Mailpit, tools for the keys tool', () => {
    assert.deepEqual(compose.services.mailpit?.profiles, ['dev']);
    assert.deepEqual(compose.services.keys?.profiles, ['tools']);
    assert.match(guide, /COMPOSE_PROFILES=dev/);
  });

  it('names only repository files that exist', () => {
    const files = [
      ...guide.matchAll(/`((?:vault|nginx|kratos|postgres|scripts|tests|tools)\/[A-Za-z0-9_./-]+)`/g),
    ]
      .map((m) => m[1] ?? '')
      .filter(
        (file) => !file.includes('<') && !/seal-transit\.hcl$/.test(file) && !file.startsWith('nginx/certs'),
      );
    assert.ok(files.length > 5);
    for (const file of files) assert.ok(existsSync(repoPath(file)), file);
  });

  it('covers first start, restart, backup, restore on a new host, rotation, upgrade, scaling, certificates, monitoring, courier', () => {
    for (const heading of [
      '## First start',
      '## Restart',
      '## Backups, and before every upgrade',
      '## Restore on a new host (disaster recovery)',
      '## Key rotation',
      '## Upgrade',
      '## More gateway replicas',
      '## Certificate renewal',
      '## Monitoring and alerts',
      '## One courier',
    ])
      assert.ok(guide.includes(`\n${heading}\n`), heading);
  });
});
