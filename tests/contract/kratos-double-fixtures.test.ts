/**
 * The double against real Kratos' recorded answers: the scenario of kratos-scenario.ts, run
 * against the double, must reduce to exactly what real Kratos v1.3.1 answered when the
 * fixtures were recorded (`KRATOS_RECORD_FIXTURES=1 npm run test:real`). Needs no Go.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startKratosDouble, type KratosDouble } from '../doubles/kratos/index.js';
import { WEBHOOK_KEY } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { readFixtures, runKratosScenario } from './kratos-scenario.js';

let double: KratosDouble;
let gw: TestGateway;

before(async () => {
  const target: { url?: string } = {};
  double = await startKratosDouble({
    webhookUrl: (hook) => target.url && `${target.url}/hooks/kratos/${hook}`,
    webhookApiKey: WEBHOOK_KEY,
  });
  gw = await startTestGateway({ kratos: double });
  target.url = gw.url;
});
after(async () => {
  await gw.close();
  await double.close();
});

describe('the Kratos double against recorded real Kratos answers', () => {
  it('reproduces every recorded step', async () => {
    const recorded = readFixtures();
    assert.ok(recorded.length > 20, 'the fixtures hold the whole scenario');
    assert.deepEqual(await runKratosScenario(double.publicUrl, double.adminUrl), recorded);
  });
});
