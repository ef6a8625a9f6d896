import { createHmac } from 'node:crypto';
import type { Config } from '../config.js';
import type { PasskeyStore, PopulationRow } from '../factors/passkey-store.js';
import { normalizeIdentifier } from '../identity/identifier.js';
import type { KratosClient } from '../kratos/client.js';

/** What `/identify` reads: the passkey store, Kratos' identifier look-up, the decoy secret. */
export interface IdentifyDeps {
  passkeys: Pick<PasskeyStore, 'idsOf' | 'population'>;
  kratos: Pick<KratosClient, 'findIdentityByIdentifier'>;
  config: Pick<Config, 'SESSION_SECRET' | 'EMAIL_CODE_LOGIN' | 'SMS_CODE_LOGIN'>;
  clock: () => Date;
}

/** Every sign-in method the gateway has; a deployment enables some of them. */
type SignInMethod = 'passkey' | 'password' | 'code' | 'sms_code';

/**
 * The sign-in methods this deployment enables (an e-mailed code when EMAIL_CODE_LOGIN is on, a
 * texted one when SMS_CODE_LOGIN is). `/identify` lists exactly these for every identifier,
 * never an account's own (nor whether it has a phone number): the SPA offers them all and the
 * attempt decides.
 */
function signInMethods(config: Pick<Config, 'EMAIL_CODE_LOGIN' | 'SMS_CODE_LOGIN'>): SignInMethod[] {
  return [
    'passkey',
    'password',
    ...(config.EMAIL_CODE_LOGIN ? (['code'] as const) : []),
    ...(config.SMS_CODE_LOGIN ? (['sms_code'] as const) : []),
  ];
}

/** What the SPA may offer for an identifier. */
export interface IdentifyAnswer {
  methods: SignInMethod[];
  /** Credential ids the browser should offer (the account's, or decoys stable per identifier). */
  credentialIds: string[];
}

/** How many passkeys accounts have and how long their ids are: value → weight. */
interface DecoyShape {
  counts: [number, number][];
  lengths: [number, number][];
}

/** Before any passkey exists there is nothing to imitate: one id of a platform authenticator's length. */
const EMPTY_SHAPE: DecoyShape = { counts: [[1, 1]], lengths: [[43, 1]] };
const SHAPE_TTL_MS = 10 * 60_000;
/** Weights are rounded to twentieths, so a decoy changes only when the population really does. */
const WEIGHT_STEPS = 20;

const shapes = new WeakMap<object, { at: number; shape: Promise<DecoyShape> }>();

function quantize(rows: PopulationRow[]): [number, number][] {
  const total = rows.reduce((sum, r) => sum + r.n, 0);
  return rows
    .sort((a, b) => a.value - b.value)
    .map((r) => [r.value, Math.max(1, Math.round((WEIGHT_STEPS * r.n) / total))]);
}

async function loadShape(deps: Pick<IdentifyDeps, 'passkeys'>): Promise<DecoyShape> {
  const { counts, lengths } = await deps.passkeys.population();
  if (counts.length === 0 || lengths.length === 0) return EMPTY_SHAPE;
  return { counts: quantize(counts), lengths: quantize(lengths) };
}

/**
 * The distribution decoys are drawn from: the real accounts' passkey counts (among accounts
 * that have any) and id lengths, read from the database at most every ten minutes.
 */
function decoyShape(deps: Pick<IdentifyDeps, 'passkeys' | 'clock'>): Promise<DecoyShape> {
  const now = deps.clock().getTime();
  const cached = shapes.get(deps.passkeys);
  if (cached && now - cached.at < SHAPE_TTL_MS) return cached.shape;
  const shape = loadShape(deps).catch((err: unknown) => {
    shapes.delete(deps.passkeys);
    throw err;
  });
  shapes.set(deps.passkeys, { at: now, shape });
  return shape;
}

/** A value drawn from `weights` by a uniform number in [0, 1). */
function draw(weights: [number, number][], uniform: number): number {
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  let target = uniform * total;
  let last = 0;
  for (const [value, weight] of weights) {
    if (target < weight) return value;
    target -= weight;
    last = value;
  }
  return last;
}

/**
 * Decoy credential ids for an identifier without passkeys (unknown, or an account that
 * signs in otherwise): drawn from the real accounts' count and length distribution by an
 * HMAC of the identifier with a server secret, so asking again gives the same answer and
 * nobody without the secret can tell decoys from real ids.
 */
function decoyCredentialIds(secret: string, identifier: string, shape: DecoyShape): string[] {
  const mac = (label: string) => createHmac('sha256', secret).update(`${label}:${identifier}`).digest();
  const uniform = (label: string) => mac(label).readUInt32BE(0) / 2 ** 32;
  const count = draw(shape.counts, uniform('identify:count'));
  return Array.from({ length: count }, (_, i) => {
    const length = draw(shape.lengths, uniform(`identify:length:${i}`));
    const bytes: Buffer[] = [];
    for (let block = 0; bytes.length * 32 * 4 < length * 3; block++)
      bytes.push(mac(`credential:${i}:${block}`));
    return Buffer.concat(bytes).toString('base64url').slice(0, length);
  });
}

/**
 * Answers "what can this identifier do?" without telling whether the account exists or
 * how it signs in: the methods are the deployment's, and only the passkey ids vary (the
 * account's own, or decoys shaped like real ones). Known and unknown identifiers take the
 * same calls (one Kratos lookup, one database query).
 */
export async function identify(deps: IdentifyDeps, rawIdentifier: string): Promise<IdentifyAnswer> {
  const identifier = normalizeIdentifier(rawIdentifier);
  const identity = await deps.kratos.findIdentityByIdentifier(identifier);
  const [ids, shape] = await Promise.all([
    deps.passkeys.idsOf(identity?.id ?? `unknown:${identifier}`),
    decoyShape(deps),
  ]);
  const methods = signInMethods(deps.config);
  if (identity?.state === 'active' && ids.length > 0) return { methods, credentialIds: ids };
  return { methods, credentialIds: decoyCredentialIds(deps.config.SESSION_SECRET, identifier, shape) };
}
