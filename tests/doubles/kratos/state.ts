import { randomBytes, randomUUID } from 'node:crypto';
import type { UiText } from './ui.js';

export type CredentialType = 'password' | 'totp' | 'lookup_secret' | 'code' | 'oidc';
export type Aal = 'aal1' | 'aal2';
export type FlowKind = 'login' | 'registration' | 'recovery' | 'verification' | 'settings';
export type AuthMethod = 'password' | 'totp' | 'lookup_secret' | 'code_recovery' | 'code' | 'oidc';

export interface StoredCredential {
  type: CredentialType;
  identifiers: string[];
  /** password: { hashed_password }; totp: { totp_url }; lookup_secret: { recovery_codes }; oidc: { providers } */
  config: Record<string, unknown>;
  version: number;
  createdAt: number;
  updatedAt: number;
}

export interface VerifiableAddress {
  id: string;
  value: string;
  verified: boolean;
  verifiedAt?: number;
  /** The channel its codes go by: the trait's `verification.via` (email unless the schema says sms). */
  via?: 'email' | 'sms';
  status: 'pending' | 'sent' | 'completed';
  createdAt: number;
  updatedAt: number;
}

export interface RecoveryAddress {
  id: string;
  value: string;
  createdAt: number;
  updatedAt: number;
}

export interface StoredIdentity {
  id: string;
  schemaId: string;
  state: 'active' | 'inactive';
  stateChangedAt?: number;
  traits: Record<string, unknown>;
  metadataPublic: unknown;
  metadataAdmin: unknown;
  credentials: Partial<Record<CredentialType, StoredCredential>>;
  verifiableAddresses: VerifiableAddress[];
  recoveryAddresses: RecoveryAddress[];
  createdAt: number;
  updatedAt: number;
}

export interface CompletedMethod {
  method: AuthMethod;
  aal: Aal;
  completedAt: number;
  /** The OpenID provider of an `oidc` sign-in (absent when an oidc credential was linked). */
  provider?: string;
}

export interface StoredSession {
  id: string;
  token: string;
  /** Opaque value of the ory_kratos_session cookie, when the session came from a browser flow. */
  cookie?: string;
  logoutToken: string;
  identityId: string;
  active: boolean;
  issuedAt: number;
  authenticatedAt: number;
  expiresAt: number;
  methods: CompletedMethod[];
  devices: { id: string; ipAddress: string; userAgent: string }[];
}

/** A one-time code sent by the courier in a recovery or verification flow. */
export interface FlowCode {
  code: string;
  address: string;
  identityId?: string;
  expiresAt: number;
  used: boolean;
}

export interface StoredFlow {
  id: string;
  kind: FlowKind;
  type: 'api' | 'browser';
  issuedAt: number;
  expiresAt: number;
  requestUrl: string;
  returnTo?: string;
  state: string;
  active?: string;
  csrfToken: string;
  /** Flow-wide messages (ui.messages). */
  messages: UiText[];
  /** Messages per node name. */
  nodeMessages: Record<string, UiText[]>;
  /** Values echoed back into nodes after a failed submission. */
  values: Record<string, unknown>;
  refresh?: boolean;
  requestedAal?: Aal;
  /** Session the flow belongs to (settings, aal2 and refresh logins). */
  sessionId?: string;
  identityId?: string;
  code?: FlowCode;
  failedAttempts: number;
  /** A login code was sent by this very submission (Kratos' answer then has no CSRF node). */
  codeJustSent?: boolean;
  /** TOTP secret offered in a settings flow until confirmed. */
  totpSecret?: string;
  /** PNG data URL of the otpauth URI, shown with the secret. */
  totpQr?: string;
  /** Lookup codes generated in a settings flow until confirmed. */
  pendingLookupCodes?: string[];
  revealLookupCodes?: boolean;
  continueWith?: Record<string, unknown>[];
  /**
   * A verification flow Kratos' verification hook started after registration or settings
   * (selfservice/hook/verification.go): it offers no resend, and keeps its CSRF node once passed.
   */
  postHook?: boolean;
  /** Kratos echoes `transient_payload` once a recovery or code submission was made. */
  transientPayload?: Record<string, unknown>;
  /**
   * The session-token exchange of an API login flow started with
   * `return_session_token_exchange_code=true` (moved to the flow that carries on, as Kratos'
   * MoveToNewFlow does); `sessionId` once a social sign-in completed.
   */
  exchange?: { initCode: string; returnToCode: string; sessionId?: string };
  /** Set when the oidc method was submitted: the state sent to the provider and the continuity cookie. */
  oidc?: { provider: string; state: string; continuity: string };
  /**
   * A login flow Kratos made because a social sign-up asserted an existing account's
   * identifier: the credential a sign-in on this flow links to that account.
   */
  linking?: LinkingCredential;
}

/** The oidc credential remembered on an account-linking login flow (Kratos' DuplicateCredentials). */
export interface LinkingCredential {
  provider: string;
  providerLabel: string;
  subject: string;
  duplicateIdentifier: string;
  config: Record<string, unknown>;
}

export interface CourierMessage {
  id: string;
  recipient: string;
  subject: string;
  body: string;
  templateType:
    | 'recovery_code_valid'
    | 'recovery_code_invalid'
    | 'verification_code_valid'
    | 'verification_code_invalid'
    | 'login_code_valid';
  /** 'sms' for a text to a phone trait (courier channel `sms`); email otherwise. */
  type?: 'email' | 'sms';
  createdAt: number;
}

/** Everything the double remembers; exposed for white-box assertions in tests. */
export interface DoubleState {
  identities: Map<string, StoredIdentity>;
  sessions: Map<string, StoredSession>;
  flows: Map<string, StoredFlow>;
  courier: CourierMessage[];
  /** Web hook deliveries made, newest last. */
  webhookDeliveries: { hook: string; url: string; status: number | 'error'; body: unknown }[];
}

export function createState(): DoubleState {
  return { identities: new Map(), sessions: new Map(), flows: new Map(), courier: [], webhookDeliveries: [] };
}

export const newId = (): string => randomUUID();

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random string over `alphabet`, without modulo bias. */
export function randomString(length: number, alphabet = ALPHANUMERIC): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 256 - (256 % alphabet.length) && out.length < length)
        out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

/** A six-digit code, as Kratos' code strategy sends. */
export const randomDigits = (length = 6): string => randomString(length, '0123456789');

export const iso = (ms: number): string => new Date(ms).toISOString();
