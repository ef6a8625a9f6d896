import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  randomBytes,
  timingSafeEqual,
  verify,
  type JsonWebKey,
} from 'node:crypto';
import type { DoubleContext } from './context.js';
import { errors } from './errors.js';

/** A generic OpenID provider of Kratos' `oidc` method (`provider: generic`). */
export interface OidcProviderConfig {
  id: string;
  label: string;
  issuerUrl: string;
  clientId: string;
  clientSecret: string;
}

/** What the double reads from a provider's discovery document. */
interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  code_challenge_methods_supported?: string[];
  id_token_signing_alg_values_supported?: string[];
}

/** The scopes the project's providers ask for (kratos/social-sign-in.yml). */
const SCOPES = ['openid', 'email'];
const TIMEOUT_MS = 10_000;

/** The provider of that id, or Kratos' 404 for an unknown one. */
export function findProvider(ctx: DoubleContext, id: string): OidcProviderConfig {
  const provider = ctx.oidcProviders.find((p) => p.id === id);
  if (!provider) {
    throw errors.resourceNotFound(`OpenID Connect Provider "${id}" is unknown or has not been configured`);
  }
  return provider;
}

/** Where the provider sends the browser back: Kratos' per-provider callback route. */
export const redirectUri = (ctx: DoubleContext, provider: OidcProviderConfig): string =>
  `${ctx.publicUrl}/self-service/methods/oidc/callback/${provider.id}`;

/**
 * Fetches the provider's discovery document, as go-oidc's NewProvider does on every use in
 * Kratos (selfservice/strategy/oidc/provider_generic_oidc.go); failures are Kratos' 500
 * "Unable to initialize OpenID Connect Provider: …".
 */
