/**
 * The differential test: one scenario of Kratos calls (tests/contract/kratos-scenario.ts) runs
 * against real Kratos v1.3.1 and against the double in the same run; status codes, error ids,
 * UI message ids, node names and body shapes must match. Where they differ the real server is
 * right and the double changes. KRATOS_RECORD_FIXTURES=1 writes the real answers to
 * tests/contract/fixtures/kratos-scenario.json, which the fast tier holds the double to.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startKratosDouble, type KratosDouble } from '../doubles/kratos/index.js';
import {
  fixturePath,
  readFixtures,
  runKratosScenario,
  type StepAnswer,
} from '../contract/kratos-scenario.js';
import { WEBHOOK_KEY } from '../helpers/http.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { kratosTarget } from '../helpers/kratos-target.js';

let gw: TestGateway;
let double: KratosDouble;

// In the real tier the gateway's own Kratos is real; the double sends its hooks to the same gateway.
before(async () => {
  if (kratosTarget !== 'real')
    throw new Error('the differential test runs in the real tier: npm run test:real');
  gw = await startTestGateway();
  double = await startKratosDouble({
    webhookUrl: (hook) => `${gw.url}/hooks/kratos/${hook}`,
    webhookApiKey: WEBHOOK_KEY,
  });
});
after(async () => {
  await double.close();
  await gw.close();
});

describe('the Kratos double against real Kratos v1.3.1', () => {
  let realAnswers: StepAnswer[];
  let doubleAnswers: StepAnswer[];

  before(async () => {
    realAnswers = await runKratosScenario(gw.kratos.publicUrl, gw.kratos.adminUrl);
    doubleAnswers = await runKratosScenario(double.publicUrl, double.adminUrl);
    if (process.env.KRATOS_RECORD_FIXTURES)
      writeFileSync(fixturePath, `${JSON.stringify(realAnswers, null, 2)}\n`);
  });

  it('answers every step of the scenario as real Kratos does', () => {
    assert.deepEqual(
      doubleAnswers.map((a) => a.step),
      realAnswers.map((a) => a.step),
    );
    const differences = realAnswers.flatMap((expected, i) => {
      const actual = doubleAnswers[i];
      return JSON.stringify(actual) === JSON.stringify(expected)
        ? []
        : [`${expected.step}\n  real:   ${JSON.stringify(expected)}\n  double: ${JSON.stringify(actual)}`];
    });
    assert.deepEqual(differences, [], differences.join('\n'));
  });

  it('matches the recorded fixtures, so the fast tier holds the double to today’s real answers', () => {
    assert.deepEqual(readFixtures(), realAnswers);
  });
});
