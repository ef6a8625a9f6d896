import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The gateway's whole configuration: one schema over the environment, read once at
 * startup. Secrets may also come from `<NAME>_FILE` (a path whose content is the value),
 * which is how Docker and Kubernetes secrets are mounted. Nothing else reads `process.env`.
 */

const SECRET_KEYS = [
  'SESSION_SECRET',
  'SESSION_ENCRYPTION_KEY',
  'REDIS_URL',
  'DATABASE_URL',
  'KRATOS_WEBHOOK_API_KEY',
  'LOCAL_KEYRING_MASTER_KEY',
  'VAULT_TOKEN',
  'VAULT_ROLE_ID',
  'VAULT_SECRET_ID',
  'SMTP_URL',
  'AUDIT_CHAIN_KEY',
  'SMS_PROVIDER_API_KEY',
] as const;

/**
 * Words of values that ship in examples, documentation and tutorials, or that people type
 * when asked for "a secret". Compared with the value lower-cased and stripped of everything
 * but letters and digits, anywhere in it: `changemechangeme…` and `My-Secret-Key` are refused.
 */
const KNOWN_DEFAULT_SECRETS = [
  'changeme',
  'changethis',
  'replaceme',
  'placeholder',
  'secret',
  'password',
  'example',
  'default',
  'development',
  'devsecret',
  'insecure',
  'testkey',
  'webhookkey',
  'letmein',
  'qwerty',
  '123456',
];

/** Estimated bits a guesser must cover: the value's length times its per-character Shannon entropy. */
function entropyBits(value: string): number {
  const chars = [...value];
  const counts = new Map<string, number>();
  for (const ch of chars) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) perChar -= (n / chars.length) * Math.log2(n / chars.length);
  return perChar * chars.length;
}

/** Whether most neighbouring characters are one code point apart (`abcdef…`, `987654…`). */
function isSequence(value: string): boolean {
  let steps = 0;
  for (let i = 1; i < value.length; i++)
    if (Math.abs(value.charCodeAt(i) - value.charCodeAt(i - 1)) === 1) steps++;
  return steps >= (value.length - 1) / 2;
}

/** Less than this is guessable, whatever the length: 32 random hex characters score about 115. */
const MIN_SECRET_BITS = 96;

/** Why a production secret can be guessed, or undefined; never quotes the value. */
function guessableSecret(name: string, value: string, options: { placeholdersOnly?: boolean } = {}) {
  const letters = value.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (KNOWN_DEFAULT_SECRETS.some((word) => letters.includes(word)))
    return `${name} is a known placeholder value; generate one with scripts/generate-secrets`;
  if (options.placeholdersOnly) return undefined;
  if (/^(.{1,16}?)\1+$/s.test(value) || isSequence(value) || entropyBits(value) < MIN_SECRET_BITS)
    return `${name} is guessable (repeated characters, a sequence or too little entropy); generate one with scripts/generate-secrets`;
  return undefined;
}

/** Why a decoded 32-byte key can be guessed (all-zero, one repeated byte, few distinct bytes), or undefined. */
function guessableKey(name: string, key: Buffer | undefined) {
  if (!key) return undefined;
  if (new Set(key).size < 16)
    return `${name} is guessable (all-zero or repeated bytes); generate a random key`;
  return undefined;
}

