import type { HookFlow, WebHookSettings } from './config.js';
import type { DoubleContext } from './context.js';
import { errors } from './errors.js';
import { identityJson, syncAddresses } from './identity.js';
import type { StoredFlow, StoredIdentity, StoredSession } from './state.js';
import { sessionAal } from './sessions.js';
import type { UiText } from './ui.js';

/** Kratos' error format for a web hook that interrupts a flow. */
interface HookMessages {
  messages?: { instance_ptr?: string; messages?: UiText[] }[];
}

const TIMEOUT_MS = 5000;

/** Kratos' placeholder id of an identity that is not stored yet (uuid.Nil). */
export const NIL_IDENTITY_ID = '00000000-0000-0000-0000-000000000000';

/**
 * When a web hook runs, as in Kratos v1.3.1 (selfservice/flow/registration/hook.go): a hook
 * that may change the identity (`response.parse`) runs before the identity is stored, so it
 * sees the nil id; every other hook runs after, with the stored identity.
 */
export type HookPhase = 'pre-persist' | 'post-persist';

/**
 * Runs the `web_hook` after-hooks of a flow, as kratos/kratos.yml configures them and with the
 * bodies kratos/webhooks/<hook>.jsonnet renders. Registration runs them in two phases (see
 * HookPhase); the other flows run them all at once. With `response.ignore` the delivery runs
 * in the background and never affects the flow; otherwise a 4xx answer with `messages`
 * interrupts the flow (400 with the messages on the flow), any other failure fails it (500),
 * and with `response.parse` the answer's `identity` fields are applied to the identity.
 */
export async function runWebHook(
  ctx: DoubleContext,
  flowKind: HookFlow,
  flow: StoredFlow,
  identity: StoredIdentity,
  session?: StoredSession,
  phase?: HookPhase,
): Promise<void> {
  const hooks = (ctx.config.webHooks[flowKind] ?? []).filter(
    (hook) => phase === undefined || (phase === 'pre-persist') === hook.parse,
  );
  for (const settings of hooks) await runOne(ctx, settings, flow, identity, session, phase);
}

async function runOne(
  ctx: DoubleContext,
  settings: WebHookSettings,
  flow: StoredFlow,
  identity: StoredIdentity,
  session: StoredSession | undefined,
  phase: HookPhase | undefined,
): Promise<void> {
  const url = ctx.webhookUrl?.(settings.name);
  if (!url) return;
  const body = hookBody(ctx, settings.name, flow, identity, session);
  if (phase === 'pre-persist') (body.identity as Record<string, unknown>).id = NIL_IDENTITY_ID;
  const delivery = deliver(ctx, settings.name, url, settings.apiKeyHeader, body);
  if (settings.ignore) {
    delivery.catch(() => undefined);
    return;
  }
  const response = await delivery.catch(() => undefined);
  if (!response) throw errors.internal('A web hook could not be delivered.');
  // Kratos lets a web hook interrupt a flow only when it parses the answer (or may interrupt).
  if (
    settings.parse &&
    response.status >= 400 &&
    response.status < 500 &&
    applyInterruption(flow, response.body)
  ) {
    throw new FlowInterrupted();
  }
  if (response.status >= 300) throw errors.internal(`A web hook answered with status ${response.status}.`);
  if (settings.parse) applyIdentityUpdate(ctx, identity, response.body);
}

/** Thrown when a web hook interrupted the flow: the handler answers 400 with the flow. */
export class FlowInterrupted extends Error {
  constructor() {
    super('flow interrupted by a web hook');
  }
}

function hookBody(
  ctx: DoubleContext,
  hookName: string,
  flow: StoredFlow,
  identity: StoredIdentity,
  session?: StoredSession,
): Record<string, unknown> {
  // The jsonnet context's identity carries neither credentials nor metadata_admin.
  const identityBody = identityJson(identity, ctx.publicUrl, { admin: false });
  const body: Record<string, unknown> = {
    identity: identityBody,
    flow_id: flow.id,
    flow_type: flow.type,
    event: hookName,
  };
  if (hookName === 'after-login')
    body.session = session ? { id: session.id, aal: sessionAal(session) } : null;
  return body;
}

async function deliver(
  ctx: DoubleContext,
  hookName: string,
  url: string,
  header: string,
  body: unknown,
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (ctx.webhookApiKey) headers[header] = ctx.webhookApiKey;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await response.text();
    ctx.state.webhookDeliveries.push({ hook: hookName, url, status: response.status, body });
    return { status: response.status, body: parseJson(text) };
  } catch (error) {
    ctx.state.webhookDeliveries.push({ hook: hookName, url, status: 'error', body });
    throw error;
  }
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** Puts the hook's messages on the flow; false when the answer carried none. */
function applyInterruption(flow: StoredFlow, body: unknown): boolean {
  const groups = (body as HookMessages | undefined)?.messages;
  if (!Array.isArray(groups) || groups.length === 0) return false;
  for (const group of groups) {
    const node = (group.instance_ptr ?? '#').replace(/^#\/?/, '').split('/').filter(Boolean).join('.');
    const messages = (group.messages ?? []).filter(
      (m) => typeof m?.id === 'number' && typeof m.text === 'string',
    );
    if (node) flow.nodeMessages[node] = [...(flow.nodeMessages[node] ?? []), ...messages];
    else flow.messages.push(...messages);
  }
  return true;
}

/**
 * Applies `{ identity: { traits, verifiable_addresses, metadata_public, metadata_admin, state } }`
 * from a parsed hook answer. Addresses follow the traits; a hook may mark them verified.
 */
function applyIdentityUpdate(ctx: DoubleContext, identity: StoredIdentity, body: unknown): void {
  const update = (body as { identity?: Record<string, unknown> } | undefined)?.identity;
  if (!update || typeof update !== 'object') return;
  if (update.traits && typeof update.traits === 'object') {
    if (ctx.schema.check(update.traits).length > 0)
      throw errors.internal('A web hook returned invalid traits.');
    identity.traits = update.traits as Record<string, unknown>;
    syncAddresses(identity, ctx.schema, ctx.now());
  }
  applyVerifiedFlags(ctx, identity, update.verifiable_addresses);
  if ('metadata_public' in update) identity.metadataPublic = update.metadata_public;
  if ('metadata_admin' in update) identity.metadataAdmin = update.metadata_admin;
  if (update.state === 'active' || update.state === 'inactive') identity.state = update.state;
  identity.updatedAt = ctx.now();
}

function applyVerifiedFlags(ctx: DoubleContext, identity: StoredIdentity, addresses: unknown): void {
  if (!Array.isArray(addresses)) return;
  for (const update of addresses as { value?: unknown; verified?: unknown }[]) {
    const address = identity.verifiableAddresses.find(
      (a) => a.value === String(update?.value ?? '').toLowerCase(),
    );
    if (!address || typeof update.verified !== 'boolean') continue;
    const now = ctx.now();
    Object.assign(address, {
      verified: update.verified,
      status: update.verified ? 'completed' : 'pending',
      verifiedAt: update.verified ? now : undefined,
      updatedAt: now,
    });
  }
}
