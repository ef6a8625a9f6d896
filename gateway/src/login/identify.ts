import { createHmac } from 'node:crypto';
import type { AppDeps } from '../deps.js';
import { normalizeIdentifier } from './password-login.js';

/** What the SPA may offer for an identifier. */
export interface IdentifyAnswer {
  methods: ('passkey' | 'password')[];
  /** Credential ids the browser should offer (real ones, or deterministic fakes for unknown identifiers). */
  credentialIds: string[];
}

/**
 * Deterministic, plausible answer for an identifier that has no account: an HMAC of the
 * identifier picks the methods and derives credential ids, so asking twice gives the same
 * answer and the answer looks like a real account's.
 */
export function fakeAnswer(secret: string, identifier: string): IdentifyAnswer {
  const digest = createHmac('sha256', secret).update(`identify:${identifier}`).digest();
  const withPasskey = digest[0]! % 3 !== 0;
  const count = withPasskey ? 1 + (digest[1]! % 2) : 0;
  const credentialIds = Array.from({ length: count }, (_, i) =>
    createHmac('sha256', secret)
      .update(`credential:${i}:${identifier}`)
      .digest()
      .subarray(0, 32)
      .toString('base64url'),
  );
  return { methods: withPasskey ? ['passkey', 'password'] : ['password'], credentialIds };
}

/**
 * Answers "what can this identifier do?" without telling whether the account exists:
 * known and unknown identifiers take the same calls (one Kratos lookup, one database
 * query) and get answers of the same shape.
 */
export async function identify(deps: AppDeps, rawIdentifier: string): Promise<IdentifyAnswer> {
  const identifier = normalizeIdentifier(rawIdentifier);
  const identity = await deps.kratos.findIdentityByIdentifier(identifier);
  const { rows } = await deps.db.query<{ id: string }>(
    'SELECT id FROM passkey_credentials WHERE identity_id = $1 ORDER BY created_at',
    [identity?.id ?? `unknown:${identifier}`],
  );
  if (!identity || identity.state !== 'active') return fakeAnswer(deps.config.SESSION_SECRET, identifier);
  const methods: IdentifyAnswer['methods'] = [];
  if (rows.length > 0) methods.push('passkey');
  if (identity.credentialTypes.includes('password')) methods.push('password');
  // An account with no way in yet (passwordless sign-up never finished) looks like any other.
  if (methods.length === 0) return fakeAnswer(deps.config.SESSION_SECRET, identifier);
  return { methods, credentialIds: rows.map((r) => r.id) };
}
