/**
 * A fresh clone's `npm install` changes nothing and warns about nothing: the lock file
 * records exactly what package.json asks for, and every dependency with an install script is
 * either allowed to run it or denied on purpose (package.json `allowScripts`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readRepoFile } from './paths.js';

interface Manifest {
  name: string;
  version: string;
  workspaces?: string[];
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}

interface LockedPackage extends Manifest {
  hasInstallScript?: boolean;
}

const manifest = JSON.parse(readRepoFile('package.json')) as Manifest;
const lock = JSON.parse(readRepoFile('package-lock.json')) as {
  lockfileVersion: number;
  packages: Record<string, LockedPackage>;
};

/** The package name of a lock entry such as `node_modules/a/node_modules/@scope/b`. */
const nameOf = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

describe('package-lock.json', () => {
  it('records what package.json asks for, so npm install rewrites nothing', () => {
    const root = lock.packages[''];
    assert.ok(root, 'the lock file has no root package entry');
    for (const field of [
      'name',
      'version',
      'workspaces',
      'engines',
      'dependencies',
      'devDependencies',
    ] as const) {
      assert.deepEqual(
        root[field],
        manifest[field],
        `package-lock.json differs from package.json in ${field}`,
      );
    }
  });

  it('names in allowScripts every locked package that has an install script', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.hasInstallScript)
      .map(([path]) => nameOf(path));
    assert.ok(withScripts.includes('esbuild'), 'esbuild has an install script');
    const decided = new Set(
      Object.keys(manifest.allowScripts ?? {}).map((key) => key.replace(/@[^@/]+$/, '')),
    );
    const undecided = withScripts.filter((name) => !decided.has(name));
    assert.deepEqual(
      undecided,
      [],
      `npm install would warn about the install scripts of ${undecided.join(', ')}`,
    );
  });
});
