import { readFile, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import nodeVault from 'node-vault';
import { Counter, Gauge } from 'prom-client';
import { z } from 'zod';
import { AppError } from '../errors/app-error.js';

/**
 * How the gateway authenticates to Vault: a static token, or AppRole with renewal. With
 * `secretIdFile` the secret id is read from that file at every login, so a secret id that
 * vault/init.sh replaced (it rotates it before its TTL ends) is picked up without a restart.
 */
export type VaultAuth =
  { token: string } | { roleId: string; secretId: string } | { roleId: string; secretIdFile: string };

interface VaultClientOptions {
  addr: string;
  auth: VaultAuth;
  /** Per-request timeout; a slower Vault counts as unavailable. */
  timeoutMs: number;
  /** Milliseconds since the epoch; drives token renewal. Default `Date.now`. */
  now?: () => number;
  /** PEM certificates that sign Vault's TLS certificate (an https VAULT_ADDR with a private CA). */
  caCert?: string | Buffer;
}

/** AppRole logins, by outcome: `ok`, `refused` (Vault refused the secret id) or `unavailable`. */
const vaultLogins = new Counter({
  name: 'gateway_vault_logins_total',
  help: 'AppRole logins to Vault by outcome (ok, refused, unavailable)',
  labelNames: ['outcome'] as const,
});

/** When the secret id of the last successful login was written: alert when it grows old. */
const secretIdWritten = new Gauge({
  name: 'gateway_vault_secret_id_written_timestamp_seconds',
  help: 'Modification time of the AppRole secret id file used by the last successful Vault login',
});

/** After Vault refused a secret id, the same one is not tried again for this long. */
const REFUSED_RETRY_MS = 5_000;

/** `GET /sys/health`, as plain data. */
interface VaultHealth {
  ok: boolean;
  status: 'active' | 'standby' | 'sealed' | 'uninitialized' | 'unreachable';
  version?: string;
}

/** The fields of a transit key the gateway cares about. */
interface TransitKeyInfo {
  name: string;
  derived: boolean;
  exportable: boolean;
  allowPlaintextBackup: boolean;
  latestVersion: number;
  minDecryptionVersion: number;
  minEncryptionVersion: number;
  versions: number[];
}

type BatchResult = { ok: true; ciphertext: string; keyVersion: number } | { ok: false; error: string };

interface TransitKeyOptions {
  derived?: boolean;
  exportable?: boolean;
  allowPlaintextBackup?: boolean;
}

/** The Vault operations the gateway uses, with typed results and errors mapped to AppError. */
export interface VaultClient {
  health(): Promise<VaultHealth>;
  readKey(mount: string, name: string): Promise<TransitKeyInfo | undefined>;
  createKey(mount: string, name: string, options: TransitKeyOptions): Promise<void>;
  generateDataKey(
    mount: string,
    name: string,
    context: string,
  ): Promise<{ plaintext: Buffer; ciphertext: string; keyVersion: number }>;
  decrypt(mount: string, name: string, ciphertext: string, context: string): Promise<Buffer>;
  rewrap(
    mount: string,
    name: string,
    items: { ciphertext: string; context: string }[],
  ): Promise<BatchResult[]>;
  rotate(mount: string, name: string): Promise<TransitKeyInfo>;
  configure(mount: string, name: string, settings: Record<string, number | boolean>): Promise<void>;
  backup(mount: string, name: string): Promise<string>;
  restore(mount: string, backup: string, options: { name?: string; force?: boolean }): Promise<void>;
  /** Transit HMAC-SHA256 of `input` under one version of the key: the raw MAC bytes. */
  hmac(mount: string, name: string, input: Buffer, keyVersion: number): Promise<Buffer>;
}

interface VaultFailure {
  status?: number;
  message: string;
  body?: { data?: { batch_results?: unknown } };
}

/** Extracts status and Vault's first error without keeping the request (its headers carry the token). */
function describeFailure(error: unknown): VaultFailure {
  const response = (error as { response?: { statusCode?: number; body?: VaultFailure['body'] } }).response;
  if (response?.statusCode) {
    const errors = (response.body as { errors?: string[] } | undefined)?.errors;
    return {
      status: response.statusCode,
      message: errors?.[0] ?? `status ${response.statusCode}`,
      body: response.body,
    };
  }
  const code = (error as { code?: string }).code;
  return { message: code ?? (error instanceof Error ? error.message : 'unknown error') };
}

/*
 * node-vault types every answer as `any`: the gateway reads the fields it uses through these
 * schemas, so an answer of another shape is a 502 keys_error rather than an undefined further on.
 */
const loginAnswer = z.object({ auth: z.object({ lease_duration: z.unknown() }) });
const renewAnswer = z.object({ auth: z.object({ lease_duration: z.unknown() }).optional() });
const dataAnswer = z.object({ data: z.record(z.string(), z.unknown()) });
const dataKeyAnswer = z.object({
  data: z.object({ plaintext: z.string(), ciphertext: z.string(), key_version: z.unknown() }),
});
const decryptAnswer = z.object({ data: z.object({ plaintext: z.string() }) });
const batchAnswer = z.object({ data: z.object({ batch_results: z.array(z.unknown()) }) });

/** `answer` read with `schema`, or 502 keys_error naming what was expected. */
function parseAnswer<T>(schema: z.ZodType<T>, answer: unknown, what: string): T {
  const parsed = schema.safeParse(answer);
  if (!parsed.success) throw toAppError({ status: 502, message: `unexpected ${what} answer` });
  return parsed.data;
}

/** 503 keys_unavailable: the gateway cannot reach its keys until an operator (or vault-init) acts. */
const keysUnavailable = (reason: string) =>
  new AppError('keys_unavailable', 503, 'The key service is unavailable.', { cause: new Error(reason) });

/** A secret id and, for one read from a file, when that file was written (seconds since the epoch). */
interface SecretId {
  value: string;
  writtenAt?: number;
}

/**
 * Holds the Vault token. With AppRole it logs in lazily, renews the token once two thirds
 * of its lease have passed, and logs in again when a renewal no longer extends the lease
 * fully (the token is near its max TTL) — so callers never see an expired token. Every
 * login reads the secret id file again. A secret id Vault refuses (expired, destroyed,
 * or used from outside its CIDR binding) answers 503 keys_unavailable; the next login after
 * the file changed, or after a few seconds, tries again.
 */
function tokenSession(client: nodeVault.client, auth: VaultAuth, now: () => number) {
  let issuedLease = 0;
  let renewAt = Infinity;
  let loggedIn = false;
  let pending: Promise<void> | undefined;
  let refused: { secretId: string; at: number; error: AppError } | undefined;

  const schedule = (leaseSeconds: number) => {
    renewAt = leaseSeconds > 0 ? now() + (leaseSeconds * 1000 * 2) / 3 : Infinity;
  };

  async function readSecretId(): Promise<SecretId> {
    if ('secretId' in auth) return { value: auth.secretId };
    if (!('secretIdFile' in auth)) return { value: '' };
    try {
      const [text, info] = await Promise.all([readFile(auth.secretIdFile, 'utf8'), stat(auth.secretIdFile)]);
      const value = text.trim();
      if (value === '') throw new Error('empty');
      return { value, writtenAt: info.mtimeMs / 1000 };
    } catch {
      vaultLogins.inc({ outcome: 'unavailable' });
      throw keysUnavailable('vault: the AppRole secret id file cannot be read or is empty');
    }
  }

  /** One login with `secretId`; Vault's refusal (a 4xx) becomes a remembered 503. */
  async function loginWith(roleId: string, secretId: SecretId): Promise<void> {
    try {
      const response: unknown = await client.approleLogin({ role_id: roleId, secret_id: secretId.value });
      issuedLease = Number(loginAnswer.parse(response).auth.lease_duration);
      schedule(issuedLease);
      loggedIn = true;
      refused = undefined;
      vaultLogins.inc({ outcome: 'ok' });
      if (secretId.writtenAt !== undefined) secretIdWritten.set(secretId.writtenAt);
    } catch (error) {
      const failure = describeFailure(error);
      if (failure.status === undefined || failure.status >= 500 || failure.status === 429) {
        vaultLogins.inc({ outcome: 'unavailable' });
        throw toAppError(failure);
      }
      vaultLogins.inc({ outcome: 'refused' });
      loggedIn = false;
      const reason = `vault ${failure.status}: AppRole login refused: ${failure.message}`;
      refused = { secretId: secretId.value, at: now(), error: keysUnavailable(reason) };
      throw refused.error;
    }
  }

  async function login(): Promise<void> {
    if (!('roleId' in auth)) return;
    const secretId = await readSecretId();
    if (refused && refused.secretId === secretId.value && now() - refused.at < REFUSED_RETRY_MS) {
      throw refused.error;
    }
    try {
      await loginWith(auth.roleId, secretId);
    } catch (error) {
      // The file may have been replaced between the read and Vault's answer: one more try
      // with what it holds now.
      if (refused?.error !== error || !('secretIdFile' in auth)) throw error;
      const current = await readSecretId();
      if (current.value === secretId.value) throw error;
      await loginWith(auth.roleId, current);
    }
  }

  async function renewOrRelogin(): Promise<void> {
    const response: unknown = await client
      .tokenRenewSelf({ increment: `${issuedLease}s` })
      .catch(() => undefined);
    const renewed = renewAnswer.safeParse(response);
    const lease = Number((renewed.success ? renewed.data.auth?.lease_duration : undefined) ?? 0);
    if (lease < issuedLease) return login();
    schedule(lease);
  }

  const once = (work: () => Promise<void>) => {
    pending ??= work().finally(() => (pending = undefined));
    return pending;
  };

  return {
    canRelogin: 'roleId' in auth,
    ensure(): Promise<void> {
      if ('token' in auth) return Promise.resolve();
      if (!loggedIn) return once(login);
      if (now() >= renewAt) return once(renewOrRelogin);
      return Promise.resolve();
    },
    relogin: () => once(login),
  };
}

function toAppError(failure: VaultFailure): AppError {
  const cause = new Error(`vault ${failure.status ?? 'network'}: ${failure.message}`);
  if (failure.status === undefined || failure.status >= 500 || failure.status === 429) {
    return new AppError('keys_unavailable', 503, 'The key service is unavailable.', { cause });
  }
  if (/message authentication failed|disallowed by policy|invalid ciphertext/.test(failure.message)) {
    return new AppError('decryption_failed', 500, 'The data key could not be unwrapped.', { cause });
  }
  if (failure.status === 403) {
    return new AppError('keys_forbidden', 502, 'The key service refused the gateway.', { cause });
  }
  return new AppError('keys_error', 502, 'The key service rejected the request.', { cause });
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function keyInfo(data: Record<string, unknown>): TransitKeyInfo {
  return {
    name: String(data.name),
    derived: data.derived === true,
    exportable: data.exportable === true,
    allowPlaintextBackup: data.allow_plaintext_backup === true,
    latestVersion: Number(data.latest_version),
    minDecryptionVersion: Number(data.min_decryption_version),
    minEncryptionVersion: Number(data.min_encryption_version),
    versions: Object.keys(data.keys ?? {})
      .map(Number)
      .sort((a, b) => a - b),
  };
}

function batchResults(results: unknown): BatchResult[] {
  return (results as { ciphertext?: string; key_version?: number; error?: string }[]).map((item) =>
    item.error || !item.ciphertext
      ? { ok: false, error: item.error ?? 'no ciphertext returned' }
      : { ok: true, ciphertext: item.ciphertext, keyVersion: Number(item.key_version) },
  );
}

const HEALTH_STATUS: Record<number, VaultHealth['status']> = {
  200: 'active',
  429: 'standby',
  501: 'uninitialized',
  503: 'sealed',
};

/**
 * The only module that talks to Vault. Contexts are the UTF-8 strings the caller gives
 * (user ids) and are base64-encoded here, as transit expects.
 */
/** GET of a JSON document over http or https (with the CA), as status and parsed body. */
function getJson(
  url: string,
  agent: Agent | undefined,
  timeoutMs: number,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          // not JSON: the status alone speaks
        }
        resolve({ status: response.statusCode ?? 0, body });
      });
    };
    const req = url.startsWith('https:')
      ? httpsRequest(url, { agent, timeout: timeoutMs }, onResponse)
      : httpRequest(url, { timeout: timeoutMs }, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export function createVaultClient(options: VaultClientOptions): VaultClient {
  const now = options.now ?? Date.now;
  // With a CA, every request (node-vault's and the health check) trusts exactly it, on top of
  // nothing else: a certificate it did not sign fails like an unreachable Vault (503).
  const httpsAgent = options.caCert ? new Agent({ ca: options.caCert, keepAlive: true }) : undefined;
  const client = nodeVault({
    endpoint: options.addr,
    token: 'token' in options.auth ? options.auth.token : undefined,
    requestOptions: { timeout: options.timeoutMs, ...(httpsAgent && { httpsAgent }) },
    noCustomHTTPVerbs: true,
    // node-vault turns certificate checks off when the environment has VAULT_SKIP_VERIFY;
    // the gateway always checks (its typings omit this option).
    ...({ rpDefaults: { strictSSL: true } } as object),
  });
  const session = tokenSession(client, options.auth, now);
  // node-vault's answers, as unknown until parsed.
  const read = (path: string): Promise<unknown> => client.read(path);
  const write = (path: string, body: Record<string, unknown>): Promise<unknown> => client.write(path, body);
  const asAppError = (error: unknown) =>
    error instanceof AppError ? error : toAppError(describeFailure(error));

  async function call<T>(operation: () => Promise<T>): Promise<T> {
    await session.ensure().catch((error: unknown) => {
      throw asAppError(error);
    });
    try {
      return await operation();
    } catch (error) {
      const failure = describeFailure(error);
      if (failure.status !== 403 || !session.canRelogin) throw toAppError(failure);
    }
    // A 403 with AppRole usually means the token expired or was revoked under us: log in
    // again (reading the secret id file again), once.
    await session.relogin().catch((error: unknown) => {
      throw asAppError(error);
    });
    try {
      return await operation();
    } catch (error) {
      throw toAppError(describeFailure(error));
    }
  }

  return {
    async health() {
      try {
        const response = await getJson(`${options.addr}/v1/sys/health`, httpsAgent, options.timeoutMs);
        const status = HEALTH_STATUS[response.status] ?? 'unreachable';
        const version = typeof response.body.version === 'string' ? response.body.version : undefined;
        return { ok: status === 'active', status, version };
      } catch {
        return { ok: false, status: 'unreachable' };
      }
    },
    async readKey(mount, name) {
      const response = await call(() =>
        read(`${mount}/keys/${name}`).catch((error: unknown) => {
          if (describeFailure(error).status === 404) return undefined;
          throw error;
        }),
      );
      return response === undefined ? undefined : keyInfo(parseAnswer(dataAnswer, response, 'key').data);
    },
    async createKey(mount, name, keyOptions) {
      await call(() =>
        write(`${mount}/keys/${name}`, {
          type: 'aes256-gcm96',
          derived: keyOptions.derived ?? true,
          exportable: keyOptions.exportable ?? false,
          allow_plaintext_backup: keyOptions.allowPlaintextBackup ?? false,
        }),
      );
    },
    async generateDataKey(mount, name, context) {
      const response = await call(() =>
        write(`${mount}/datakey/plaintext/${name}`, { context: b64(context), bits: 256 }),
      );
      const { data } = parseAnswer(dataKeyAnswer, response, 'data key');
      return {
        plaintext: Buffer.from(data.plaintext, 'base64'),
        ciphertext: data.ciphertext,
        keyVersion: Number(data.key_version),
      };
    },
    async decrypt(mount, name, ciphertext, context) {
      const response = await call(() =>
        write(`${mount}/decrypt/${name}`, { ciphertext, context: b64(context) }),
      );
      return Buffer.from(parseAnswer(decryptAnswer, response, 'decrypt').data.plaintext, 'base64');
    },
    async rewrap(mount, name, items) {
      const batch_input = items.map((item) => ({ ciphertext: item.ciphertext, context: b64(item.context) }));
      const body = await call(() =>
        write(`${mount}/rewrap/${name}`, { batch_input }).catch((error: unknown) => {
          // Vault answers 400 with per-item results when only some items failed.
          const failure = describeFailure(error);
          if (failure.status === 400 && Array.isArray(failure.body?.data?.batch_results)) return failure.body;
          throw error;
        }),
      );
      return batchResults(parseAnswer(batchAnswer, body, 'rewrap').data.batch_results);
    },
    async rotate(mount, name) {
      await call(() => write(`${mount}/keys/${name}/rotate`, {}));
      const info = await this.readKey(mount, name);
      if (!info) throw toAppError({ status: 404, message: 'key disappeared after rotation' });
      return info;
    },
    async configure(mount, name, settings) {
      await call(() => write(`${mount}/keys/${name}/config`, settings));
    },
    async backup(mount, name) {
      const response = await call(() => read(`${mount}/backup/${name}`));
      return String(parseAnswer(dataAnswer, response, 'backup').data.backup);
    },
    async restore(mount, backup, restoreOptions) {
      const path = restoreOptions.name ? `${mount}/restore/${restoreOptions.name}` : `${mount}/restore`;
      await call(() => write(path, { backup, force: restoreOptions.force ?? false }));
    },
    async hmac(mount, name, input, keyVersion) {
      const response = await call(() =>
        write(`${mount}/hmac/${name}`, { input: input.toString('base64'), key_version: keyVersion }),
      );
      const hmac = parseAnswer(dataAnswer, response, 'hmac').data.hmac;
      const match = /^vault:v\d+:([A-Za-z0-9+/=]+)$/.exec(String(hmac));
      if (!match) throw toAppError({ status: 502, message: 'unexpected hmac answer' });
      return Buffer.from(match[1] ?? '', 'base64');
    },
  };
}
