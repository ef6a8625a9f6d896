/**
 * The double against real Kratos' recorded answers: the scenario of kratos-scenario.ts, run
 * against the double, must reduce to exactly what real Kratos v1.3.1 answered when the
 * fixtures were recorded (`KRATOS_RECORD_FIXTURES=1 npm run test:real`). Needs no Go.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { readFixtures, runKratosScenario } from './kratos-scenario.js';

let gw: TestGateway;

// A contract suite (fast tier only): the gateway's Kratos is the double, its hooks wired.
before(async () => {
  gw = await startTestGateway();
});
after(() => gw.close());

describe('the Kratos double against recorded real Kratos answers', () => {
  it('reproduces every recorded step', async () => {
    const recorded = readFixtures();
    assert.ok(recorded.length > 20, 'the fixtures hold the whole scenario');
    assert.deepEqual(await runKratosScenario(gw.kratos.publicUrl, gw.kratos.adminUrl), recorded);
  });
});