/** Why a CORS origin is not a plain https origin (`null`, http, a path or a wildcard), or undefined. */
function unsafeOrigin(origin: string) {
  if (origin.toLowerCase() === 'null') return 'CORS_ORIGINS must not contain null';
  if (origin.includes('*')) return 'CORS_ORIGINS must not contain a wildcard';
  try {
    const url = new URL(origin);
    if (url.protocol === 'https:' && url.origin === origin) return undefined;
  } catch {
    /* not a URL: reported below */
  }
  return 'CORS_ORIGINS must list https origins (https://host[:port]) in production';
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const port = z.coerce.number().int().min(0).max(65535);
const seconds = z.coerce.number().int().positive();
/** `<max>/<window seconds>`, e.g. `5/60`: at most 5 requests a minute. */
const rateLimit = z
  .string()
  .regex(/^\d+\/\d+$/, 'must be <max>/<window seconds>, e.g. 5/60')
  .transform((v) => {
    const [max, windowSeconds] = v.split('/').map(Number) as [number, number];
    return { max, windowSeconds };
  })
  .refine((r) => r.max > 0 && r.windowSeconds > 0, 'max and window must be positive');

const schema = z.object({
  /** `production` turns on the safety checks below and Secure cookies. */
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** Port of the public API; 0 picks a free one. */
  PORT: port.default(3000),
  /** Interface to bind. */
  HOST: z.string().default('0.0.0.0'),
  /** Port of the internal `/metrics` listener; 0 disables it. */
  METRICS_PORT: port.default(9464),
  /** The URL browsers use to reach the gateway; https in production. */
  PUBLIC_BASE_URL: z.url().default('http://localhost:3000'),
  /** Origins allowed by CORS and the CSRF check (comma list); defaults to PUBLIC_BASE_URL's origin. */
  CORS_ORIGINS: list.optional(),
  /** Signs the session cookie; at least 32 characters. */
  SESSION_SECRET: z.string().optional(),
  /** 32 bytes, base64: encrypts secrets held inside sessions (the Kratos session token). */
  SESSION_ENCRYPTION_KEY: z.string().optional(),
  /** `redis` (default) or `memory` (development only). */
  SESSION_STORE: z.enum(['redis', 'memory']).default('redis'),
  /** Idle timeout of a gateway session. */
  SESSION_IDLE_TIMEOUT_SECONDS: seconds.default(1800),
  /** Absolute lifetime of a gateway session, whatever its activity. */
  SESSION_ABSOLUTE_LIFETIME_SECONDS: seconds.default(86400),
  /** Window in which an authentication counts as recent (password, MFA and passkey changes). */
  PRIVILEGED_MAX_AGE_SECONDS: seconds.default(900),
  /** Redis connection (redis://, rediss://); Sentinel and Cluster URLs are accepted by the client module. */
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  /** Client-side caching of hot keys with server-pushed invalidation (RESP3; single-server URLs). */
  REDIS_CLIENT_CACHE: bool.default(true),
  /** Prefix of every Redis key the gateway writes. */
  REDIS_KEY_PREFIX: z.string().default('gw:'),
  /** PEM file of the CA(s) that sign the Redis server's TLS certificate, for a `rediss://` REDIS_URL. */
  REDIS_TLS_CA_FILE: z.string().optional(),
  /** Postgres connection; without it the embedded PGlite is used. */
  DATABASE_URL: z.string().optional(),
  /** PGlite data directory when DATABASE_URL is unset; `memory` keeps it in memory. */
  PGLITE_DIR: z.string().default('.data/pglite'),
  /** Kratos public API. */
  KRATOS_PUBLIC_URL: z.url().default('http://127.0.0.1:4433'),
  /** Kratos admin API (never exposed outside the internal network). */
  KRATOS_ADMIN_URL: z.url().default('http://127.0.0.1:4434'),
  /** Timeout of each Kratos call. */
  KRATOS_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  /** Shared key Kratos sends in `X-Webhook-Key` when calling `/hooks/kratos/*`. */
  KRATOS_WEBHOOK_API_KEY: z.string().optional(),
  /** How long a Kratos whoami answer is trusted; a Kratos-side logout takes effect within it. */
  WHOAMI_CACHE_SECONDS: z.coerce.number().int().min(0).default(5),
  /** WebAuthn relying party id (the registrable domain). */
  WEBAUTHN_RP_ID: z.string().optional(),
  /** Name shown by authenticators. */
  WEBAUTHN_RP_NAME: z.string().default('Auth Gateway'),
  /** Origins allowed in WebAuthn client data (comma list). */
  WEBAUTHN_ORIGINS: list.optional(),
  /** `preferred` (default) or `required`. */
  WEBAUTHN_USER_VERIFICATION: z.enum(['preferred', 'required']).default('preferred'),
  /** `none` (default) or `direct`. */
  WEBAUTHN_ATTESTATION: z.enum(['none', 'direct']).default('none'),
  /** Lifetime of a WebAuthn challenge. */
  WEBAUTHN_CHALLENGE_TTL_SECONDS: seconds.default(120),
  /** Largest JSON body accepted. */
  JSON_BODY_LIMIT: z.string().default('100kb'),
  /** Number of reverse proxies in front of the gateway whose X-Forwarded-For is trusted. */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).default(0),
  /** winston level. */
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'debug']).default('info'),
  /** Serve the demo page and its scripts at `/`. */
  SERVE_DEMO: bool.default(false),
  /** `local` keyring (embedded default) or `vault` transit. */
  KEYS_BACKEND: z.enum(['local', 'vault']).default('local'),
  /** Allows the local keyring in production (an explicit, audited decision). */
  ALLOW_LOCAL_KEYRING_IN_PRODUCTION: bool.default(false),
  /** Local keyring master key: 32 bytes, base64. */
  LOCAL_KEYRING_MASTER_KEY: z.string().optional(),
  /** Vault address, e.g. https://vault:8200. */
  VAULT_ADDR: z.string().optional(),
  /** Static Vault token (alternative to AppRole). */
  VAULT_TOKEN: z.string().optional(),
  /** AppRole role id. */
  VAULT_ROLE_ID: z.string().optional(),
  /** AppRole secret id. */
  VAULT_SECRET_ID: z.string().optional(),
  /**
   * The file the AppRole secret id came from: read again at every Vault login, so a secret
   * id that vault/init.sh replaced is used without a restart.
   */
  VAULT_SECRET_ID_FILE: z.string().optional(),
  /** PEM file of the CA(s) that sign Vault's TLS certificate, for an `https://` VAULT_ADDR (as the Vault CLI's VAULT_CACERT). */
  VAULT_CACERT: z.string().optional(),
  /** Transit mount path. */
  VAULT_TRANSIT_MOUNT: z.string().default('transit'),
  /** Transit key name. */
  VAULT_TRANSIT_KEY: z.string().default('gateway-files'),
  /** Timeout of each Vault call. */
  VAULT_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  /**
   * Key of the audit chain (32 bytes, base64; usually `AUDIT_CHAIN_KEY_FILE`). Unset: derived
   * from the key service (an HKDF subkey of the local keyring's master key, or a Vault transit
   * HMAC under AUDIT_CHAIN_VAULT_KEY). The database never holds it.
   */
  AUDIT_CHAIN_KEY: z.string().optional(),
  /** Transit key (type hmac-capable, e.g. aes256-gcm96) whose HMAC derives the audit chain key with KEYS_BACKEND=vault. */
  AUDIT_CHAIN_VAULT_KEY: z.string().default('gateway-audit-chain'),
  /** A signed checkpoint of the audit chain's head after this many events (0: only by time and at shutdown). */
  AUDIT_CHECKPOINT_EVERY_EVENTS: z.coerce.number().int().min(0).default(1000),
  /** A signed checkpoint at most this many seconds after an event (0: only by count and at shutdown). */
  AUDIT_CHECKPOINT_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(60),
  /** Where encrypted file bodies (and dev state) live. */
  DATA_DIR: z.string().default('.data'),
  /** Largest file upload. */
  MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(100 * 1024 * 1024),
  /** SMTP server for notices such as lockout e-mails (smtp://host:port). */
  SMTP_URL: z.string().optional(),
  /** Sender of notices. */
  MAIL_FROM: z.string().default('Auth Gateway <no-reply@localhost>'),
  /** Rate limit of password logins, per IP and per identifier: `<max>/<window seconds>`. */
  RATE_LIMIT_LOGIN: rateLimit.prefault('5/60'),
  /** Rate limit of registrations, per IP and per e-mail address. */
  RATE_LIMIT_REGISTRATION: rateLimit.prefault('5/60'),
  /** Rate limit of "what can this identifier do?" questions, per IP and per identifier. */
  RATE_LIMIT_IDENTIFY: rateLimit.prefault('20/60'),
  /** Rate limit of recovery requests and codes, per IP and per e-mail address. */
  RATE_LIMIT_RECOVERY: rateLimit.prefault('3/300'),
  /** Rate limit of verification requests and codes, per IP and per e-mail address. */
  RATE_LIMIT_VERIFICATION: rateLimit.prefault('3/300'),
  /** Rate limit of second-factor attempts (TOTP, backup code), per IP and per identity. */
  RATE_LIMIT_SECOND_FACTOR: rateLimit.prefault('5/300'),
  /** Rate limit of passkey ceremonies (login, step-up, registration options), per IP and per identity. */
  RATE_LIMIT_PASSKEY: rateLimit.prefault('10/60'),
  /** IPv6 clients are counted per subnet of this prefix length (one home or office gets one counter). */
  RATE_LIMIT_IPV6_SUBNET: z.coerce.number().int().min(32).max(128).default(56),
  /** Failed passwords that lock an identity's password login. */
  LOCKOUT_MAX_FAILURES: z.coerce.number().int().positive().default(10),
  /** Window in which those failures must fall. */
  LOCKOUT_WINDOW_SECONDS: seconds.default(900),
  /** How long the lock lasts (passkey login keeps working; an admin can lift it earlier). */
  LOCKOUT_DURATION_SECONDS: seconds.default(900),
  /** The RBAC/ABAC policy file (roles, permissions, attribute conditions), relative to the working directory. */
  POLICY_FILE: z.string().default('gateway/policy.json'),
  /** Role the after-registration web hook gives every new identity (in `metadata_public.roles`). */
  DEFAULT_ROLE: z.string().min(1).max(64).default('user'),
  /** Signed-in users whose e-mail address is not verified get 403 `email_verification_required` on protected routes. */
  REQUIRE_VERIFIED_EMAIL: bool.default(false),
  /**
   * Passwordless sign-in by a code e-mailed through Kratos' `code` method (kratos.yml has
   * `passwordless_enabled: true`); `/identify` then lists `code` among the sign-in methods.
   */
  EMAIL_CODE_LOGIN: bool.default(false),
  /**
   * E-mailed codes as an opt-in second factor, kept by the gateway (not Kratos'
   * `code.mfa_enabled`): it counts only for accounts whose owner turned it on.
   */
  EMAIL_CODE_MFA: bool.default(false),
  /**
   * The operator's SMS endpoint (the one kratos.yml's courier `sms` channel posts to): the gateway
   * texts its own codes there as `{"to", "body"}` with `Authorization: Bearer SMS_PROVIDER_API_KEY`.
   * Unset: no SMS at all (no phone number routes, no SMS sign-in or second factor).
   */
  SMS_PROVIDER_URL: z.url({ protocol: /^https?$/ }).optional(),
  SMS_PROVIDER_API_KEY: z.string().min(1).optional(),
  /** Passwordless sign-in by a code texted through Kratos' `code` method to a verified phone number. */
  SMS_CODE_LOGIN: bool.default(false),
  /** Texted codes as an opt-in second factor, kept by the gateway like the e-mailed one. */
  SMS_CODE_MFA: bool.default(false),
  /** Issuer shown by authenticator apps for TOTP; keep it equal to Kratos' `totp.config.issuer`. */
  TOTP_ISSUER: z.string().min(1).default('Auth Gateway'),
});

