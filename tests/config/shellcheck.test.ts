/**
 * Every shell script of the stack passes shellcheck (warnings included). In CI a missing
 * shellcheck is a failure; elsewhere the suite is skipped with the command that installs it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoPath, repoRoot } from './paths.js';

const available = spawnSync('shellcheck', ['--version']).status === 0;
const skip =
  !available && !process.env.CI ? 'shellcheck is not installed (apt-get install -y shellcheck)' : false;

/** Files with a sh or bash shebang (or a .sh name) in the stack's and the operator's folders. */
function shellScripts(): string[] {
  const found: string[] = [];
  for (const dir of ['scripts', 'vault', 'kratos', 'postgres', 'nginx']) {
    for (const entry of readdirSync(repoPath(dir), { withFileTypes: true, recursive: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      if (statSync(file).size > 200_000) continue;
      const firstLine = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
      if (/^#!.*\b(ba)?sh\b/.test(firstLine) || file.endsWith('.sh'))
        found.push(path.relative(repoRoot, file));
    }
  }
  return found.sort();
}

describe('shell scripts', { skip }, () => {
  const scripts = shellScripts();

  it('are found: the compose entry points and the operator scripts', () => {
    for (const expected of [
      'vault/init.sh',
      'vault/render-config.sh',
      'kratos/render-config.sh',
      'postgres/init-databases.sh',
      'scripts/manage',
      'scripts/generate-secrets',
      'scripts/encryption-keys',
    ])
      assert.ok(scripts.includes(expected), `${expected} is checked`);
  });

  for (const script of scripts) {
    it(`${script} is shellcheck clean`, () => {
      if (!available)
        throw new Error('CI is set but shellcheck is not installed: apt-get install -y shellcheck');
      // -x follows sourced files; the shebang picks the dialect (sh scripts are held to POSIX).
      const result = spawnSync('shellcheck', ['-x', '--severity=style', script], {
        cwd: repoRoot,
        encoding: 'utf8',
      });
      assert.equal(result.status, 0, result.stdout + result.stderr);
    });
  }
});
