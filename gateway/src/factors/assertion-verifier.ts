import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import {
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
  type VerifiedAuthenticationResponse,
} from '@simplewebauthn/server';
import {
  decodeClientDataJSON,
  decodeCredentialPublicKey,
  isoBase64URL,
  parseAuthenticatorData,
} from '@simplewebauthn/server/helpers';

type Verified = Pick<VerifiedAuthenticationResponse, 'verified' | 'authenticationInfo'>;

/** What a ceremony checks an assertion against (a subset of verifyAuthenticationResponse's options). */
export interface AssertionCheck {
  response: AuthenticationResponseJSON;
  expectedChallenge: string;
  expectedOrigin: string | string[];
  expectedRPID: string;
  credential: { id: string; publicKey: Uint8Array<ArrayBuffer>; counter: number };
  /** Default true, as in @simplewebauthn. */
  requireUserVerification?: boolean;
}

/** Checks WebAuthn assertions (WebAuthn §7.2) as @simplewebauthn's verifyAuthenticationResponse does. */
export interface AssertionVerifier {
  /** Rejects with the check's own error when the assertion is malformed or names the wrong ceremony. */
  verify(check: AssertionCheck): Promise<Verified>;
}

/** A credential public key ready for node:crypto, with the hash its COSE algorithm names. */
interface ReadyKey {
  key: KeyObject;
  /** null for EdDSA, which hashes internally. */
  hash: string | null;
}

const EC2_CURVES = new Map<unknown, string>([
  [1, 'P-256'],
  [2, 'P-384'],
  [3, 'P-521'],
]);
const EC2_HASHES = new Map<unknown, string>([
  [-7, 'sha256'],
  [-35, 'sha384'],
  [-36, 'sha512'],
]);

/**
 * The COSE key as a node:crypto key: EC2 with ES256/ES384/ES512 on P-256/P-384/P-521, and
 * Ed25519 (EdDSA), which are the keys passkeys use. Anything else (RSA, other algorithms, a
 * malformed key) answers undefined, and its assertions are checked by @simplewebauthn.
 */
