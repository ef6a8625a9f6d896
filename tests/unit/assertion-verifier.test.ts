/**
 * The gateway's assertion verifier against @simplewebauthn's verifyAuthenticationResponse,
 * the reference: for each key algorithm, a good assertion and assertions wrong in one way
 * each (most of them signed again, so that only the check under test can refuse them) must
 * be accepted or refused by both, with the same answer when accepted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
} from '@simplewebauthn/server';
import { AppError } from '../../gateway/src/errors/app-error.js';
import {
  createAssertionVerifier,
  type AssertionCheck,
} from '../../gateway/src/factors/assertion-verifier.js';
import { verifying } from '../../gateway/src/factors/ceremony.js';
import { SoftAuthenticator, type SoftAlgorithm, type SoftCredential } from '../helpers/soft-authenticator.js';

const ORIGIN = 'http://localhost:3000';

interface Signed {
  check: AssertionCheck;
  held: SoftCredential;
  authenticator: SoftAuthenticator;
}

async function signedAssertion(algorithm: SoftAlgorithm, backedUp = false): Promise<Signed> {
  const authenticator = new SoftAuthenticator({ algorithm, backedUp });
  authenticator.register(
    await generateRegistrationOptions({ rpName: 'Test', rpID: 'localhost', userName: 'a@example.com' }),
  );
  const options = await generateAuthenticationOptions({ rpID: 'localhost' });
  const [held] = authenticator.credentials.values();
  return {
    authenticator,
    held: held!,
    check: {
      response: authenticator.authenticate(options),
      expectedChallenge: options.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: 'localhost',
      credential: {
        id: held!.id,
        publicKey: new Uint8Array(SoftAuthenticator.coseKey(held!.publicKey)),
        counter: 0,
      },
    },
  };
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** The assertion with its client data and authenticator data changed, signed again by its key. */
function resigned(
  { check, held }: Signed,
  change: { clientData?(data: Record<string, unknown>): void; authData?(data: Buffer): Buffer },
): AssertionCheck {
  const clientData = JSON.parse(Buffer.from(check.response.response.clientDataJSON, 'base64url').toString());
  change.clientData?.(clientData);
  const clientDataJSON = Buffer.from(JSON.stringify(clientData));
  const original = Buffer.from(check.response.response.authenticatorData, 'base64url');
  const authData = change.authData ? change.authData(Buffer.from(original)) : original;
  return withResponse(check, {
    clientDataJSON: b64url(clientDataJSON),
    authenticatorData: b64url(authData),
    signature: b64url(SoftAuthenticator.sign(held, authData, clientDataJSON)),
  });
}

function withResponse(
  check: AssertionCheck,
  response: Partial<AuthenticationResponseJSON['response']>,
  outer: Partial<AuthenticationResponseJSON> = {},
): AssertionCheck {
  return {
    ...check,
    response: { ...check.response, ...outer, response: { ...check.response.response, ...response } },
  };
}

const withFlags =
  (set: number, clear = 0) =>
  (data: Buffer) => {
    data[32] = (data[32]! | set) & ~clear;
    return data;
  };

type Outcome = { accepted: true; info: unknown } | { accepted: false };

async function outcome(
  run: () => Promise<{ verified: boolean; authenticationInfo: unknown }>,
): Promise<Outcome> {
  try {
    const result = await run();
    return result.verified ? { accepted: true, info: result.authenticationInfo } : { accepted: false };
  } catch {
    return { accepted: false };
  }
}

