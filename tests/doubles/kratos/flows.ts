import type { Request } from 'express';
import type { DoubleContext } from './context.js';
import { errors } from './errors.js';
import { identityJson } from './identity.js';
import { lookupCodes } from './lookup.js';
import { isSessionActive } from './sessions.js';
import { iso, newId, randomString, type FlowKind, type StoredFlow, type StoredIdentity } from './state.js';
import {
  csrfNode,
  imageNode,
  inputNode,
  submitNode,
  textNode,
  texts,
  type UiContainer,
  type UiNode,
} from './ui.js';

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
    ...(flow.active ? { active: flow.active } : {}),
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

function nodesFor(ctx: DoubleContext, flow: StoredFlow, identity: StoredIdentity | undefined): UiNode[] {
  const csrf = csrfNode(flow.csrfToken);
  switch (flow.kind) {
    case 'login':
      return loginNodes(ctx, flow, identity, csrf);
    case 'registration':
      return [csrf, ...traitNodes(ctx, undefined, true), ...registrationPasswordNodes()];
    case 'recovery':
      return codeFlowNodes(flow, csrf, texts.recoveryCode());
    case 'verification':
      return codeFlowNodes(flow, csrf, texts.verificationCode());
    case 'settings':
      return identity ? settingsNodes(ctx, flow, identity, csrf) : [csrf];
  }
}

function loginNodes(
  ctx: DoubleContext,
  flow: StoredFlow,
  identity: StoredIdentity | undefined,
  csrf: UiNode,
): UiNode[] {
  if (flow.requestedAal === 'aal2' && identity) return secondFactorNodes(identity, csrf);
  const password = inputNode({
    group: 'password',
    name: 'password',
    type: 'password',
    required: true,
    autocomplete: 'current-password',
    label: texts.password(),
  });
  if (flow.refresh && identity) {
    const identifier = ctx.schema.identifiers(identity.traits, 'password')[0] ?? '';
    return [
      csrf,
      inputNode({ group: 'default', name: 'identifier', type: 'hidden', value: identifier }),
      password,
      submitNode('password', 'method', 'password', texts.signIn()),
    ];
  }
  return [
    inputNode({
      group: 'default',
      name: 'identifier',
      type: 'text',
      value: '',
      required: true,
      label: texts.id(),
    }),
    csrf,
    password,
    submitNode('password', 'method', 'password', texts.signInWithPassword()),
  ];
}

function secondFactorNodes(identity: StoredIdentity, csrf: UiNode): UiNode[] {
  const nodes = [csrf];
  if (identity.credentials.totp) {
    nodes.push(
      inputNode({
        group: 'totp',
        name: 'totp_code',
        type: 'text',
        value: '',
        required: true,
        label: texts.totpLabel(),
      }),
      submitNode('totp', 'method', 'totp', texts.useAuthenticator()),
    );
  }
  if (lookupCodes(identity).length > 0) {
    nodes.push(
      inputNode({
        group: 'lookup_secret',
        name: 'lookup_secret',
        type: 'text',
        value: '',
        required: true,
        label: texts.lookupLabel(),
      }),
      submitNode('lookup_secret', 'method', 'lookup_secret', texts.useLookup()),
    );
  }
  return nodes;
}

/** One input per trait of the identity schema, valued from the identity when given. */
function traitNodes(
  ctx: DoubleContext,
  identity: StoredIdentity | undefined,
  registration: boolean,
): UiNode[] {
  return ctx.schema.traitFields().map((field) => {
    const value = identity ? valueAt(identity.traits, field.name.split('.').slice(1)) : undefined;
    const isEmail = field.format === 'email';
    return inputNode({
      group: registration ? 'password' : 'profile',
      name: field.name,
      type: isEmail ? 'email' : inputType(field.type),
      value,
      required: isEmail || undefined,
      autocomplete: isEmail ? 'email' : undefined,
      label: field.title ? texts.generated(field.title) : undefined,
    });
  });
}

function inputType(jsonType: string): string {
  if (jsonType === 'number' || jsonType === 'integer') return 'number';
  return jsonType === 'boolean' ? 'checkbox' : 'text';
}

function valueAt(value: unknown, path: string[]): unknown {
  return path.reduce<unknown>(
    (current, key) =>
      current && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined,
    value,
  );
}

