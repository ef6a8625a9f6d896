import type { Request } from 'express';
import type { DoubleContext } from './context.js';
import { errors } from './errors.js';
import { checkReturnTo } from './http.js';
import { identityJson } from './identity.js';
import { nodesFor } from './nodes.js';
import { isSessionActive } from './sessions.js';
import { iso, newId, randomString, type FlowKind, type StoredFlow, type StoredIdentity } from './state.js';
import type { UiContainer, UiNode } from './ui.js';

/** Where a flow was started from: the request URL (path and query) and its `return_to`. */
export interface FlowOrigin {
  path: string;
  returnTo?: string;
}

/** The origin of a flow started by this request. */
export function originOf(req: Request): FlowOrigin {
  return {
    path: req.originalUrl,
    returnTo: typeof req.query.return_to === 'string' ? req.query.return_to : undefined,
  };
}

/** Starts a flow of `kind`; API flows carry an empty CSRF token, browser flows a real one. */
export function createFlow(
  ctx: DoubleContext,
  kind: FlowKind,
  type: 'api' | 'browser',
  origin: FlowOrigin,
  extra: Partial<StoredFlow> = {},
): StoredFlow {
  // Kratos checks the return_to of every new flow against its allow list.
  if (origin.returnTo !== undefined) checkReturnTo(ctx, origin.returnTo);
  const now = ctx.now();
  const flow: StoredFlow = {
    id: newId(),
    kind,
    type,
    issuedAt: now,
    expiresAt: now + ctx.config.lifespans[kind],
    requestUrl: `${ctx.publicUrl}${origin.path}`,
    returnTo: origin.returnTo,
    state: initialState(kind),
    csrfToken: type === 'browser' ? randomString(64) : '',
    messages: [],
    nodeMessages: {},
    values: {},
    failedAttempts: 0,
    ...extra,
  };
  ctx.state.flows.set(flow.id, flow);
  return flow;
}

function initialState(kind: FlowKind): string {
  if (kind === 'settings') return 'show_form';
  return 'choose_method';
}

/** Loads a flow for an update: 404 when unknown, 410 `self_service_flow_expired` when too old. */
export function loadFlow(ctx: DoubleContext, kind: FlowKind, id: unknown): StoredFlow {
  const flow = typeof id === 'string' ? ctx.state.flows.get(id) : undefined;
  if (!flow || flow.kind !== kind)
    throw errors.notFound('The flow could not be found. It may have been removed.');
  const now = ctx.now();
  if (flow.expiresAt <= now) {
    const replacement =
      kind === 'settings'
        ? undefined
        : createFlow(ctx, kind, flow.type, { path: `/self-service/${kind}/${flow.type}` });
    throw errors.flowExpired(flow.expiresAt, now, replacement?.id);
  }
  return flow;
}

/** Forgets messages and echoed values of the last submission before evaluating a new one. */
export function resetFeedback(flow: StoredFlow): void {
  flow.messages = [];
  flow.nodeMessages = {};
  flow.values = {};
}

/** The flow as Kratos serialises it for its kind. */
export function flowJson(ctx: DoubleContext, flow: StoredFlow): Record<string, unknown> {
  const identity = flow.identityId ? ctx.state.identities.get(flow.identityId) : undefined;
  const base: Record<string, unknown> = {
    id: flow.id,
    type: flow.type,
    expires_at: iso(flow.expiresAt),
    issued_at: iso(flow.issuedAt),
    request_url: flow.requestUrl,
    ...(flow.returnTo ? { return_to: flow.returnTo } : {}),
    // Kratos shows the active method on code flows only (registration and password login leave it out).
    ...(flow.kind === 'recovery' || flow.kind === 'verification' ? { active: flow.active ?? 'code' } : {}),
    ...(flow.kind === 'login' && (flow.active === 'code' || flow.active === 'oidc')
      ? { active: flow.active }
      : {}),
    ...(flow.transientPayload ? { transient_payload: flow.transientPayload } : {}),
    ui: renderUi(ctx, flow, identity),
    state: flow.state,
  };
  if (flow.kind === 'login' || flow.kind === 'registration') base.organization_id = null;
  if (flow.kind === 'login') {
    Object.assign(base, {
      created_at: iso(flow.issuedAt),
      updated_at: iso(flow.issuedAt),
      refresh: flow.refresh ?? false,
      requested_aal: flow.requestedAal ?? 'aal1',
    });
  }
  if (flow.kind === 'settings' && identity)
    base.identity = identityJson(identity, ctx.publicUrl, { admin: false });
  if (flow.continueWith) base.continue_with = flow.continueWith;
  return base;
}

function renderUi(ctx: DoubleContext, flow: StoredFlow, identity: StoredIdentity | undefined): UiContainer {
  const nodes = nodesFor(ctx, flow, identity).map((node) => withFeedback(node, flow));
  const ui: UiContainer = {
    action: `${ctx.publicUrl}/self-service/${flow.kind}?flow=${flow.id}`,
    method: 'POST',
    nodes,
  };
  if (flow.messages.length > 0) ui.messages = flow.messages;
  return ui;
}

function withFeedback(node: UiNode, flow: StoredFlow): UiNode {
  const name = node.attributes.name;
  if (typeof name !== 'string' || node.attributes.type === 'submit' || node.attributes.type === 'hidden')
    return node;
  const value = flow.values[name];
  const attributes =
    value !== undefined && name !== 'password' ? { ...node.attributes, value } : node.attributes;
  return { ...node, attributes: orderAttributes(attributes), messages: flow.nodeMessages[name] ?? [] };
}

/** Keeps Kratos' attribute order (name, type, value, required, …) after a value was added. */
function orderAttributes(attributes: Record<string, unknown>): Record<string, unknown> {
  const order = ['name', 'type', 'value', 'required', 'autocomplete', 'disabled', 'node_type'];
  return Object.fromEntries(
    Object.entries(attributes).sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)),
  );
}

/** Settings flows belong to one session; another session's token may not read or update them. */
export function assertFlowSession(ctx: DoubleContext, flow: StoredFlow, sessionId: string): void {
  const owner = flow.sessionId ? ctx.state.sessions.get(flow.sessionId) : undefined;
  if (!owner || !isSessionActive(ctx, owner)) throw errors.noSession();
  if (owner.id !== sessionId) throw errors.identityMismatch();
}