type Raw = z.infer<typeof schema>;

export type Config = Omit<Raw, 'SESSION_SECRET' | 'SESSION_ENCRYPTION_KEY' | 'CORS_ORIGINS'> & {
  SESSION_SECRET: string;
  SESSION_ENCRYPTION_KEY: Buffer;
  CORS_ORIGINS: string[];
  WEBAUTHN_RP_ID: string;
  WEBAUTHN_ORIGINS: string[];
  production: boolean;
  https: boolean;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Resolves `<NAME>_FILE` into `<NAME>` for the secret keys. */
function withFileSecrets(env: Record<string, string | undefined>, problems: string[]) {
  const out = { ...env };
  for (const key of SECRET_KEYS) {
    const path = env[`${key}_FILE`];
    if (!path) continue;
    if (env[key]) problems.push(`${key} and ${key}_FILE are both set; use one`);
    try {
      out[key] = readFileSync(path, 'utf8').trim();
    } catch {
      problems.push(`${key}_FILE: cannot read the file it names`);
    }
  }
  return out;
}

/** The CA files: each must hold a PEM certificate and go with a TLS URL. Never quotes a URL (it may carry a password). */
function tlsProblems(raw: {
  REDIS_TLS_CA_FILE?: string;
  REDIS_URL: string;
  VAULT_CACERT?: string;
  VAULT_ADDR?: string;
}) {
  const problems: string[] = [];
  const checks = [
    ['REDIS_TLS_CA_FILE', raw.REDIS_TLS_CA_FILE, 'REDIS_URL', 'rediss://', raw.REDIS_URL],
    ['VAULT_CACERT', raw.VAULT_CACERT, 'VAULT_ADDR', 'https://', raw.VAULT_ADDR ?? ''],
  ] as const;
  for (const [name, file, urlName, scheme, url] of checks) {
    if (!file) continue;
    let pem = '';
    try {
      pem = readFileSync(file, 'utf8');
    } catch {
      problems.push(`${name}: cannot read the file it names`);
      continue;
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----'))
      problems.push(`${name}: the file it names holds no PEM certificate`);
    if (!url.startsWith(scheme)) problems.push(`${name} is set, so ${urlName} must start with ${scheme}`);
  }
  return problems;
}

/** SMS features need the provider: its URL and its key go together. */
function smsProblems(raw: Raw): string[] {
  const problems: string[] = [];
  if (raw.SMS_PROVIDER_URL && !raw.SMS_PROVIDER_API_KEY)
    problems.push(
      'SMS_PROVIDER_URL is set, so SMS_PROVIDER_API_KEY (or SMS_PROVIDER_API_KEY_FILE) is required',
    );
  for (const flag of ['SMS_CODE_LOGIN', 'SMS_CODE_MFA'] as const)
    if (raw[flag] && !raw.SMS_PROVIDER_URL)
      problems.push(`${flag} needs SMS_PROVIDER_URL (the SMS provider)`);
  return problems;
}

function decodeKey(name: string, value: string | undefined, problems: string[]): Buffer | undefined {
  if (value === undefined) return undefined;
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) {
    problems.push(`${name} must be 32 bytes encoded in base64`);
    return undefined;
  }
  return key;
}

function productionProblems(
  raw: Raw,
  cfg: Omit<Config, 'production'>,
  keys: {
    sessionKey?: Buffer | undefined;
    keyringKey?: Buffer | undefined;
    auditChainKey?: Buffer | undefined;
  },
): string[] {
  const problems: string[] = [];
  const guessable = (problem: string | undefined) => problem && problems.push(problem);
  if (!cfg.https) problems.push('PUBLIC_BASE_URL must be https in production');
  if (!raw.SESSION_SECRET) problems.push('SESSION_SECRET is required in production');
  else if (raw.SESSION_SECRET.length < 32) problems.push('SESSION_SECRET must be at least 32 characters');
  if (raw.SESSION_SECRET) guessable(guessableSecret('SESSION_SECRET', raw.SESSION_SECRET));
  if (!raw.SESSION_ENCRYPTION_KEY) problems.push('SESSION_ENCRYPTION_KEY is required in production');
  guessable(guessableKey('SESSION_ENCRYPTION_KEY', keys.sessionKey));
  guessable(guessableKey('LOCAL_KEYRING_MASTER_KEY', keys.keyringKey));
  guessable(guessableKey('AUDIT_CHAIN_KEY', keys.auditChainKey));
  if (raw.KRATOS_WEBHOOK_API_KEY)
    guessable(guessableSecret('KRATOS_WEBHOOK_API_KEY', raw.KRATOS_WEBHOOK_API_KEY));
  for (const name of ['VAULT_TOKEN', 'VAULT_SECRET_ID'] as const) {
    const value = raw[name];
    if (value) guessable(guessableSecret(name, value, { placeholdersOnly: true }));
  }
  if (!raw.CORS_ORIGINS || raw.CORS_ORIGINS.length === 0)
    problems.push('CORS_ORIGINS must list the allowed origins in production');
  problems.push(...new Set(cfg.CORS_ORIGINS.map(unsafeOrigin).filter((p) => p !== undefined)));
  if (raw.SESSION_STORE === 'memory') problems.push('SESSION_STORE=memory is not allowed in production');
  if (!raw.WEBAUTHN_RP_ID) problems.push('WEBAUTHN_RP_ID is required in production');
  if (!raw.WEBAUTHN_ORIGINS || raw.WEBAUTHN_ORIGINS.length === 0)
    problems.push('WEBAUTHN_ORIGINS is required in production');
  if (cfg.WEBAUTHN_ORIGINS.some((o) => !o.startsWith('https://')))
    problems.push('WEBAUTHN_ORIGINS must be https in production');
  if (!raw.KRATOS_WEBHOOK_API_KEY) problems.push('KRATOS_WEBHOOK_API_KEY is required in production');
  if (raw.KEYS_BACKEND === 'local' && !raw.ALLOW_LOCAL_KEYRING_IN_PRODUCTION)
    problems.push('KEYS_BACKEND=local needs ALLOW_LOCAL_KEYRING_IN_PRODUCTION=true in production');
  if (raw.KEYS_BACKEND === 'local' && !raw.LOCAL_KEYRING_MASTER_KEY)
    problems.push('LOCAL_KEYRING_MASTER_KEY is required for the local keyring in production');
  return problems;
}

/**
 * Reads and validates the configuration. Throws a ConfigError listing every problem
 * at once, so an operator fixes them in one go.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const resolved = withFileSecrets(env, problems);
  const parsed = schema.safeParse(
    Object.fromEntries(Object.entries(resolved).filter(([, v]) => v !== undefined && v !== '')),
  );
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(problems);
  }
  const raw = parsed.data;
  problems.push(...tlsProblems(raw));
  const publicOrigin = new URL(raw.PUBLIC_BASE_URL).origin;
  const encryptionKey = decodeKey('SESSION_ENCRYPTION_KEY', raw.SESSION_ENCRYPTION_KEY, problems);
  const keyringKey = decodeKey('LOCAL_KEYRING_MASTER_KEY', raw.LOCAL_KEYRING_MASTER_KEY, problems);
  const auditChainKey = decodeKey('AUDIT_CHAIN_KEY', raw.AUDIT_CHAIN_KEY, problems);
  const cfg = {
    ...raw,
    SESSION_SECRET: raw.SESSION_SECRET ?? randomBytes(32).toString('base64url'),
    SESSION_ENCRYPTION_KEY: encryptionKey ?? randomBytes(32),
    CORS_ORIGINS: raw.CORS_ORIGINS ?? [publicOrigin],
    WEBAUTHN_RP_ID: raw.WEBAUTHN_RP_ID ?? new URL(raw.PUBLIC_BASE_URL).hostname,
    WEBAUTHN_ORIGINS: raw.WEBAUTHN_ORIGINS ?? [publicOrigin],
    https: raw.PUBLIC_BASE_URL.startsWith('https://'),
  };
  problems.push(...smsProblems(raw));
  const production = raw.NODE_ENV === 'production';
  if (production && raw.SMS_PROVIDER_URL && !raw.SMS_PROVIDER_URL.startsWith('https://'))
    problems.push('SMS_PROVIDER_URL must be https in production');
  if (production)
    problems.push(...productionProblems(raw, cfg, { sessionKey: encryptionKey, keyringKey, auditChainKey }));
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...cfg, production };
}