export async function discover(provider: OidcProviderConfig): Promise<Discovery> {
  const url = `${provider.issuerUrl.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const fail = (cause: string) => errors.internal(`Unable to initialize OpenID Connect Provider: ${cause}`);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    throw fail(`Get "${url}": ${transportError(error)}`);
  }
  const body = await response.text();
  if (response.status !== 200) throw fail(`${response.status} ${response.statusText}: ${body}`);
  let document: Discovery;
  try {
    document = JSON.parse(body) as Discovery;
  } catch {
    throw fail('oidc: failed to decode provider discovery object');
  }
  if (document.issuer !== provider.issuerUrl) {
    throw fail(
      `oidc: issuer did not match the issuer returned by provider, expected "${provider.issuerUrl}" got "${document.issuer}"`,
    );
  }
  return document;
}

function transportError(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  if (cause === 'ECONNREFUSED') return 'connect: connection refused';
  if ((error as Error).name === 'TimeoutError') return 'context deadline exceeded';
  return (error as Error).message;
}

/** What the `state` parameter carries, sealed: Kratos' oidcv1.State. */
export interface OidcState {
  flowId: string;
  provider: string;
  /** PKCE verifier, empty when the provider does not advertise S256. */
  pkceVerifier: string;
  /** SHA-512 of the flow's session-token exchange init code (a random value without one). */
  initCodeHash: string;
}

/** Seals the state (AES-256-GCM, hex, as Kratos hex-encodes its cipher output). */
export function sealState(ctx: DoubleContext, state: OidcState): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', ctx.stateKey, iv);
  const sealed = Buffer.concat([cipher.update(JSON.stringify(state), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('hex');
}

/** Opens a sealed state; undefined when it was not sealed by this double or was altered. */
export function openState(ctx: DoubleContext, value: string): OidcState | undefined {
  if (!/^[0-9a-f]+$/.test(value) || value.length < 58) return undefined;
  const raw = Buffer.from(value, 'hex');
  try {
    const decipher = createDecipheriv('aes-256-gcm', ctx.stateKey, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    const plain = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    return JSON.parse(plain) as OidcState;
  } catch {
    return undefined;
  }
}

export const sha512 = (value: string): string => createHash('sha512').update(value).digest('hex');

/** Whether the state binds this init code (Kratos' codeMatches, constant time). */
export function initCodeMatches(state: OidcState, initCode: string): boolean {
  const expected = Buffer.from(sha512(initCode), 'hex');
  const actual = Buffer.from(state.initCodeHash, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A PKCE verifier as golang.org/x/oauth2 GenerateVerifier makes it (32 random bytes, base64url). */
export const pkceVerifier = (): string => randomBytes(32).toString('base64url');

/** The authorization URL golang.org/x/oauth2 builds (AuthCodeURL), with PKCE S256 when a verifier is given. */
export function authorizationUrl(
  ctx: DoubleContext,
  provider: OidcProviderConfig,
  discovery: Discovery,
  state: string,
  verifier: string,
  refresh = false,
): string {
  const params = new Map<string, string[]>([
    ['response_type', ['code']],
    ['client_id', [provider.clientId]],
    ['redirect_uri', [redirectUri(ctx, provider)]],
    ['scope', [SCOPES.join(' ')]],
    ['state', [state]],
  ]);
  // A refresh asks the provider to sign the user in again (the generic provider's AuthCodeURLOptions).
  if (refresh) params.set('prompt', ['login']);
  if (verifier) {
    params.set('code_challenge_method', ['S256']);
    params.set('code_challenge', [createHash('sha256').update(verifier).digest('base64url')]);
  }
  const base = discovery.authorization_endpoint;
  return `${base}${base.includes('?') ? '&' : '?'}${encodeQuery(params)}`;
}

/** Whether the discovery document advertises PKCE S256 (Kratos' `pkce: auto`). */
export const supportsPkce = (discovery: Discovery): boolean =>
  discovery.code_challenge_methods_supported?.includes('S256') === true;

/** The claims of a verified ID token. */
export type Claims = Record<string, unknown> & { sub: string };

/** The provider's tokens, kept in the oidc credential (Kratos keeps them encrypted). */
export interface ProviderTokens {
  idToken: string;
  accessToken: string;
  refreshToken: string;
}

/**
 * Exchanges the authorization code at the token endpoint (client_secret_post, PKCE verifier)
 * and verifies the ID token it answers with: signature by the provider's JWKS, `iss`, `aud`,
 * `exp` (go-oidc's IDTokenVerifier).
 */
export async function exchangeCode(
  ctx: DoubleContext,
  provider: OidcProviderConfig,
  code: string,
  verifier: string,
): Promise<{ claims: Claims; tokens: ProviderTokens }> {
  const discovery = await discover(provider);
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri(ctx, provider),
    client_id: provider.clientId,
    client_secret: provider.clientSecret,
  });
  if (verifier) form.set('code_verifier', verifier);
  let response: Response;
  try {
    response = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw errors.internal(`Post "${discovery.token_endpoint}": ${transportError(error)}`);
  }
  const text = await response.text();
  const body = parseObject(text);
  if (response.status !== 200) {
    const detail = body?.error ? `"${String(body.error)}" "${String(body.error_description ?? '')}"` : text;
    throw errors.internal(`oauth2: cannot fetch token: ${response.status} ${response.statusText}: ${detail}`);
  }
  const idToken = typeof body?.id_token === 'string' ? body.id_token : '';
  if (!idToken) throw errors.badRequest('Could not find id_token in token response');
  const claims = await verifyIdToken(ctx, provider, discovery, idToken);
  const token = (key: string) => (typeof body?.[key] === 'string' ? body[key] : '');
  return {
    claims,
    tokens: { idToken, accessToken: token('access_token'), refreshToken: token('refresh_token') },
  };
}

async function verifyIdToken(
  ctx: DoubleContext,
  provider: OidcProviderConfig,
  discovery: Discovery,
  token: string,
): Promise<Claims> {
  const invalid = (reason: string) => errors.badRequest(reason);
  const parts = token.split('.');
  if (parts.length !== 3)
    throw invalid('oidc: malformed jwt: go-jose/go-jose: compact JWS format must have three parts');
  const [encodedHeader = '', encodedPayload = '', signature = ''] = parts;
  const header = parseObject(Buffer.from(encodedHeader, 'base64url').toString('utf8'));
  const claims = parseObject(Buffer.from(encodedPayload, 'base64url').toString('utf8'));
  if (!header || !claims) throw invalid('oidc: malformed jwt payload');
  if (claims.iss !== discovery.issuer) {
    throw invalid(
      `oidc: id token issued by a different provider, expected "${discovery.issuer}" got "${String(claims.iss)}"`,
    );
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(provider.clientId)) {
    throw invalid(`oidc: expected audience "${provider.clientId}" got ${JSON.stringify(audiences)}`);
  }
  const expiry = typeof claims.exp === 'number' ? claims.exp * 1000 : 0;
  if (expiry <= ctx.now()) {
    throw invalid(`oidc: token is expired (Token Expiry: ${new Date(expiry).toISOString()})`);
  }
  const alg = String(header.alg);
  const allowed = discovery.id_token_signing_alg_values_supported ?? ['RS256'];
  const verifier = ALGORITHMS[alg];
  if (!allowed.includes(alg) || !verifier) {
    throw invalid(
      `oidc: id token signed with unsupported algorithm, expected ${JSON.stringify(allowed)} got "${alg}"`,
    );
  }
  const keys = await fetchKeys(discovery.jwks_uri);
  const candidates = keys.filter((k) => header.kid === undefined || k.kid === header.kid);
  const data = Buffer.from(`${encodedHeader}.${encodedPayload}`);
  const signatureBytes = Buffer.from(signature, 'base64url');
  const valid = candidates.some((jwk) => {
    try {
      return verifier(data, createPublicKey({ key: jwk, format: 'jwk' }), signatureBytes);
    } catch {
      return false;
    }
  });
  if (!valid) throw invalid('failed to verify signature: failed to verify id token signature');
  if (typeof claims.sub !== 'string' || claims.sub === '') {
    throw invalid('The provider did not return a subject.');
  }
  return claims as Claims;
}

type Verifier = (data: Buffer, key: ReturnType<typeof createPublicKey>, signature: Buffer) => boolean;

/** The JWS algorithms the double verifies (what go-oidc accepts by default and providers use). */
const ALGORITHMS: Record<string, Verifier> = {
  RS256: (data, key, sig) => verify('sha256', data, key, sig),
  RS384: (data, key, sig) => verify('sha384', data, key, sig),
  RS512: (data, key, sig) => verify('sha512', data, key, sig),
  PS256: (data, key, sig) => verify('sha256', data, { key, padding: 6, saltLength: 32 }, sig),
  ES256: (data, key, sig) => verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig),
  ES384: (data, key, sig) => verify('sha384', data, { key, dsaEncoding: 'ieee-p1363' }, sig),
  EdDSA: (data, key, sig) => verify(null, data, key, sig),
};

async function fetchKeys(jwksUri: string): Promise<(JsonWebKey & { kid?: string })[]> {
  let response: Response;
  try {
    response = await fetch(jwksUri, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    throw errors.badRequest(
      `failed to verify signature: fetching keys oidc: get keys failed: ${transportError(error)}`,
    );
  }
  const body = parseObject(await response.text());
  if (response.status !== 200 || !Array.isArray(body?.keys)) {
    throw errors.badRequest(
      `failed to verify signature: fetching keys oidc: get keys failed: ${response.status} ${response.statusText}`,
    );
  }
  return body.keys as (JsonWebKey & { kid?: string })[];
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** What kratos/oidc/claims.jsonnet makes of the claims. */
export interface MappedIdentity {
  traits: Record<string, unknown>;
  verifiedAddresses: { via: 'email'; value: string }[];
}

/**
 * The project's claim mapper (kratos/oidc/claims.jsonnet) in TypeScript: the `email` trait,
 * and a verified address, only when the ID token says `email_verified: true` (Kratos decodes
 * `"true"` as true too); otherwise no e-mail at all.
 */
export function mapClaims(claims: Claims): MappedIdentity {
  const email = typeof claims.email === 'string' ? claims.email : '';
  const verified = email !== '' && (claims.email_verified === true || claims.email_verified === 'true');
  if (!verified) return { traits: {}, verifiedAddresses: [] };
  return { traits: { email }, verifiedAddresses: [{ via: 'email', value: email }] };
}

/** Go's url.QueryEscape: everything but letters, digits and `-_.~` escaped, spaces as `+`. */
function queryEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Go's url.Values.Encode: keys sorted, values in order. */
export function encodeQuery(params: Map<string, string[]>): string {
  return [...params.keys()]
    .sort()
    .flatMap((key) => (params.get(key) ?? []).map((value) => `${queryEscape(key)}=${queryEscape(value)}`))
    .join('&');
}

/**
 * Sets query parameters on a URL the way Kratos does (url.Values Set, then Encode): the URL's
 * own query is kept but re-encoded with its keys sorted.
 */
export function withQuery(raw: string, set: Record<string, string>): string {
  const url = new URL(raw);
  const params = new Map<string, string[]>();
  for (const [key, value] of url.searchParams) params.set(key, [...(params.get(key) ?? []), value]);
  for (const [key, value] of Object.entries(set)) params.set(key, [value]);
  const hash = url.hash;
  return `${url.origin}${url.pathname}?${encodeQuery(params)}${hash}`;
}

/** Kratos' `oidc` credential for one provider account (identity.NewCredentialsOIDC). */
export function oidcCredentialConfig(
  provider: string,
  subject: string,
  tokens: Partial<ProviderTokens> = {},
): Record<string, unknown> {
  return {
    providers: [
      {
        initial_id_token: tokens.idToken ?? '',
        initial_access_token: tokens.accessToken ?? '',
        initial_refresh_token: tokens.refreshToken ?? '',
        subject,
        provider,
        organization: '',
      },
    ],
  };
}

/** `<provider>:<subject>`, the oidc credential's identifier (identity.OIDCUniqueID). */
export const oidcIdentifier = (provider: string, subject: string): string => `${provider}:${subject}`;
