/** Plain views of Kratos objects: what the rest of the gateway sees, never SDK classes. */

export type Aal = 'aal1' | 'aal2';

export interface KratosIdentity {
  id: string;
  state: 'active' | 'inactive';
  email: string;
  emailVerified: boolean;
  /** The phone trait (E.164), when the account has one; texted codes go only to a verified one. */
  phone?: string | undefined;
  phoneVerified?: boolean;
  traits: Record<string, unknown>;
  metadataPublic: Record<string, unknown>;
  metadataAdmin: Record<string, unknown>;
  /** Credential types the identity has set up: password, totp, lookup_secret, ... */
  credentialTypes: string[];
  createdAt: string;
}

interface KratosAuthMethod {
  method: string;
  aal: Aal;
  completedAt: string;
}

export interface KratosSession {
  id: string;
  active: boolean;
  aal: Aal;
  authenticatedAt: string;
  issuedAt: string;
  expiresAt: string;
  methods: KratosAuthMethod[];
  identity: KratosIdentity;
  devices: { ipAddress?: string; userAgent?: string }[];
}

/** What whoami says about a credential: a session, none, or one that needs a second factor first. */
export type WhoamiResult =
  { status: 'active'; session: KratosSession } | { status: 'aal2_required' } | { status: 'invalid' };