/** Cases named by what is wrong, with whether the reference accepts them (asserted too). */
function cases(signed: Signed): Array<[string, AssertionCheck, boolean]> {
  const { check } = signed;
  const signature = Buffer.from(check.response.response.signature, 'base64url');
  const flipped = Buffer.from(signature);
  flipped[flipped.length - 1]! ^= 0x01;
  return [
    ['nothing', check, true],
    ['the challenge', { ...check, expectedChallenge: 'another-challenge' }, false],
    ['the expected origin', { ...check, expectedOrigin: 'https://evil.example' }, false],
    [
      'nothing, with one of several origins',
      { ...check, expectedOrigin: ['https://a.example', ORIGIN] },
      true,
    ],
    ['the RP ID', { ...check, expectedRPID: 'example.com' }, false],
    ['the client data type', resigned(signed, { clientData: (d) => (d.type = 'webauthn.create') }), false],
    [
      'the signed origin',
      resigned(signed, { clientData: (d) => (d.origin = 'https://evil.example') }),
      false,
    ],
    ['the signed challenge', resigned(signed, { clientData: (d) => (d.challenge = 'AAAA') }), false],
    [
      'a top origin (framed by another site)',
      resigned(signed, {
        clientData: (d) => {
          d.crossOrigin = true;
          d.topOrigin = 'https://evil.example';
        },
      }),
      false,
    ],
    [
      'a top origin without cross-origin',
      resigned(signed, { clientData: (d) => (d.topOrigin = ORIGIN) }),
      false,
    ],
    [
      'a token binding of an unknown status',
      resigned(signed, { clientData: (d) => (d.tokenBinding = { status: 'bogus' }) }),
      false,
    ],
    [
      'nothing, with a token binding present',
      resigned(signed, { clientData: (d) => (d.tokenBinding = { status: 'present', id: 'x' }) }),
      true,
    ],
    ['user presence', resigned(signed, { authData: withFlags(0, 0x01) }), false],
    ['user verification', resigned(signed, { authData: withFlags(0, 0x04) }), false],
    [
      'nothing, user verification not required',
      { ...resigned(signed, { authData: withFlags(0, 0x04) }), requireUserVerification: false },
      true,
    ],
    ['backed up without backup eligibility', resigned(signed, { authData: withFlags(0x10, 0x08) }), false],
    ['nothing, backed up and eligible', resigned(signed, { authData: withFlags(0x18) }), true],
    ['extension data flagged but absent', resigned(signed, { authData: withFlags(0x80) }), false],
    ['leftover bytes', resigned(signed, { authData: (d) => Buffer.concat([d, Buffer.from([0])]) }), false],
    ['a short authenticator data', resigned(signed, { authData: (d) => d.subarray(0, 36) }), false],
    ['a counter behind the stored one', { ...check, credential: { ...check.credential, counter: 5 } }, false],
    ['the signature', withResponse(check, { signature: b64url(flipped) }), false],
    ['the signature cut short', withResponse(check, { signature: b64url(signature.subarray(0, 8)) }), false],
    ['an empty signature', withResponse(check, { signature: '' }), false],
    ['a signature not base64url', withResponse(check, { signature: 'a+b/c=' }), false],
    ['authenticator data not base64url', withResponse(check, { authenticatorData: '!!' }), false],
    [
      'the signed authenticator data',
      withResponse(check, {
        authenticatorData: b64url(
          withFlags(0x08)(Buffer.from(check.response.response.authenticatorData, 'base64url')),
        ),
      }),
      false,
    ],
    ['a user handle not a string', withResponse(check, { userHandle: 7 as never }), false],
    ['the raw id', withResponse(check, {}, { rawId: 'other' }), false],
    ['the credential type', withResponse(check, {}, { type: 'password' as never }), false],
    ['client data not a string', withResponse(check, { clientDataJSON: undefined as never }), false],
  ];
}

describe('the assertion verifier against @simplewebauthn', () => {
  const verifier = createAssertionVerifier();
  for (const algorithm of ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256'] as const) {
    it(`${algorithm}: accepts and refuses what the library does, with its answer`, async () => {
      const signed = await signedAssertion(algorithm);
      const other = await signedAssertion(algorithm);
      const all = [
        ...cases(signed),
        [
          'the key (another credential)',
          { ...signed.check, credential: other.check.credential },
          false,
        ] as const,
      ];
      for (const [wrong, check, accepted] of all) {
        const reference = await outcome(() => verifyAuthenticationResponse(check));
        const ours = await outcome(() => verifier.verify(check));
        assert.equal(reference.accepted, accepted, `the library, wrong ${wrong}`);
        assert.deepEqual(ours, reference, `${algorithm}, wrong: ${wrong}`);
      }
    });
  }

  it('answers the counter, user verification and backup state the authenticator signed', async () => {
    const signed = await signedAssertion('ES256', true);
    const result = await verifier.verify(signed.check);
    assert.equal(result.authenticationInfo.newCounter, 1);
    assert.equal(result.authenticationInfo.userVerified, true);
    assert.equal(result.authenticationInfo.credentialBackedUp, true);
    assert.equal(result.authenticationInfo.credentialDeviceType, 'multiDevice');
  });

  it('keeps working when its key cache is full (the oldest keys make way)', async () => {
    const small = createAssertionVerifier(2);
    const signed = await Promise.all([1, 2, 3].map(() => signedAssertion('ES256')));
    for (const round of [1, 2]) {
      for (const s of signed) assert.equal((await small.verify(s.check)).verified, true, `round ${round}`);
      const wrongKey = { ...signed[0]!.check, credential: signed[1]!.check.credential };
      assert.equal((await outcome(() => small.verify(wrongKey))).accepted, false);
    }
  });

  it('a refusal is the client’s fault: 400 passkey_verification_failed', async () => {
    const { check } = await signedAssertion('ES256');
    const mapped = await verifying(() => verifier.verify({ ...check, expectedChallenge: 'x' })).catch(
      (err: unknown) => err,
    );
    assert.ok(mapped instanceof AppError);
    assert.equal(mapped.status, 400);
    assert.equal(mapped.code, 'passkey_verification_failed');
  });
});
