import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { iso, newId, type CredentialType, type StoredIdentity } from './state.js';
import { texts, type UiText } from './ui.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** The built-in identity schema used when the repository has none: an email that logs in, recovers and verifies. */
export const builtInIdentitySchema = {
  $id: 'https://auth-gateway.local/identity.schema.json',
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Person',
  type: 'object',
  properties: {
    traits: {
      type: 'object',
      properties: {
        email: {
          type: 'string',
          format: 'email',
          title: 'E-Mail',
          maxLength: 320,
          'ory.sh/kratos': {
            credentials: {
              password: { identifier: true },
              code: { identifier: true, via: 'email' },
              totp: { account_name: true },
            },
            recovery: { via: 'email' },
            verification: { via: 'email' },
          },
        },
        name: {
          type: 'object',
          properties: { first: { type: 'string', maxLength: 100 }, last: { type: 'string', maxLength: 100 } },
          additionalProperties: false,
        },
      },
      required: ['email'],
      additionalProperties: false,
    },
  },
};

interface TraitExtension {
  credentials?: Record<string, { identifier?: boolean; account_name?: boolean; via?: string }>;
  recovery?: { via?: string };
  verification?: { via?: string };
}

/** A trait carrying the `ory.sh/kratos` extension, by its dotted path below `traits`. */
interface ExtendedTrait {
  path: string[];
  format?: string;
  extension: TraitExtension;
}

/** A problem with submitted traits, placed on the node Kratos would place it on. */
export interface TraitProblem {
  node: string;
  message: UiText;
  reason: string;
}

/** The identity schema in use: validation plus what its `ory.sh/kratos` extensions declare. */
export class IdentitySchema {
  readonly id = 'default';
  readonly raw: Record<string, unknown>;
  private readonly validate: ValidateFunction;
  private readonly extended: ExtendedTrait[];

  constructor(schemaPath?: string) {
    this.raw =
      schemaPath && existsSync(schemaPath)
        ? (JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>)
        : builtInIdentitySchema;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    // Kratos checks `tel` with libphonenumber; E.164 stands in for it here.
    ajv.addFormat('tel', /^\+[1-9]\d{6,14}$/);
    const { $schema: _ignored, $id: _id, ...schema } = this.raw;
    this.validate = ajv.compile(schema);
    this.extended = collectExtendedTraits(propertyOf(this.raw, 'traits'), []);
  }

  /** Checks traits; an empty list means they are valid. */
  check(traits: unknown): TraitProblem[] {
    if (this.validate({ traits })) return [];
    return (this.validate.errors ?? []).map(toProblem);
  }

  /** Trait values that identify the identity for a credential type (emails lower-cased, as Kratos normalises them). */
  identifiers(traits: Record<string, unknown>, type: CredentialType): string[] {
    return this.valuesWhere(traits, (t) => t.extension.credentials?.[type]?.identifier === true);
  }

  /** The TOTP account name (first trait marked `account_name`, falling back to the first identifier). */
  totpAccountName(traits: Record<string, unknown>): string {
    const names = this.valuesWhere(traits, (t) => t.extension.credentials?.totp?.account_name === true);
    return names[0] ?? this.identifiers(traits, 'password')[0] ?? '';
  }

  verificationAddresses(traits: Record<string, unknown>): string[] {
    return this.valuesWhere(traits, (t) => t.extension.verification?.via === 'email');
  }

  /** Every verifiable address with its channel (`verification.via`: email or sms). */
  verifiableAddresses(traits: Record<string, unknown>): { value: string; via: 'email' | 'sms' }[] {
    return (['email', 'sms'] as const).flatMap((via) =>
      this.valuesWhere(traits, (t) => t.extension.verification?.via === via).map((value) => ({ value, via })),
    );
  }

  /** The channel a code for this code identifier goes by (`credentials.code.via`). */
  codeChannel(traits: Record<string, unknown>, identifier: string): 'email' | 'sms' {
    const sms = this.valuesWhere(
      traits,
      (t) => t.extension.credentials?.code?.identifier === true && t.extension.credentials.code.via === 'sms',
    );
    return sms.includes(identifier) ? 'sms' : 'email';
  }

  recoveryAddresses(traits: Record<string, unknown>): string[] {
    return this.valuesWhere(traits, (t) => t.extension.recovery?.via === 'email');
  }

  /** Dotted names (`traits.email`) and JSON types of the traits, for the profile nodes. */
  traitFields(): TraitField[] {
    return leafProperties(propertyOf(this.raw, 'traits'), ['traits']);
  }

