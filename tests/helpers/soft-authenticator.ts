/**
 * A software WebAuthn authenticator for tests: real keys (node:crypto; ES256 unless told
 * otherwise), a real
 * CBOR attestation object (fmt `none`) and real assertion signatures, with the flags
 * (UP, UV, BE, BS) and the signature counter under the test's control. Everything it
 * answers is generated, never hand-written bytes.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

type Cbor = number | string | Uint8Array | Cbor[] | Map<Cbor, Cbor> | { [key: string]: Cbor };

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

/** A tiny CBOR encoder (RFC 8949): the integer, byte/text string, array and map subset WebAuthn uses. */
export function cbor(value: Cbor): Buffer {
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const text = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, text.length), text]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value]);
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cbor(k), cbor(v)])]);
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 } as const;

export interface SoftCredential {
  id: string;
  rpId: string;
  userHandle: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  counter: number;
}

/** The COSE algorithms the soft authenticator can hold keys for. */
export type SoftAlgorithm = 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | 'RS256';

const KEY_PAIRS: Record<SoftAlgorithm, () => { privateKey: KeyObject; publicKey: KeyObject }> = {
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  ES384: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ES512: () => generateKeyPairSync('ec', { namedCurve: 'P-521' }),
  EdDSA: () => generateKeyPairSync('ed25519'),
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
};

/** The hash its COSE algorithm names for a key of `KEY_PAIRS` (none: EdDSA hashes internally). */
function signingHash(publicKey: KeyObject): string | null {
  if (publicKey.asymmetricKeyType === 'ed25519') return null;
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  return curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
}

export interface SoftAuthenticatorOptions {
  /** Origin written into client data (default http://localhost:3000). */
  origin?: string;
  /** The authenticator verifies its user (biometric/PIN): sets UV (default true). */
  userVerification?: boolean;
  /** Backup eligible and backed up (a synced passkey): sets BE and BS (default false). */
  backedUp?: boolean;
  /** AAGUID of the authenticator model (default all zeros, as attestation `none` allows). */
  aaguid?: string;
  /** How much the counter moves at each assertion; 0 for authenticators without counters (default 1). */
  counterStep?: number;
  /** The algorithm of the keys it creates (default ES256). */
  algorithm?: SoftAlgorithm;
}

/** What a test may change about one ceremony to make it wrong on purpose. */
export interface CeremonyOverrides {
  origin?: string;
  rpId?: string;
  challenge?: string;
  userVerification?: boolean;
  userPresence?: boolean;
  /** For assertions: the counter to report (instead of the next one). */
  counter?: number;
  /** For assertions: which stored credential to use (default the first allowed, or the first held). */
  credentialId?: string;
  /** For assertions: the user handle to report (default the credential's, as discoverable ones do). */
  userHandle?: string | null;
}

/** A software passkey authenticator. */
export class SoftAuthenticator {
  readonly credentials = new Map<string, SoftCredential>();
  readonly origin: string;
  userVerification: boolean;
  readonly backedUp: boolean;
  readonly aaguid: Buffer;
  readonly counterStep: number;
  readonly algorithm: SoftAlgorithm;

  constructor(options: SoftAuthenticatorOptions = {}) {
    this.origin = options.origin ?? 'http://localhost:3000';
    this.userVerification = options.userVerification ?? true;
    this.backedUp = options.backedUp ?? false;
    this.aaguid = Buffer.from(
      (options.aaguid ?? '00000000-0000-0000-0000-000000000000').replace(/-/g, ''),
      'hex',
    );
    this.counterStep = options.counterStep ?? 1;
    this.algorithm = options.algorithm ?? 'ES256';
  }

  private flags(o: CeremonyOverrides, extra: number): number {
    let flags = extra;
    if (o.userPresence ?? true) flags |= FLAG.UP;
    if (o.userVerification ?? this.userVerification) flags |= FLAG.UV;
    if (this.backedUp) flags |= FLAG.BE | FLAG.BS;
    return flags;
  }

