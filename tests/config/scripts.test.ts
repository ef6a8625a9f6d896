import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
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
import { repoPath } from './paths.js';

const bash = '/bin/bash';

/** A scratch copy of the repository layout the scripts need: scripts/, .env.example, compose file. */
function scratchRepo(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'manage-'));
  mkdirSync(path.join(root, 'scripts'));
  mkdirSync(path.join(root, 'bin'));
  for (const script of ['manage', 'generate-secrets']) {
    copyFileSync(repoPath('scripts', script), path.join(root, 'scripts', script));
  }
  copyFileSync(repoPath('.env.example'), path.join(root, '.env.example'));
  copyFileSync(repoPath('docker-compose.yml'), path.join(root, 'docker-compose.yml'));
  return root;
}

/** A `docker` stand-in on PATH that records each call's arguments; `compose version` answers as told. */
function fakeDocker(root: string, composeWorks: boolean): void {
  const file = path.join(root, 'bin', 'docker');
  writeFileSync(
    file,
    `#!/bin/sh\nif [ "$1 $2" = "compose version" ]; then exit ${composeWorks ? 0 : 1}; fi\n` +
      `printf '%s\\n' "$@" -- >> "${path.join(root, 'docker-args')}"\n`,
  );
  chmodSync(file, 0o755);
  rmSync(path.join(root, 'docker-args'), { force: true });
}

/** The docker calls the fake recorded, each as its argument list. */
function dockerCalls(root: string): string[][] {
  return readFileSync(path.join(root, 'docker-args'), 'utf8')
    .split('\n--\n')
    .map((call) => call.replace(/\n?--\n?$/, '').split('\n'))
    .filter((call) => call.length > 1 || call[0] !== '');
}

function manage(root: string, args: string[], pathDirs: string[]) {
  return spawnSync(bash, [path.join(root, 'scripts', 'manage'), ...args], {
    encoding: 'utf8',
    env: { PATH: pathDirs.join(path.delimiter) },
  });
}

