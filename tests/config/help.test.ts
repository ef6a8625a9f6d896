/**
 * Every script answers `--help` with its manual and exit code 0, and does nothing else: the
 * npm scripts that run our TypeScript, and every executable script in the repository.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoPath, repoRoot } from './paths.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'gw-help-'));
/** A data folder that no script may create when only asked for help. */
const untouched = path.join(scratch, 'data');

/** Runs a command to its end; its exit status, stdout and stderr. */
function run(
  command: string,
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          PATH: `${repoPath('node_modules', '.bin')}${path.delimiter}${process.env.PATH}`,
          HOME: process.env.HOME,
          DATA_DIR: untouched,
          // Were a script to start its work instead, nothing it reaches would answer.
          REDIS_URL: 'redis://127.0.0.1:9',
          DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
        },
      },
      (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

/**
 * The npm scripts that run a program of ours (the others run tsc, ESLint, Prettier or Vite,
 * whose --help is theirs), grouped by the program: `test:unit` is `tsx scripts/test.ts --tier
 * unit`, and a program answers --help before it reads its other arguments, so one run of each
 * program answers for all its scripts. Run as npm runs them, without npm's start-up.
 */
function ourPrograms(): { program: string; scripts: string[] }[] {
  const { scripts } = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const programs = new Map<string, string[]>();
  for (const [name, command] of Object.entries(scripts)) {
    if (!command.startsWith('tsx ')) continue;
    const program = command.split(' ').slice(0, 2).join(' ');
    programs.set(program, [...(programs.get(program) ?? []), name]);
  }
  return [...programs].map(([program, names]) => ({ program, scripts: names }));
}

/** Every executable file with a shebang, outside dependencies and the reference documents. */
function executableScripts(dir = repoRoot): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === '.git' || name === '.data') continue;
    const file = path.join(dir, name);
    const stat = statSync(file);
    if (stat.isDirectory()) {
      if (path.relative(repoRoot, file) !== path.join('tests', 'reference'))
        out.push(...executableScripts(file));
    } else if (stat.mode & 0o111 && readFileSync(file, 'utf8').startsWith('#!')) {
      out.push(path.relative(repoRoot, file));
    }
  }
  return out.sort();
}

// Each case waits on a child process: run them side by side.
describe('--help', { concurrency: 4 }, () => {
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('finds the scripts to ask', () => {
    const names = ourPrograms().flatMap((p) => p.scripts);
    assert.ok(names.includes('dev') && names.includes('test:unit') && names.includes('keys'));
    assert.ok(executableScripts().includes(path.join('scripts', 'manage')));
  });

  for (const { program, scripts } of ourPrograms()) {
    it(`npm run ${scripts.join(', ')} -- --help print the manual and exit 0`, async () => {
      const result = await run('/bin/sh', ['-c', `${program} --help`]);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.ok(result.stdout.trim().split('\n').length >= 2, `no manual:\n${result.stdout}`);
      assert.equal(existsSync(untouched), false, `${program} --help created DATA_DIR`);
    });
  }

  for (const script of executableScripts()) {
    it(`${script} --help prints its manual and exits 0`, async () => {
      const result = await run(repoPath(script), ['--help']);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /\S/);
    });
  }

  it('the Kratos double on its own: tsx tests/doubles/kratos/main.ts --help', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', 'tests/doubles/kratos/main.ts', '--help']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /Usage: tsx tests\/doubles\/kratos\/main\.ts/);
  });
});