function registrationPasswordNodes(): UiNode[] {
  return [
    inputNode({
      group: 'password',
      name: 'password',
      type: 'password',
      required: true,
      autocomplete: 'new-password',
      label: texts.password(),
    }),
    submitNode('password', 'method', 'password', texts.signUp()),
  ];
}

function codeFlowNodes(
  flow: StoredFlow,
  csrf: UiNode,
  codeLabel: ReturnType<typeof texts.recoveryCode>,
): UiNode[] {
  if (flow.state === 'passed_challenge') return [csrf];
  if (flow.state === 'sent_email') {
    return [
      csrf,
      inputNode({ group: 'code', name: 'code', type: 'text', required: true, label: codeLabel }),
      inputNode({ group: 'code', name: 'method', type: 'hidden', value: 'code' }),
      submitNode('code', 'method', 'code', texts.continue()),
      submitNode('code', 'email', flow.code?.address ?? '', texts.resendCode()),
    ];
  }
  return [
    csrf,
    inputNode({ group: 'code', name: 'email', type: 'email', required: true, label: texts.email() }),
    submitNode('code', 'method', 'code', texts.continue()),
  ];
}

function settingsNodes(
  ctx: DoubleContext,
  flow: StoredFlow,
  identity: StoredIdentity,
  csrf: UiNode,
): UiNode[] {
  return [
    csrf,
    ...traitNodes(ctx, identity, false),
    submitNode('profile', 'method', 'profile', texts.save()),
    inputNode({
      group: 'password',
      name: 'password',
      type: 'password',
      required: true,
      autocomplete: 'new-password',
      label: texts.password(),
    }),
    submitNode('password', 'method', 'password', texts.save()),
    ...totpSettingsNodes(flow, identity),
    ...lookupSettingsNodes(ctx, flow, identity),
  ];
}

function totpSettingsNodes(flow: StoredFlow, identity: StoredIdentity): UiNode[] {
  if (identity.credentials.totp) {
    return [
      inputNode({
        group: 'totp',
        name: 'totp_unlink',
        type: 'submit',
        value: 'true',
        required: true,
        label: texts.unlinkTotp(),
      }),
    ];
  }
  if (!flow.totpSecret) return [];
  return [
    imageNode('totp', 'totp_qr', flow.totpQr ?? '', texts.totpQr()),
    textNode('totp', 'totp_secret_key', texts.totpSecret(flow.totpSecret), texts.totpSecretLabel()),
    inputNode({ group: 'totp', name: 'totp_code', type: 'text', required: true, label: texts.verifyCode() }),
    submitNode('totp', 'method', 'totp', texts.save()),
  ];
}

function lookupSettingsNodes(ctx: DoubleContext, flow: StoredFlow, identity: StoredIdentity): UiNode[] {
  const regenerate = submitNode(
    'lookup_secret',
    'lookup_secret_regenerate',
    'true',
    texts.regenerateLookup(),
  );
  const disable = submitNode('lookup_secret', 'lookup_secret_disable', 'true', texts.disableLookup());
  if (flow.pendingLookupCodes) {
    const pending = flow.pendingLookupCodes.map((code) => ({ code }));
    return [
      codesNode(pending),
      regenerate,
      submitNode('lookup_secret', 'lookup_secret_confirm', 'true', texts.confirmLookup()),
    ];
  }
  const stored = lookupCodes(identity);
  if (stored.length === 0) return [regenerate];
  if (flow.revealLookupCodes) return [codesNode(stored), disable, regenerate];
  return [submitNode('lookup_secret', 'lookup_secret_reveal', 'true', texts.revealLookup()), disable];
}

function codesNode(codes: { code: string; usedAt?: number }[]): UiNode {
  const secrets = codes.map((c) => (c.usedAt ? texts.lookupUsed(c.usedAt) : texts.lookupSecret(c.code)));
  const text = codes.map((c) => (c.usedAt ? 'used' : c.code)).join(', ');
  return textNode(
    'lookup_secret',
    'lookup_secret_codes',
    texts.lookupList(text, secrets),
    texts.lookupSecretLabel(),
  );
}

/** Settings flows belong to one session; another session's token may not read or update them. */
export function assertFlowSession(ctx: DoubleContext, flow: StoredFlow, sessionId: string): void {
  const owner = flow.sessionId ? ctx.state.sessions.get(flow.sessionId) : undefined;
  if (!owner || !isSessionActive(ctx, owner)) throw errors.noSession();
  if (owner.id !== sessionId) throw errors.identityMismatch();
}