  private clientData(type: string, challenge: string, o: CeremonyOverrides): Buffer {
    return Buffer.from(
      JSON.stringify({
        type,
        challenge: o.challenge ?? challenge,
        origin: o.origin ?? this.origin,
        crossOrigin: false,
      }),
    );
  }

  private static authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  }

  /** The credential public key as a COSE_Key map (RFC 9053): EC2, OKP (Ed25519) or RSA. */
  static coseKey(publicKey: KeyObject): Buffer {
    const jwk = publicKey.export({ format: 'jwk' });
    const bytes = (field: string | undefined) => Buffer.from(field!, 'base64url');
    if (jwk.kty === 'OKP')
      return cbor(
        new Map<Cbor, Cbor>([
          [1, 1],
          [3, -8],
          [-1, 6],
          [-2, bytes(jwk.x)],
        ]),
      );
    if (jwk.kty === 'RSA')
      return cbor(
        new Map<Cbor, Cbor>([
          [1, 3],
          [3, -257],
          [-1, bytes(jwk.n)],
          [-2, bytes(jwk.e)],
        ]),
      );
    const [crv, alg] = jwk.crv === 'P-384' ? [2, -35] : jwk.crv === 'P-521' ? [3, -36] : [1, -7];
    return cbor(
      new Map<Cbor, Cbor>([
        [1, 2],
        [3, alg!],
        [-1, crv!],
        [-2, bytes(jwk.x)],
        [-3, bytes(jwk.y)],
      ]),
    );
  }

  /** Answers `navigator.credentials.create()` for these options. */
  register(
    options: PublicKeyCredentialCreationOptionsJSON,
    o: CeremonyOverrides = {},
  ): RegistrationResponseJSON {
    const rpId = o.rpId ?? options.rp.id ?? new URL(this.origin).hostname;
    const { privateKey, publicKey } = KEY_PAIRS[this.algorithm]();
    const rawId = randomBytes(32);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(rawId.length);
    const attested = Buffer.concat([this.aaguid, idLength, rawId, SoftAuthenticator.coseKey(publicKey)]);
    const authData = SoftAuthenticator.authData(rpId, this.flags(o, FLAG.AT), 0, attested);
    const id = b64url(rawId);
    this.credentials.set(id, { id, rpId, userHandle: options.user.id, privateKey, publicKey, counter: 0 });
    const clientDataJSON = this.clientData('webauthn.create', options.challenge, o);
    return {
      id,
      rawId: id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(cbor({ fmt: 'none', attStmt: {}, authData })),
        transports: ['internal'],
      },
    };
  }

  private pick(options: PublicKeyCredentialRequestOptionsJSON, o: CeremonyOverrides): SoftCredential {
    const allowed = options.allowCredentials?.map((c) => c.id) ?? [];
    const id =
      o.credentialId ?? allowed.find((a) => this.credentials.has(a)) ?? [...this.credentials.keys()][0];
    const credential = id ? this.credentials.get(id) : undefined;
    if (!credential) throw new Error('the soft authenticator holds no matching credential');
    return credential;
  }

  /** The assertion signature of `credential` over authenticator data and client data (WebAuthn §6.3.3). */
  static sign(credential: SoftCredential, authData: Buffer, clientDataJSON: Buffer): Buffer {
    return sign(
      signingHash(credential.publicKey),
      Buffer.concat([authData, sha256(clientDataJSON)]),
      credential.privateKey,
    );
  }

  /** Answers `navigator.credentials.get()` for these options, with a real signature. */
  authenticate(
    options: PublicKeyCredentialRequestOptionsJSON,
    o: CeremonyOverrides = {},
  ): AuthenticationResponseJSON {
    const credential = this.pick(options, o);
    credential.counter = o.counter ?? credential.counter + this.counterStep;
    const rpId = o.rpId ?? options.rpId ?? credential.rpId;
    const authData = SoftAuthenticator.authData(rpId, this.flags(o, 0), credential.counter);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, o);
    const signature = SoftAuthenticator.sign(credential, authData, clientDataJSON);
    const userHandle = o.userHandle === undefined ? credential.userHandle : o.userHandle;
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle ? { userHandle } : {}),
      },
    };
  }
}