describe('scripts/manage', () => {
  let root: string;

  before(() => {
    root = scratchRepo();
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it('explains how to install Docker and exits 127 when docker is not on PATH', () => {
    const result = manage(root, ['status'], [path.join(root, 'empty-path')]);
    assert.equal(result.status, 127);
    assert.match(result.stderr, /Docker is not installed or not on PATH/);
    assert.match(result.stderr, /https:\/\/docs\.docker\.com\/engine\/install\//);
  });

  it('names the missing Compose plugin when docker runs but `docker compose` does not', () => {
    fakeDocker(root, false);
    const result = manage(root, ['status'], [path.join(root, 'bin')]);
    assert.equal(result.status, 127);
    assert.match(result.stderr, /Docker Compose plugin is missing/);
  });

  it('points at generate-secrets when .env is missing', () => {
    fakeDocker(root, true);
    const result = manage(root, ['start'], [path.join(root, 'bin')]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /\.env is missing; create it with scripts\/generate-secrets/);
  });

  it('rejects an unknown command with the usage and exit code 2', () => {
    const result = manage(root, ['deploy'], [path.join(root, 'bin')]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown command 'deploy'/);
    assert.match(result.stderr, /Usage: scripts\/manage <command> \[service\]/);
  });

  const uid = process.getuid?.() ?? 0;
  const cases: [string[], string[][]][] = [
    [['start'], [['up', '--detach', '--build']]],
    [['stop', 'nginx'], [['stop', 'nginx']]],
    [['restart', 'gateway-1'], [['restart', 'gateway-1']]],
    [
      ['status'],
      [
        ['ps', '--all'],
        ['exec', '-T', 'vault-unsealer', '/bin/sh', '/vault/init.sh', 'status'],
      ],
    ],
    [['status', 'redis'], [['ps', '--all', 'redis']]],
    [['logs', 'kratos'], [['logs', '--follow', '--tail=200', 'kratos']]],
    [
      ['keys', 'backup', '--out', '/backups/keys.json'],
      [
        [
          '--profile',
          'tools',
          'run',
          '--rm',
          '--user',
          `${uid}:1000`,
          '-e',
          'HOME=/tmp',
          'keys',
          'backup',
          '--out',
          '/backups/keys.json',
        ],
      ],
    ],
  ];
  for (const [args, expected] of cases) {
    it(`runs docker compose for "${args.join(' ')}"`, () => {
      writeFileSync(path.join(root, '.env'), '');
      fakeDocker(root, true);
      // The fake docker comes first; the system folders provide mkdir and friends.
      const result = manage(root, args, [path.join(root, 'bin'), '/usr/bin', '/bin']);
      assert.equal(result.status, 0, result.stderr);
      const prefix = ['compose', '--project-directory', root, '-f', path.join(root, 'docker-compose.yml')];
      assert.deepEqual(
        dockerCalls(root),
        expected.map((call) => [...prefix, ...call]),
      );
    });
  }

  it('uses the compose files COMPOSE_FILE names in .env, as plain docker compose does', () => {
    writeFileSync(
      path.join(root, '.env'),
      'PUBLIC_HOSTNAME=auth.example.com\nCOMPOSE_FILE=docker-compose.yml:docker-compose.tls.yml\n',
    );
    fakeDocker(root, true);
    const result = manage(root, ['restart', 'redis'], [path.join(root, 'bin'), '/usr/bin', '/bin']);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(dockerCalls(root), [
      [
        'compose',
        '--project-directory',
        root,
        '-f',
        path.join(root, 'docker-compose.yml'),
        '-f',
        path.join(root, 'docker-compose.tls.yml'),
        'restart',
        'redis',
      ],
    ]);
  });

  it('runs the keys tool as whoever calls it, so backups land in a folder that caller owns (root or not)', () => {
    writeFileSync(path.join(root, '.env'), '');
    const callers: { uid: number; gid: number; wrap: string[] }[] = [
      { uid, gid: process.getgid?.() ?? 0, wrap: [] },
    ];
    // As root, also as an unprivileged user (setpriv from util-linux drops to uid 65534).
    if (uid === 0 && spawnSync('setpriv', ['--version']).status === 0)
      callers.push({
        uid: 65534,
        gid: 65534,
        wrap: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'],
      });
    for (const caller of callers) {
      const home = mkdtempSync(path.join(tmpdir(), 'manage-caller-'));
      chmodSync(home, 0o777);
      for (const dir of ['scripts', 'bin']) mkdirSync(path.join(home, dir));
      for (const script of ['manage', 'generate-secrets'])
        copyFileSync(repoPath('scripts', script), path.join(home, 'scripts', script));
      copyFileSync(repoPath('docker-compose.yml'), path.join(home, 'docker-compose.yml'));
      writeFileSync(path.join(home, '.env'), '');
      fakeDocker(home, true);
      spawnSync('chown', ['-R', `${caller.uid}:${caller.gid}`, home]);
      const [command, ...rest] = [
        ...caller.wrap,
        bash,
        path.join(home, 'scripts', 'manage'),
        'keys',
        'backup',
      ];
      const result = spawnSync(command ?? bash, rest, {
        encoding: 'utf8',
        env: { PATH: [path.join(home, 'bin'), '/usr/bin', '/bin'].join(path.delimiter) },
      });
      assert.equal(result.status, 0, result.stderr);
      const backups = statSync(path.join(home, 'backups'));
      assert.equal(backups.uid, caller.uid, 'the caller owns ./backups');
      assert.equal(backups.mode & 0o777, 0o700);
      assert.ok(dockerCalls(home)[0]?.join(' ').includes(`--user ${caller.uid}:1000`));
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('takes at most one service name', () => {
    const result = manage(root, ['stop', 'nginx', 'redis'], [path.join(root, 'bin')]);
    assert.equal(result.status, 2);
  });
});

describe('scripts/generate-secrets', () => {
  let root: string;
  const run = () =>
    spawnSync(bash, [path.join(root, 'scripts', 'generate-secrets')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
  const readEnv = () =>
    Object.fromEntries(
      readFileSync(path.join(root, '.env'), 'utf8')
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );

  before(() => {
    root = scratchRepo();
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it('creates .env from .env.example with every secret filled, readable by the owner only', () => {
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    const env = readEnv();
    for (const name of ['POSTGRES_PASSWORD', 'REDIS_PASSWORD', 'SESSION_SECRET', 'KRATOS_WEBHOOK_API_KEY']) {
      assert.match(env[name] ?? '', /^[0-9a-f]{64}$/, name);
    }
    assert.equal(Buffer.from(env.SESSION_ENCRYPTION_KEY ?? '', 'base64').length, 32);
    assert.match(env.KRATOS_SECRETS_CIPHER ?? '', /^[A-Za-z0-9]{32}$/);
    assert.equal(env.PUBLIC_BASE_URL, 'https://auth.example.com');
    assert.equal(statSync(path.join(root, '.env')).mode & 0o777, 0o600);
  });

  it('never prints a secret value', () => {
    rmSync(path.join(root, '.env'));
    const result = run();
    const env = readEnv();
    assert.ok(!result.stdout.includes(env.SESSION_SECRET ?? '-'));
    assert.match(result.stdout, /Generated: .*SESSION_SECRET/);
  });

  it('keeps values that are already set and fills only the empty ones', () => {
    const before = readEnv();
    const text = readFileSync(path.join(root, '.env'), 'utf8').replace(
      /^REDIS_PASSWORD=.*$/m,
      'REDIS_PASSWORD=',
    );
    writeFileSync(path.join(root, '.env'), text);
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    const after = readEnv();
    assert.equal(after.SESSION_SECRET, before.SESSION_SECRET);
    assert.equal(after.POSTGRES_PASSWORD, before.POSTGRES_PASSWORD);
    assert.notEqual(after.REDIS_PASSWORD, before.REDIS_PASSWORD);
    assert.match(after.REDIS_PASSWORD ?? '', /^[0-9a-f]{64}$/);
    assert.match(result.stdout, /Generated: REDIS_PASSWORD$/m);
  });

  it('adds a setting that an older .env lacks, generating it when it is a secret', () => {
    const before = readEnv();
    const text = readFileSync(path.join(root, '.env'), 'utf8')
      .replace(/^KRATOS_SECRETS_CIPHER=.*\n/m, '')
      .replace(/^GATEWAY_DATABASE_URL=.*\n/m, '')
      .replace(/\n$/, '');
    writeFileSync(path.join(root, '.env'), text);
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /Added from \.env\.example: .*KRATOS_SECRETS_CIPHER/);
    assert.match(result.stdout, /Generated: KRATOS_SECRETS_CIPHER$/m);
    const after = readEnv();
    assert.match(after.KRATOS_SECRETS_CIPHER ?? '', /^[A-Za-z0-9]{32}$/);
    assert.equal(
      after.GATEWAY_DATABASE_URL,
      'postgres://gateway:${GATEWAY_DB_PASSWORD}@postgres:5432/gateway',
    );
    assert.equal(after.SESSION_SECRET, before.SESSION_SECRET);
    // The old last line (no final newline) keeps its own line.
    assert.match(
      readFileSync(path.join(root, '.env'), 'utf8'),
      /\n# Added by generate-secrets from \.env\.example\n/,
    );
    const again = run();
    assert.doesNotMatch(again.stdout, /Added/);
  });
});

describe('shell scripts of the stack', () => {
  const scripts: [string, string[]][] = [
    ['sh', ['kratos', 'render-config.sh']],
    ['sh', ['vault', 'init.sh']],
    ['sh', ['postgres', 'init-databases.sh']],
    ['bash', ['scripts', 'manage']],
    ['bash', ['scripts', 'generate-secrets']],
    ['bash', ['scripts', 'encryption-keys']],
  ];
  for (const [shell, parts] of scripts) {
    it(`${parts.join('/')} parses with ${shell} -n and is executable`, () => {
      const result = spawnSync(shell, ['-n', repoPath(...parts)], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.ok(statSync(repoPath(...parts)).mode & 0o100, 'executable');
    });
  }
});
