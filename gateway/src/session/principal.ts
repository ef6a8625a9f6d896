import type { CompletedMethod } from './aal.js';
import type { Aal } from '../kratos/types.js';

/**
 * Who is calling, resolved from either kind of session. Handlers and guards only ever
 * see this, never the cookie or the session behind it.
 */
export interface Principal {
  identityId: string;
  email: string;
  emailVerified: boolean;
  traits: Record<string, unknown>;
  roles: string[];
  aal: Aal;
  methods: CompletedMethod[];
  /** `gateway`: the gateway's own session cookie; `kratos`: a raw Kratos session cookie. */
  source: 'gateway' | 'kratos';
  /** Public id of the session, as listed by GET /sessions. */
  sessionId: string;
  authenticatedAt: string;
  expiresAt: string;
  /** Set when Kratos requires a second factor before this session may be used. */
  secondFactorRequired?: boolean;
  /** Set when the identity must change its password before anything else. */
  passwordChangeRequired?: boolean;
  /** Set for a passwordless sign-up until it registers its first passkey. */
  passkeyEnrollmentRequired?: boolean;
  /** Set when REQUIRE_VERIFIED_EMAIL is on and the e-mail address is not verified yet. */
  emailVerificationRequired?: boolean;
  /** When the account was created (ISO 8601): a mandatory second factor's grace period starts there. */
  accountCreatedAt?: string;
}

/** The body of GET /api/auth/session and of every successful login or step-up. */
export function sessionBody(p: Principal) {
  return {
    identityId: p.identityId,
    email: p.email,
    emailVerified: p.emailVerified,
    traits: p.traits,
    roles: p.roles,
    aal: p.aal,
    methods: p.methods,
    source: p.source,
    sessionId: p.sessionId,
    authenticatedAt: p.authenticatedAt,
    expiresAt: p.expiresAt,
    ...(p.passwordChangeRequired ? { passwordChangeRequired: true } : {}),
    ...(p.passkeyEnrollmentRequired ? { passkeyEnrollmentRequired: true } : {}),
    ...(p.emailVerificationRequired ? { emailVerificationRequired: true } : {}),
  };
}

/** Roles live in the identity's public metadata (`metadata_public.roles`). */
export function rolesOf(metadataPublic: Record<string, unknown>): string[] {
  const roles = metadataPublic.roles;
  return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [];
}
