import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The line that keeps a suite out of the real-stack tier: it needs a double's knobs (fault injection, a moved clock, white-box state). */
export const DOUBLE_ONLY_MARK = 'real-stack: double-only';

/**
 * The test tiers, each a set of folders. A test file belongs to the tier of its folder; the
 * runner refuses a test file that no tier names, so a new folder cannot drop out of `npm test`.
 */
export const TIERS = {
  /** No server of ours: pure functions, configuration files, compose, policies, scripts. */
  unit: { folders: ['tests/unit', 'tests/config', 'gateway'] },
  /** The real app in-process (Redis, Postgres or PGlite, the doubles), the doubles against the API documents, the CLI tools and `npm run dev` as processes. */
  component: { folders: ['tests/component', 'tests/contract', 'tests/cli'] },
  /** From the outside: headless Chromium against the demo page, real Nginx in front of the gateway. */
  e2e: { folders: ['tests/e2e', 'tests/nginx'] },
  /** Outages of Redis, Postgres, Kratos and Vault, two replicas, fuzzing, the soak. */
  resilience: { folders: ['tests/resilience'] },
  /** Real Kratos and Vault (`npm run test:real`): tests/real plus the component and e2e suites not marked double-only. */
  real: { folders: ['tests/real'] },
} as const;

export type Tier = keyof typeof TIERS;

/** What `npm test` runs: every tier against the doubles. */
export const FAST_TIERS: readonly Tier[] = ['unit', 'component', 'e2e', 'resilience'];

export const isTier = (name: string): name is Tier => Object.hasOwn(TIERS, name);

/** Every `*.test.ts` under `dir` (relative to `root`), sorted. */
export function findTests(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const child = join(path, name);
      if (statSync(child).isDirectory()) walk(child);
      else if (name.endsWith('.test.ts')) out.push(relative(root, child));
    }
  };
  walk(join(root, dir));
  return out.sort();
}

const inFolder = (file: string, folder: string) => file === folder || file.startsWith(`${folder}/`);

/** The tier a test file belongs to, or undefined when no tier names its folder. */
export function tierOf(file: string): Tier | undefined {
  return (Object.keys(TIERS) as Tier[]).find((tier) =>
    TIERS[tier].folders.some((folder) => inFolder(file, folder)),
  );
}

/** The test files of one tier. The real tier adds the component and e2e suites that run against real servers. */
export function tierFiles(root: string, tier: Tier): string[] {
  const own = TIERS[tier].folders.flatMap((folder) => findTests(root, folder));
  if (tier !== 'real') return own;
  const shared = ['tests/component', 'tests/e2e']
    .flatMap((folder) => findTests(root, folder))
    .filter((file) => !readFileSync(join(root, file), 'utf8').includes(DOUBLE_ONLY_MARK));
  return [...own, ...shared].sort();
}

/** Test files under tests/ and gateway/ that belong to no tier. */
export function filesOutsideTiers(root: string): string[] {
  return [...findTests(root, 'tests'), ...findTests(root, 'gateway')].filter((file) => !tierOf(file));
}
