import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type VerifyAuthenticationResponseOpts,
} from '@simplewebauthn/server';
import { AppError } from '../../gateway/src/errors/app-error.js';
import { createAssertionVerifier } from '../../gateway/src/factors/assertion-verifier.js';
import { verifying } from '../../gateway/src/factors/ceremony.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

const ORIGIN = 'http://localhost:3000';

/** A signed assertion of a fresh credential, and the options that verify it. */
async function signedAssertion(): Promise<VerifyAuthenticationResponseOpts> {
  const authenticator = new SoftAuthenticator();
  authenticator.register(
    await generateRegistrationOptions({ rpName: 'Test', rpID: 'localhost', userName: 'a@example.com' }),
  );
  const options = await generateAuthenticationOptions({ rpID: 'localhost' });
  const [held] = authenticator.credentials.values();
  return {
    response: authenticator.authenticate(options),
    expectedChallenge: options.challenge,
    expectedOrigin: ORIGIN,
    expectedRPID: 'localhost',
    credential: {
      id: held!.id,
      publicKey: new Uint8Array(SoftAuthenticator.coseKey(held!.publicKey)),
      counter: 0,
    },
  };
}

describe('the assertion verifier', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'gw-verifier-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const threads of [0, 1, 2]) {
    it(`with ${threads} thread(s): verifies a signed assertion and refuses one for another challenge`, async () => {
      const verifier = createAssertionVerifier(threads);
      try {
        const good = await signedAssertion();
        const results = await Promise.all([1, 2, 3].map(() => verifier.verify(good)));
        for (const result of results) {
          assert.equal(result.verified, true);
          assert.equal(result.authenticationInfo.userVerified, true);
          assert.equal(result.authenticationInfo.credentialID, good.credential.id);
        }
        const wrong = { ...good, expectedChallenge: 'another-challenge' };
        const refused = await verifier.verify(wrong).catch((err: unknown) => err);
        assert.ok(refused instanceof Error && !(refused instanceof AppError), String(refused));
        assert.match(refused.message, /challenge/i);
        // A refusal is the client's fault: a 400 for the ceremony.
        const mapped = await verifying(() => verifier.verify(wrong)).catch((err: unknown) => err);
        assert.ok(mapped instanceof AppError);
        assert.equal(mapped.status, 400);
        assert.equal(mapped.code, 'passkey_verification_failed');
      } finally {
        await verifier.close();
      }
    });
  }

  it('answers 503 (never a refusal) when its thread dies, and starts another for the next check', async () => {
    const dying = join(tmp, 'dying-worker.mjs');
    writeFileSync(
      dying,
      "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => process.exit(3));\n",
    );
    const verifier = createAssertionVerifier(1, pathToFileURL(dying));
    try {
      const options = await signedAssertion();
      for (let attempt = 0; attempt < 2; attempt++) {
        const err = await verifying(() => verifier.verify(options)).catch((e: unknown) => e);
        assert.ok(err instanceof AppError, String(err));
        assert.equal(err.status, 503);
        assert.equal(err.code, 'passkey_verifier_unavailable');
      }
    } finally {
      await verifier.close();
    }
    const closed = await verifier.verify(await signedAssertion()).catch((e: unknown) => e);
    assert.ok(closed instanceof AppError && closed.status === 503);
  });
});
