import type { AuthStore } from './auth.js';
import { TransitEngine, VaultHttpError } from './transit.js';

/** Body field types as Vault's framework decodes them (it also accepts "256" and "true"). */
export type FieldType = 'string' | 'integer' | 'boolean' | 'array' | 'duration';

export interface RouteContext {
  params: Record<string, string>;
  body: Record<string, unknown>;
  query: URLSearchParams;
}

export interface RouteResult {
  status: number;
  /** Sent as is, without Vault's response envelope (sys/health answers this way). */
  raw?: boolean;
  body?: Record<string, unknown>;
}

/** One operation of the double, named by its OpenAPI path template and method. */
export interface Route {
  method: 'GET' | 'POST' | 'DELETE' | 'LIST';
  template: string;
  /** The request body fields the double decodes, with their types. */
  fields?: Record<string, FieldType>;
  unauthenticated?: boolean;
  /** The ACL capability the request needs; `create` when it makes a new key. */
  capability: (ctx: RouteContext) => string;
  handle: (ctx: RouteContext, auth: { token?: string }) => RouteResult;
}

const data = (value: Record<string, unknown>): RouteResult => ({ status: 200, body: { data: value } });
const noContent: RouteResult = { status: 204 };
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

type BatchItem = Record<string, unknown>;

/** Runs one operation per batch item; like Vault, any failed item makes the whole answer a 400. */
function runBatch(items: BatchItem[], operation: (item: BatchItem) => Record<string, unknown>): RouteResult {
  let failed = false;
  const results = items.map((item) => {
    try {
      return operation(item);
    } catch (error) {
      if (!(error instanceof VaultHttpError)) throw error;
      failed = true;
      return { error: error.message };
    }
  });
  return { status: failed ? 400 : 200, body: { data: { batch_results: results } } };
}

function batchOrSingle(
  ctx: RouteContext,
  required: string,
  operation: (item: BatchItem) => Record<string, unknown>,
): RouteResult {
  const batch = ctx.body.batch_input;
  if (Array.isArray(batch)) {
    if (batch.length === 0) throw new VaultHttpError(400, 'missing batch input to process');
    return runBatch(batch as BatchItem[], operation);
  }
  if (ctx.body[required] === undefined) throw new VaultHttpError(400, `missing ${required}`);
  return data(operation(ctx.body));
}

const cryptoFields: Record<string, FieldType> = {
  context: 'string',
  key_version: 'integer',
  nonce: 'string',
  batch_input: 'array',
};

