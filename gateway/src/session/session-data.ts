import type { CompletedMethod } from './aal.js';
import type { SecondFactor } from '../identity/factors.js';

/** What a signed-in gateway session holds (in its session-store entry, in Redis). */
export interface GatewayAuth {
  /** Public id of this session (`g_...`), as listed by GET /sessions; never the cookie value. */
  handle: string;
  identityId: string;
  /** How the session began. */
  kind: 'password' | 'passkey' | 'registration' | 'recovery' | 'code' | 'sms_code' | 'social';
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
  /**
   * The second factors the account had when this session signed in: while the session is
   * below aal2 and this list is not empty (and its first factor was not a passkey), the
   * session owes its second factor. Sessions without it predate the rule and are ended.
   */
  secondFactorsAtSignIn?: SecondFactor[];
  /** Factors this session enrolled (`totp`, `lookup_secret`, `passkey:<id>`): they never raise it. */
  enrolledHere?: string[];
  /** Passkeys this session signed in or stepped up with (it proved their possession). */
  passkeysUsed?: string[];
  /** A passwordless sign-up that has not yet registered its passkey. */
  passkeyEnrollmentRequired?: boolean;
  userAgent?: string;
  ip?: string;
}
