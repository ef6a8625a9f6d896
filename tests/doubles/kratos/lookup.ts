import { timingSafeEqual } from 'node:crypto';
import { randomString, type StoredIdentity } from './state.js';

/** A backup code as stored in the `lookup_secret` credential (`{ code, used_at }` in Kratos). */
export interface StoredLookupCode {
  code: string;
  usedAt?: number;
}

const CODE_COUNT = 12;
const CODE_LENGTH = 8;

/** Twelve fresh backup codes of eight lower-case letters and digits, as Kratos generates them. */
export function generateLookupCodes(): string[] {
  return Array.from({ length: CODE_COUNT }, () =>
    randomString(CODE_LENGTH, 'abcdefghijklmnopqrstuvwxyz0123456789'),
  );
}

/** The identity's backup codes, empty when it has none. */
export function lookupCodes(identity: StoredIdentity): StoredLookupCode[] {
  const stored = identity.credentials.lookup_secret?.config.recovery_codes;
  if (!Array.isArray(stored)) return [];
  return (stored as { code: string; used_at?: string }[]).map((c) => ({
    code: c.code,
    usedAt: c.used_at ? Date.parse(c.used_at) : undefined,
  }));
}

/** Config of a lookup_secret credential holding these codes. */
export function lookupConfig(codes: StoredLookupCode[]): Record<string, unknown> {
  return {
    recovery_codes: codes.map((c) => ({
      code: c.code,
      ...(c.usedAt ? { used_at: new Date(c.usedAt).toISOString() } : {}),
    })),
  };
}

/** Finds a submitted code among the identity's codes, comparing in constant time. */
export function findLookupCode(codes: StoredLookupCode[], submitted: string): StoredLookupCode | undefined {
  const wanted = Buffer.from(submitted.trim());
  return codes.find((c) => {
    const candidate = Buffer.from(c.code);
    return candidate.length === wanted.length && timingSafeEqual(candidate, wanted);
  });
}

/** Constant-time equality of two short secrets (codes, tokens). */
export function secretEquals(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
