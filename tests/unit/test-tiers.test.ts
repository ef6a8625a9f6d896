import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  FAST_TIERS,
  filesOutsideTiers,
  TIERS,
  tierFiles,
  tierOf,
  type Tier,
} from '../../scripts/test-tiers.js';
import { repoPath, repoRoot } from '../config/paths.js';

const scripts = (
  JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts;

describe('test tiers', () => {
  it('put every test file in a tier, so none drops out of npm test', () => {
    assert.deepEqual(filesOutsideTiers(repoRoot), []);
  });

  it('name folders that exist and hold tests', () => {
    for (const tier of Object.keys(TIERS) as Tier[]) {
      for (const folder of TIERS[tier].folders) assert.ok(existsSync(repoPath(folder)), `${tier}: ${folder}`);
      assert.ok(tierFiles(repoRoot, tier).length > 0, `${tier} has no test files`);
    }
  });

  it('give each file the tier of its folder', () => {
    assert.equal(tierOf('tests/unit/aal.test.ts'), 'unit');
    assert.equal(tierOf('tests/contract/kratos-double.test.ts'), 'component');
    assert.equal(tierOf('tests/nginx/nginx.test.ts'), 'e2e');
    assert.equal(tierOf('tests/resilience/soak.test.ts'), 'resilience');
    assert.equal(tierOf('tests/real/vault-unseal.test.ts'), 'real');
    assert.equal(tierOf('tests/unitary/x.test.ts'), undefined);
  });

  it('run the real tier apart from npm test, with the suites that are not double-only', () => {
    assert.ok(!FAST_TIERS.includes('real'));
    const real = tierFiles(repoRoot, 'real');
    assert.ok(real.some((file) => file.startsWith('tests/component/')));
    assert.ok(!real.includes('tests/component/recovery.test.ts'), 'recovery.test.ts is double-only');
  });

  it('each have an npm script', () => {
    for (const tier of Object.keys(TIERS)) {
      assert.equal(scripts[`test:${tier}`], `tsx scripts/test.ts --tier ${tier}`);
    }
    assert.equal(scripts.test, 'tsx scripts/test.ts');
  });
});