  private valuesWhere(traits: Record<string, unknown>, matches: (t: ExtendedTrait) => boolean): string[] {
    const values: string[] = [];
    for (const trait of this.extended.filter(matches)) {
      const value = valueAt(traits, trait.path);
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item === 'string' && item !== '') values.push(normalise(item, trait.format));
      }
    }
    return [...new Set(values)];
  }
}

function normalise(value: string, format?: string): string {
  return format === 'email' ? value.trim().toLowerCase() : value.trim();
}

function propertyOf(schema: unknown, name: string): Record<string, unknown> {
  const properties = (schema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  return (properties[name] ?? {}) as Record<string, unknown>;
}

function collectExtendedTraits(schema: Record<string, unknown>, path: string[]): ExtendedTrait[] {
  const found: ExtendedTrait[] = [];
  const extension = (schema['ory.sh/kratos'] ??
    (schema.items as Record<string, unknown> | undefined)?.['ory.sh/kratos']) as TraitExtension | undefined;
  const format = (schema.format ?? (schema.items as Record<string, unknown> | undefined)?.format) as
    string | undefined;
  if (extension) found.push({ path, format, extension });
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [key, child] of Object.entries(properties))
    found.push(...collectExtendedTraits(child, [...path, key]));
  return found;
}

/** A leaf trait as a settings or registration form shows it. */
export interface TraitField {
  name: string;
  type: string;
  format?: string;
  title?: string;
}

function leafProperties(schema: Record<string, unknown>, path: string[]): TraitField[] {
  const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
  if (schema.type === 'object' && properties) {
    return Object.entries(properties).flatMap(([key, child]) => leafProperties(child, [...path, key]));
  }
  return [
    {
      name: path.join('.'),
      type: String(schema.type ?? 'string'),
      format: schema.format as string | undefined,
      title: schema.title as string | undefined,
    },
  ];
}

function valueAt(value: unknown, path: string[]): unknown {
  return path.reduce<unknown>(
    (current, key) =>
      current && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined,
    value,
  );
}

function toProblem(error: ErrorObject): TraitProblem {
  const pointer = error.instancePath.replace(/^\//, '').split('/').filter(Boolean);
  if (error.keyword === 'required') {
    const property = String(error.params.missingProperty);
    const node = [...pointer, property].join('.');
    return { node, message: texts.required(property), reason: `${node}: Property ${property} is missing.` };
  }
  const node = pointer.join('.') || 'traits';
  const reason = describe(error);
  return { node, message: problemText(error, reason), reason: `${node}: ${reason}` };
}

function describe(error: ErrorObject): string {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'format':
      return `does not match format "${String(p.format)}"`;
    case 'type':
      return `expected ${String(p.type)}`;
    case 'additionalProperties':
      return `additionalProperties "${String(p.additionalProperty)}" not allowed`;
    default:
      return error.message ?? 'is invalid';
  }
}

function problemText(error: ErrorObject, reason: string): UiText {
  const p = error.params as Record<string, unknown>;
  if (error.keyword === 'minLength')
    return {
      id: 4000003,
      text: `length must be >= ${String(p.limit)}, but got less`,
      type: 'error',
      context: {},
    };
  if (error.keyword === 'maxLength')
    return {
      id: 4000017,
      text: `length must be <= ${String(p.limit)}, but got more`,
      type: 'error',
      context: {},
    };
  return texts.generic(reason);
}

const SCRYPT = { N: 1024, r: 8, p: 1 };