function readyKey(publicKey: Uint8Array<ArrayBuffer>): ReadyKey | undefined {
  try {
    const cose = decodeCredentialPublicKey(publicKey) as unknown as Map<number, unknown>;
    const [kty, alg, crv, x, y] = [1, 3, -1, -2, -3].map((label) => cose.get(label));
    const curve = EC2_CURVES.get(crv);
    const hash = EC2_HASHES.get(alg);
    if (kty === 2 && curve && hash && x instanceof Uint8Array && y instanceof Uint8Array) {
      const jwk = {
        kty: 'EC',
        crv: curve,
        x: isoBase64URL.fromBuffer(x as Uint8Array<ArrayBuffer>),
        y: isoBase64URL.fromBuffer(y as Uint8Array<ArrayBuffer>),
      };
      return { key: createPublicKey({ key: jwk, format: 'jwk' }), hash };
    }
    if (kty === 1 && crv === 6 && alg === -8 && x instanceof Uint8Array) {
      const jwk = { kty: 'OKP', crv: 'Ed25519', x: isoBase64URL.fromBuffer(x as Uint8Array<ArrayBuffer>) };
      return { key: createPublicKey({ key: jwk, format: 'jwk' }), hash: null };
    }
  } catch {
    // A key node:crypto does not take (not on its curve, say): the library decides.
  }
  return undefined;
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/** The signature check, in the thread pool: the event loop goes on serving while it runs. */
const signatureHolds = (ready: ReadyKey, signed: Uint8Array, signature: Uint8Array) =>
  new Promise<boolean>((resolve, reject) =>
    verifySignature(ready.hash, signed, ready.key, signature, (error, holds) =>
      error ? reject(error) : resolve(holds),
    ),
  );

/**
 * verifyAuthenticationResponse's checks, in its order and with its messages: the hashes and
 * the signature on node:crypto with a key imported once, instead of WebCrypto's key import,
 * digests and verification, each a trip through the thread pool. Everything but the signature
 * is checked on the event loop; the signature, the one costly step, in one trip through the
 * thread pool. An ECDSA signature must be DER, as WebAuthn §6.5.5 requires (node:crypto
 * takes DER only in its canonical form).
 */
async function check(options: AssertionCheck, ready: ReadyKey, rpIdHash: Buffer): Promise<Verified> {
  const { response, expectedChallenge, expectedOrigin, credential } = options;
  const { id, rawId, type: credentialType, response: assertion } = response;
  if (!id) throw new Error('Missing credential ID');
  if (id !== rawId) throw new Error('Credential ID was not base64url-encoded');
  if (credentialType !== 'public-key') {
    throw new Error(`Unexpected credential type ${String(credentialType)}, expected "public-key"`);
  }
  if (typeof assertion?.clientDataJSON !== 'string') {
    throw new Error('Credential response clientDataJSON was not a string');
  }
  const clientData = decodeClientDataJSON(assertion.clientDataJSON);
  const { type, origin, challenge, tokenBinding, crossOrigin, topOrigin } = clientData;
  if (type !== 'webauthn.get') throw new Error(`Unexpected authentication response type: ${type}`);
  if (challenge !== expectedChallenge) {
    throw new Error(
      `Unexpected authentication response challenge "${challenge}", expected "${expectedChallenge}"`,
    );
  }
  // No top origin is expected: an assertion made inside another site's frame is refused.
  if (topOrigin) {
    throw new Error(
      crossOrigin
        ? `Detected cross-origin authentication response from top origin of "${topOrigin}"`
        : `Unexpected top origin of "${topOrigin}" within a non-cross-origin authentication response`,
    );
  }
  const origins = Array.isArray(expectedOrigin) ? expectedOrigin : [expectedOrigin];
  if (!origins.includes(origin)) {
    throw new Error(
      `Unexpected authentication response origin "${origin}", expected one of: ${origins.join(', ')}`,
    );
  }
  if (!isoBase64URL.isBase64URL(assertion.authenticatorData)) {
    throw new Error('Credential response authenticatorData was not a base64url string');
  }
  if (!isoBase64URL.isBase64URL(assertion.signature)) {
    throw new Error('Credential response signature was not a base64url string');
  }
  if (assertion.userHandle && typeof assertion.userHandle !== 'string') {
    throw new Error('Credential response userHandle was not a string');
  }
  if (tokenBinding) {
    if (typeof tokenBinding !== 'object') throw new Error('ClientDataJSON tokenBinding was not an object');
    if (!['present', 'supported', 'notSupported'].includes(tokenBinding.status)) {
      throw new Error(`Unexpected tokenBinding status ${String(tokenBinding.status)}`);
    }
  }
  const authData = isoBase64URL.toBuffer(assertion.authenticatorData);
  const parsed = parseAuthenticatorData(authData);
  const { flags, counter } = parsed;
  if (!rpIdHash.equals(parsed.rpIdHash)) throw new Error('Unexpected RP ID hash');
  if (!flags.up) throw new Error('User not present during authentication');
  if ((options.requireUserVerification ?? true) && !flags.uv) {
    throw new Error('User verification required, but user could not be verified');
  }
  const signed = Buffer.concat([authData, sha256(isoBase64URL.toBuffer(assertion.clientDataJSON))]);
  if ((counter > 0 || credential.counter > 0) && counter <= credential.counter) {
    throw new Error(`Response counter value ${counter} was lower than expected ${credential.counter}`);
  }
  // A backed-up credential must be backup eligible (WebAuthn §6.1.3).
  if (flags.bs && !flags.be) {
    throw new Error('Single-device credential indicated that it was backed up, which should be impossible.');
  }
  const signature = isoBase64URL.toBuffer(assertion.signature);
  return {
    verified: await signatureHolds(ready, signed, signature),
    authenticationInfo: {
      newCounter: counter,
      credentialID: credential.id,
      userVerified: flags.uv,
      credentialDeviceType: flags.be ? 'multiDevice' : 'singleDevice',
      credentialBackedUp: flags.bs,
      authenticatorExtensionResults: parsed.extensionsData,
      origin,
      rpID: options.expectedRPID,
    },
  };
}

/**
 * The gateway's assertion verifier. Keys of the usual passkey algorithms are checked here
 * (about a tenth of a millisecond, against about a millisecond through the library's
 * WebCrypto path), imported once and kept for the next sign-in (the newest `keyCacheSize`
 * keys, by their COSE bytes); any other key goes to @simplewebauthn. It accepts what the
 * library accepts, with the same answer, and refuses what it refuses (and an ECDSA signature
 * not in canonical DER, which the library may take); tests/unit/assertion-verifier.test.ts
 * holds the two together.
 */
export function createAssertionVerifier(keyCacheSize = 10_000): AssertionVerifier {
  const keys = new Map<string, ReadyKey | null>();
  const rpIdHashes = new Map<string, Buffer>();
  return {
    async verify(options) {
      const cacheKey = Buffer.from(options.credential.publicKey).toString('base64');
      let ready = keys.get(cacheKey);
      if (ready === undefined) {
        ready = readyKey(options.credential.publicKey) ?? null;
        const oldest = keys.keys().next();
        if (keys.size >= keyCacheSize && !oldest.done) keys.delete(oldest.value);
        keys.set(cacheKey, ready);
      }
      if (!ready) return verifyAuthenticationResponse(options);
      let rpIdHash = rpIdHashes.get(options.expectedRPID);
      if (!rpIdHash) {
        rpIdHash = sha256(options.expectedRPID);
        if (rpIdHashes.size < 16) rpIdHashes.set(options.expectedRPID, rpIdHash);
      }
      return check(options, ready, rpIdHash);
    },
  };
}