/** The transit routes of one mount. */
export function transitRoutes(transit: TransitEngine): Route[] {
  const keyCapability = (ctx: RouteContext) => (transit.has(ctx.params.name ?? '') ? 'update' : 'create');
  return [
    {
      method: 'LIST',
      template: '/{transit_mount_path}/keys/',
      capability: () => 'list',
      handle: () => {
        const keys = transit.list();
        if (keys.length === 0) return { status: 404, body: { errors: [] } };
        return data({ keys });
      },
    },
    {
      method: 'GET',
      template: '/{transit_mount_path}/keys/{name}',
      capability: () => 'read',
      handle: (ctx) => data(transit.describe(ctx.params.name ?? '')),
    },
    {
      method: 'POST',
      template: '/{transit_mount_path}/keys/{name}',
      fields: {
        type: 'string',
        derived: 'boolean',
        exportable: 'boolean',
        allow_plaintext_backup: 'boolean',
      },
      capability: keyCapability,
      handle: (ctx) => {
        const name = ctx.params.name ?? '';
        transit.create(name, ctx.body);
        return data(transit.describe(name));
      },
    },
    {
      method: 'DELETE',
      template: '/{transit_mount_path}/keys/{name}',
      capability: () => 'delete',
      handle: (ctx) => {
        transit.delete(ctx.params.name ?? '');
        return noContent;
      },
    },
    {
      method: 'POST',
      template: '/{transit_mount_path}/keys/{name}/config',
      fields: {
        min_decryption_version: 'integer',
        min_encryption_version: 'integer',
        deletion_allowed: 'boolean',
        exportable: 'boolean',
        allow_plaintext_backup: 'boolean',
      },
      capability: () => 'update',
      handle: (ctx) => {
        transit.configure(ctx.params.name ?? '', ctx.body);
        return data(transit.describe(ctx.params.name ?? ''));
      },
    },
    {
      method: 'POST',
      template: '/{transit_mount_path}/keys/{name}/rotate',
      fields: {},
      capability: () => 'update',
      handle: (ctx) => {
        transit.rotate(ctx.params.name ?? '');
        return data(transit.describe(ctx.params.name ?? ''));
      },
    },
    {
      method: 'POST',
      template: '/{transit_mount_path}/encrypt/{name}',
      fields: { ...cryptoFields, plaintext: 'string', type: 'string' },
      capability: keyCapability,
      handle: (ctx) => {
        const name = ctx.params.name ?? '';
        if (!transit.has(name)) transit.create(name, { type: str(ctx.body.type) });
        return batchOrSingle(ctx, 'plaintext', (item) =>
          transit.encrypt(name, str(item.plaintext) ?? '', str(item.context), num(item.key_version)),
        );
      },
    },
    {
      method: 'POST',
      template: '/{transit_mount_path}/hmac/{name}',
      fields: { input: 'string', key_version: 'integer', algorithm: 'string', batch_input: 'array' },
      capability: () => 'update',
      handle: (ctx) => {
        const name = ctx.params.name ?? '';
        if (!transit.has(name)) throw new VaultHttpError(400, 'encryption key not found');
        const algorithm = str(ctx.body.algorithm) ?? 'sha2-256';
        if (algorithm !== 'sha2-256') throw new VaultHttpError(400, `unsupported algorithm "${algorithm}"`);
        const version = num(ctx.body.key_version);
        const batch = ctx.body.batch_input;
        if (Array.isArray(batch)) {
          if (batch.length === 0) throw new VaultHttpError(400, 'missing batch input to process');
          return runBatch(batch as BatchItem[], (item) => {
            if (item.input === undefined) throw new VaultHttpError(400, 'missing input for HMAC');
            return transit.hmac(name, str(item.input) ?? '', version);
          });
        }
        if (ctx.body.input === undefined) throw new VaultHttpError(400, 'missing input for HMAC');
        return data(transit.hmac(name, str(ctx.body.input) ?? '', version));
      },
    },
    {
      method: 'POST',
      template: '/{transit_mount_path}/decrypt/{name}',
      fields: { context: 'string', nonce: 'string', batch_input: 'array', ciphertext: 'string' },
      capability: () => 'update',
      handle: (ctx) =>
        batchOrSingle(ctx, 'ciphertext', (item) => {
          const { plaintext } = transit.decrypt(
            ctx.params.name ?? '',
            str(item.ciphertext) ?? '',
            str(item.context),
          );
          return { plaintext };
        }),
    },
    {
      method: 'POST',
      template: '/{transit_mount_path}/rewrap/{name}',
      fields: { ...cryptoFields, ciphertext: 'string' },
      capability: () => 'update',
      handle: (ctx) =>
        batchOrSingle(ctx, 'ciphertext', (item) =>
          transit.rewrap(
            ctx.params.name ?? '',
            str(item.ciphertext) ?? '',
            str(item.context),
            num(item.key_version),
          ),
        ),
    },
    {
      method: 'POST',
      template: '/{transit_mount_path}/datakey/{plaintext}/{name}',
      fields: { bits: 'integer', context: 'string', key_version: 'integer', nonce: 'string' },
      capability: () => 'update',
      handle: (ctx) =>
        data(
          transit.datakey(
            ctx.params.name ?? '',
            ctx.params.plaintext ?? '',
            num(ctx.body.bits) ?? 256,
            str(ctx.body.context),
          ),
        ),
    },
    {
      method: 'GET',
      template: '/{transit_mount_path}/backup/{name}',
      capability: () => 'read',
      handle: (ctx) => data({ backup: transit.backup(ctx.params.name ?? '') }),
    },
    ...(['/{transit_mount_path}/restore', '/{transit_mount_path}/restore/{name}'] as const).map(
      (template): Route => ({
        method: 'POST',
        template,
        fields: { backup: 'string', force: 'boolean' },
        capability: () => 'update',
        handle: (ctx) => {
          const backup = str(ctx.body.backup);
          if (!backup) throw new VaultHttpError(400, "'backup' must be supplied");
          transit.restore(backup, ctx.params.name, ctx.body.force === true);
          return noContent;
        },
      }),
    ),
  ];
}

/** AppRole login and the token self-service routes. */
export function authRoutes(auth: AuthStore): Route[] {
  const tokenOf = (given: { token?: string }) => auth.authenticate(given.token);
  return [
    {
      method: 'POST',
      template: '/auth/{approle_mount_path}/login',
      fields: { role_id: 'string', secret_id: 'string' },
      unauthenticated: true,
      capability: () => 'update',
      handle: (ctx) => ({ status: 200, body: auth.login(ctx.body.role_id, ctx.body.secret_id) }),
    },
    {
      method: 'GET',
      template: '/auth/token/lookup-self',
      capability: () => 'read',
      handle: (_ctx, given) => ({ status: 200, body: auth.lookup(tokenOf(given)) }),
    },
    {
      method: 'POST',
      template: '/auth/token/renew-self',
      fields: { increment: 'duration', token: 'string' },
      capability: () => 'update',
      handle: (ctx, given) => ({ status: 200, body: auth.renew(tokenOf(given), num(ctx.body.increment)) }),
    },
  ];
}
