import type { CompletedMethod } from '../access/aal.js';

/** What a signed-in gateway session holds (inside express-session's data, in Redis). */
export interface GatewayAuth {
  /** Public id of this session (`g_...`), as listed by GET /sessions; never the cookie value. */
  handle: string;
  identityId: string;
  /** How the session began. */
  kind: 'password' | 'passkey' | 'registration' | 'recovery';
  /** The Kratos session token, sealed with the session encryption key. */
  kratosToken?: string;
  kratosSessionId?: string;
  /** Factors completed at the gateway (passkeys); Kratos-side factors come from whoami. */
  methods: CompletedMethod[];
  createdAt: number;
  authenticatedAt: number;
  lastSeenAt: number;
  /** Absolute end of the session, whatever its activity. */
  expiresAt: number;
  /** A passwordless sign-up that has not yet registered its passkey. */
  passkeyEnrollmentRequired?: boolean;
  userAgent?: string;
  ip?: string;
}

declare module 'express-session' {
  interface SessionData {
    auth?: GatewayAuth;
    /** Random id of the browser before sign-in: binds WebAuthn challenges to it. */
    preId?: string;
  }
}
