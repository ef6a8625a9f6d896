import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DOUBLE_ONLY_MARK } from '../../scripts/test-tiers.js';
import { readRepoFile, repoPath } from './paths.js';

/** Suites of the shared tiers that carry the double-only mark. */
function markedSuites(): string[] {
  return ['component', 'e2e'].flatMap((dir) =>
    readdirSync(repoPath('tests', dir))
      .filter((name) => name.endsWith('.test.ts'))
      .map((name) => path.posix.join('tests', dir, name))
      .filter((file) => readFileSync(repoPath(file), 'utf8').includes(DOUBLE_ONLY_MARK)),
  );
}

describe('double-only suites', () => {
  it('are exactly the ones the README lists, each with its reason', () => {
    const readme = readRepoFile('README.md');
    const section = /<!-- double-only:start -->([\s\S]*)<!-- double-only:end -->/.exec(readme)?.[1] ?? '';
    const listed = [...section.matchAll(/^- `([^`]+)`: \S/gm)].map((m) => m[1]).sort();
    assert.deepEqual(listed, markedSuites().sort());
  });
});
