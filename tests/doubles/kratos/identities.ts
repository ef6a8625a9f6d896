import type { DoubleContext } from './context.js';
import { hashPassword, syncAddresses } from './identity.js';
import { newId, type CredentialType, type StoredIdentity } from './state.js';

/** The identity holding `identifier` for a credential type (case-insensitive, as Kratos stores emails). */
export function findByIdentifier(
  ctx: DoubleContext,
  type: CredentialType,
  identifier: string,
): StoredIdentity | undefined {
  const wanted = identifier.trim().toLowerCase();
  for (const identity of ctx.state.identities.values()) {
    if (identity.credentials[type]?.identifiers.some((id) => id.toLowerCase() === wanted)) return identity;
  }
  return undefined;
}

export function findByRecoveryAddress(ctx: DoubleContext, address: string): StoredIdentity | undefined {
  const wanted = address.trim().toLowerCase();
  return [...ctx.state.identities.values()].find((i) => i.recoveryAddresses.some((a) => a.value === wanted));
}

export function findByVerifiableAddress(ctx: DoubleContext, address: string): StoredIdentity | undefined {
  const wanted = address.trim().toLowerCase();
  return [...ctx.state.identities.values()].find((i) =>
    i.verifiableAddresses.some((a) => a.value === wanted),
  );
}

/** True when another identity already holds one of these identifiers. */
export function identifiersTaken(ctx: DoubleContext, identity: StoredIdentity): boolean {
  for (const type of ['password', 'code'] as const) {
    for (const identifier of ctx.schema.identifiers(identity.traits, type)) {
      const holder = findByIdentifier(ctx, type, identifier);
      if (holder && holder.id !== identity.id) return true;
    }
  }
  return false;
}

interface NewIdentity {
  traits: Record<string, unknown>;
  state?: 'active' | 'inactive';
  metadataPublic?: unknown;
  metadataAdmin?: unknown;
  password?: string;
  hashedPassword?: string;
}

/** Builds an identity (not yet stored) with its addresses and credentials derived from the schema. */
export function buildIdentity(ctx: DoubleContext, input: NewIdentity): StoredIdentity {
  const now = ctx.now();
  const identity: StoredIdentity = {
    id: newId(),
    schemaId: ctx.schema.id,
    state: input.state ?? 'active',
    traits: input.traits,
    metadataPublic: input.metadataPublic ?? null,
    metadataAdmin: input.metadataAdmin ?? null,
    credentials: {},
    verifiableAddresses: [],
    recoveryAddresses: [],
    createdAt: now,
    updatedAt: now,
    stateChangedAt: now,
  };
  const hashed = input.password !== undefined ? hashPassword(input.password) : input.hashedPassword;
  if (hashed !== undefined) setPassword(ctx, identity, hashed);
  syncAddresses(identity, ctx.schema, now);
  return identity;
}

/** Sets (or replaces) the password credential with an already hashed password. */
export function setPassword(ctx: DoubleContext, identity: StoredIdentity, hashedPassword: string): void {
  const now = ctx.now();
  identity.credentials.password = {
    type: 'password',
    identifiers: ctx.schema.identifiers(identity.traits, 'password'),
    config: { hashed_password: hashedPassword },
    version: 0,
    createdAt: identity.credentials.password?.createdAt ?? now,
    updatedAt: now,
  };
}
