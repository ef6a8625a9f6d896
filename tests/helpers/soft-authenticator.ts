/**
 * A software WebAuthn authenticator for tests: real ES256 keys (node:crypto), a real
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

/** A software passkey authenticator holding ES256 credentials. */
export class SoftAuthenticator {
  readonly credentials = new Map<string, SoftCredential>();
  readonly origin: string;
  userVerification: boolean;
  readonly backedUp: boolean;
  readonly aaguid: Buffer;
  readonly counterStep: number;

  constructor(options: SoftAuthenticatorOptions = {}) {
    this.origin = options.origin ?? 'http://localhost:3000';
    this.userVerification = options.userVerification ?? true;
    this.backedUp = options.backedUp ?? false;
    this.aaguid = Buffer.from(
      (options.aaguid ?? '00000000-0000-0000-0000-000000000000').replace(/-/g, ''),
      'hex',
    );
    this.counterStep = options.counterStep ?? 1;
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

  /** The credential public key as a COSE_Key map (EC2, ES256, P-256). */
  static coseKey(publicKey: KeyObject): Buffer {
    const jwk = publicKey.export({ format: 'jwk' });
    return cbor(
      new Map<Cbor, Cbor>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
  }

  /** Answers `navigator.credentials.create()` for these options. */
  register(
    options: PublicKeyCredentialCreationOptionsJSON,
    o: CeremonyOverrides = {},
  ): RegistrationResponseJSON {
    const rpId = o.rpId ?? options.rp.id ?? new URL(this.origin).hostname;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
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
    const signature = sign(
      'sha256',
      Buffer.concat([authData, sha256(clientDataJSON)]),
      credential.privateKey,
    );
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