/** Hashes a password in a PHC-like scrypt format (cheap parameters: this is a test double). */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, SCRYPT);
  return `$scrypt$ln=10,r=8,p=1$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Compares a password with a hash made by hashPassword, in constant time. */
export function verifyPassword(password: string, hashed: unknown): boolean {
  if (typeof hashed !== 'string') return false;
  const [, scheme, , salt, hash] = hashed.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = scryptSync(password, Buffer.from(salt, 'base64'), expected.length, SCRYPT);
  return timingSafeEqual(actual, expected);
}

/** Keeps address records for values that stay, adds pending ones for new values, drops the rest. */
export function syncAddresses(identity: StoredIdentity, schema: IdentitySchema, now: number): void {
  const verifiable = schema.verifiableAddresses(identity.traits);
  identity.verifiableAddresses = verifiable.map(
    ({ value, via }) =>
      identity.verifiableAddresses.find((a) => a.value === value && (a.via ?? 'email') === via) ?? {
        id: newId(),
        value,
        via,
        verified: false,
        status: 'pending',
        createdAt: now,
        updatedAt: now,
      },
  );
  const recovery = schema.recoveryAddresses(identity.traits);
  identity.recoveryAddresses = recovery.map(
    (value) =>
      identity.recoveryAddresses.find((a) => a.value === value) ?? {
        id: newId(),
        value,
        createdAt: now,
        updatedAt: now,
      },
  );
  // Like Kratos (identity/extension_credentials.go), every identity whose schema marks a trait
  // as a password identifier gets a password credential with that identifier, even without a
  // password: its config is then empty.
  const passwordIdentifiers = schema.identifiers(identity.traits, 'password');
  const password = identity.credentials.password;
  if (password) password.identifiers = passwordIdentifiers;
  else if (passwordIdentifiers.length > 0)
    identity.credentials.password = {
      type: 'password',
      identifiers: passwordIdentifiers,
      config: {},
      version: 0,
      createdAt: now,
      updatedAt: now,
    };
  // The code credential follows the code identifiers, each with its channel (Kratos sorts its
  // addresses by address, then channel).
  const codeIdentifiers = schema.identifiers(identity.traits, 'code');
  const addresses = codeIdentifiers
    .map((address) => ({ channel: schema.codeChannel(identity.traits, address), address }))
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const code = identity.credentials.code;
  if (code) {
    code.identifiers = codeIdentifiers;
    code.config = { ...code.config, addresses };
  } else if (codeIdentifiers.length > 0)
    identity.credentials.code = {
      type: 'code',
      identifiers: codeIdentifiers,
      config: { addresses },
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
}

/** How much of an identity to show: the public view (in sessions) or the admin view. */
export interface IdentityView {
  admin: boolean;
  /** Credential types whose `config` is included (admin `include_credential`). */
  includeCredentials?: string[];
}

/** The identity as Kratos serialises it. */
export function identityJson(
  identity: StoredIdentity,
  publicUrl: string,
  view: IdentityView,
): Record<string, unknown> {
  const json: Record<string, unknown> = { id: identity.id };
  if (view.admin) json.credentials = credentialsJson(identity, view.includeCredentials ?? []);
  Object.assign(json, {
    schema_id: identity.schemaId,
    schema_url: `${publicUrl}/schemas/${Buffer.from(identity.schemaId).toString('base64url')}`,
    state: identity.state,
    ...(identity.stateChangedAt ? { state_changed_at: iso(identity.stateChangedAt) } : {}),
    traits: identity.traits,
    verifiable_addresses: identity.verifiableAddresses.map((a) => ({
      id: a.id,
      value: a.value,
      verified: a.verified,
      via: a.via ?? 'email',
      status: a.status,
      ...(a.verifiedAt ? { verified_at: iso(a.verifiedAt) } : {}),
      created_at: iso(a.createdAt),
      updated_at: iso(a.updatedAt),
    })),
    recovery_addresses: identity.recoveryAddresses.map((a) => ({
      id: a.id,
      value: a.value,
      via: 'email',
      created_at: iso(a.createdAt),
      updated_at: iso(a.updatedAt),
    })),
    metadata_public: identity.metadataPublic ?? null,
  });
  if (view.admin) json.metadata_admin = identity.metadataAdmin ?? null;
  json.created_at = iso(identity.createdAt);
  json.updated_at = iso(identity.updatedAt);
  json.organization_id = null;
  return json;
}

function credentialsJson(identity: StoredIdentity, include: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [type, credential] of Object.entries(identity.credentials)) {
    if (!credential) continue;
    out[type] = {
      type,
      identifiers: credential.identifiers,
      ...(include.includes(type) && hasConfig(type, credential.config) ? { config: credential.config } : {}),
      version: credential.version,
      created_at: iso(credential.createdAt),
      updated_at: iso(credential.updatedAt),
    };
  }
  return out;
}

/** An oidc credential whose last provider was removed has no config left to show (as in Kratos). */
function hasConfig(type: string, config: Record<string, unknown>): boolean {
  if (type !== 'oidc') return true;
  return Array.isArray(config.providers) && config.providers.length > 0;
}

/**
 * True when the identity has a second factor configured (what `highest_available` looks at):
 * TOTP, or backup codes of which at least one is unused (Kratos counts only those).
 */
export function hasSecondFactor(identity: StoredIdentity): boolean {
  const lookup = identity.credentials.lookup_secret?.config.recovery_codes;
  const unused = Array.isArray(lookup) && lookup.some((c) => !(c as { used_at?: unknown }).used_at);
  return Boolean(identity.credentials.totp) || unused;
}
