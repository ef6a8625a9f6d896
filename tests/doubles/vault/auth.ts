import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { capabilitiesFor, type PolicyRule } from './policy.js';
import { VaultHttpError } from './transit.js';

export interface AppRoleOptions {
  /** Names of policies registered with `addPolicy` (or `root`). */
  policies: string[];
  tokenTtlSeconds: number;
  tokenMaxTtlSeconds: number;
}

interface Token {
  id: string;
  accessor: string;
  policies: string[];
  ttlSeconds: number;
  issuedAt: number;
  expiresAt: number | null;
  maxExpiresAt: number | null;
  meta: Record<string, string>;
}

/** What every token may do to itself (the part of Vault's built-in `default` policy we need). */
const DEFAULT_POLICY: PolicyRule[] = [
  { path: 'auth/token/lookup-self', capabilities: ['read'] },
  { path: 'auth/token/renew-self', capabilities: ['update'] },
];

const denied = () => new VaultHttpError(403, 'permission denied');

/** Tokens, AppRoles and ACL policies of the Vault double. */
export class AuthStore {
  private readonly tokens = new Map<string, Token>();
  private readonly policies = new Map<string, PolicyRule[]>([['default', DEFAULT_POLICY]]);
  private readonly roles = new Map<
    string,
    AppRoleOptions & { roleId: string; secretIds: Set<string>; name: string }
  >();

  constructor(
    private readonly now: () => number,
    rootToken: string,
  ) {
    this.tokens.set(rootToken, this.newToken(rootToken, ['root'], 0, 0, {}));
  }

  addPolicy(name: string, rules: PolicyRule[]): void {
    this.policies.set(name, rules);
  }

  addAppRole(name: string, options: AppRoleOptions): { roleId: string; secretId: string } {
    const secretId = randomUUID();
    const role = { ...options, name, roleId: randomUUID(), secretIds: new Set([secretId]) };
    this.roles.set(role.roleId, role);
    return { roleId: role.roleId, secretId };
  }

  private roleNamed(name: string) {
    const role = [...this.roles.values()].find((r) => r.name === name);
    if (!role) throw new Error(`no AppRole named ${name}`);
    return role;
  }

  /** Another secret id of the role, like `vault write -f auth/approle/role/<name>/secret-id`. */
  issueSecretId(name: string): string {
    const secretId = randomUUID();
    this.roleNamed(name).secretIds.add(secretId);
    return secretId;
  }

  /** Like `auth/approle/role/<name>/secret-id/destroy`: the secret id no longer logs in. */
  destroySecretId(name: string, secretId: string): void {
    this.roleNamed(name).secretIds.delete(secretId);
  }

  /** Revokes every token a login to the role issued (its tokens' meta.role_name). */
  revokeRoleTokens(name: string): void {
    for (const [id, token] of this.tokens) if (token.meta.role_name === name) this.tokens.delete(id);
  }

  /** Issues a token directly, like `vault token create`; a TTL of 0 never expires. */
  createToken(options: { policies: string[]; ttlSeconds?: number; maxTtlSeconds?: number }): string {
    const id = `hvs.${randomBytes(18).toString('base64url')}`;
    this.tokens.set(
      id,
      this.newToken(id, options.policies, options.ttlSeconds ?? 0, options.maxTtlSeconds ?? 0, {}),
    );
    return id;
  }

  revoke(tokenId: string): void {
    this.tokens.delete(tokenId);
  }

  login(roleId: unknown, secretId: unknown): Record<string, unknown> {
    if (typeof roleId !== 'string' || roleId === '') throw new VaultHttpError(400, 'missing role_id');
    const role = this.roles.get(roleId);
    if (!role) throw new VaultHttpError(400, 'invalid role or secret ID');
    const given = Buffer.from(typeof secretId === 'string' ? secretId : '');
    const matches = [...role.secretIds].filter((known) => {
      const expected = Buffer.from(known);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (matches.length === 0) throw new VaultHttpError(400, 'invalid role or secret ID');
    const id = `hvs.${randomBytes(18).toString('base64url')}`;
    const token = this.newToken(id, role.policies, role.tokenTtlSeconds, role.tokenMaxTtlSeconds, {
      role_name: role.name,
    });
    this.tokens.set(id, token);
    return { auth: this.authBlock(token) };
  }

  /** Resolves a live token or answers 403 like Vault does for missing or expired ones. */
  authenticate(tokenId: string | undefined): Token {
    const token = tokenId ? this.tokens.get(tokenId) : undefined;
    if (!token) throw denied();
    if (token.expiresAt !== null && token.expiresAt <= this.now()) {
      this.tokens.delete(token.id);
      throw denied();
    }
    return token;
  }

  /** Checks that one of the token's policies grants `capability` on `path` (no leading `/v1/`). */
  authorize(token: Token, path: string, capability: string): void {
    if (token.policies.includes('root')) return;
    const names = ['default', ...token.policies];
    const allowed = names.some((name) => {
      const caps = capabilitiesFor(this.policies.get(name) ?? [], path);
      return !caps.includes('deny') && caps.includes(capability);
    });
    if (!allowed) throw denied();
  }

  lookup(token: Token): Record<string, unknown> {
    const ttl = token.expiresAt === null ? 0 : Math.max(0, Math.floor((token.expiresAt - this.now()) / 1000));
    return {
      data: {
        id: token.id,
        accessor: token.accessor,
        policies: ['default', ...token.policies.filter((p) => p !== 'default')],
        ttl,
        creation_ttl: token.ttlSeconds,
        creation_time: Math.floor(token.issuedAt / 1000),
        expire_time: token.expiresAt === null ? null : new Date(token.expiresAt).toISOString(),
        explicit_max_ttl: 0,
        renewable: token.expiresAt !== null,
        meta: token.meta,
        type: 'service',
      },
    };
  }

  /** Extends the token by its TTL (or the increment) but never past its max TTL. */
  renew(token: Token, incrementSeconds?: number): Record<string, unknown> {
    if (token.expiresAt === null) throw new VaultHttpError(400, 'lease is not renewable');
    const wanted = this.now() + (incrementSeconds || token.ttlSeconds) * 1000;
    const capped = token.maxExpiresAt === null ? wanted : Math.min(wanted, token.maxExpiresAt);
    token.expiresAt = Math.max(token.expiresAt, capped);
    const body: Record<string, unknown> = { auth: this.authBlock(token) };
    if (capped < wanted) {
      body.warnings = ['TTL of the token exceeded the effective max_ttl; TTL value is capped accordingly'];
    }
    return body;
  }

  private authBlock(token: Token): Record<string, unknown> {
    const leaseSeconds = token.expiresAt === null ? 0 : Math.floor((token.expiresAt - this.now()) / 1000);
    return {
      client_token: token.id,
      accessor: token.accessor,
      policies: ['default', ...token.policies],
      token_policies: ['default', ...token.policies],
      metadata: token.meta,
      lease_duration: leaseSeconds,
      renewable: token.expiresAt !== null,
      entity_id: '',
      token_type: 'service',
      orphan: true,
    };
  }

  private newToken(
    id: string,
    policies: string[],
    ttlSeconds: number,
    maxTtlSeconds: number,
    meta: Record<string, string>,
  ): Token {
    const issuedAt = this.now();
    return {
      id,
      accessor: randomBytes(12).toString('base64url'),
      policies,
      ttlSeconds,
      issuedAt,
      expiresAt: ttlSeconds > 0 ? issuedAt + ttlSeconds * 1000 : null,
      maxExpiresAt: maxTtlSeconds > 0 ? issuedAt + maxTtlSeconds * 1000 : null,
      meta,
    };
  }
}
