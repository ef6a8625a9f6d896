import type { DoubleContext } from './context.js';
import { lookupCodes } from './lookup.js';
import { hasSecondFactor } from './identity.js';
import type { StoredFlow, StoredIdentity } from './state.js';
import {
  csrfNode,
  imageNode,
  inputNode,
  submitNode,
  textNode,
  texts,
  type UiNode,
  type UiText,
} from './ui.js';

/** The `ui.nodes` of a flow in its current state, as Kratos' strategies would hydrate them. */
export function nodesFor(
  ctx: DoubleContext,
  flow: StoredFlow,
  identity: StoredIdentity | undefined,
): UiNode[] {
  const csrf = csrfNode(flow.csrfToken);
  switch (flow.kind) {
    case 'login':
      return loginNodes(ctx, flow, identity, csrf);
    case 'registration':
      // Kratos v1.3 registers in two steps: the profile first, the password once it is chosen
      // (a submission that failed on the password shows it again with its message).
      return [
        ...providerNodes(ctx, flow, undefined),
        csrf,
        ...traitNodes(ctx, undefined, true),
        ...(flow.nodeMessages.password ? registrationPasswordNodes() : [profileSubmitNode()]),
      ];
    case 'recovery':
      return codeFlowNodes(flow, csrf, texts.recoveryCode());
    case 'verification':
      // Kratos renders API verification flows without a CSRF token node.
      return codeFlowNodes(flow, csrf, texts.verificationCode()).filter(
        (node) =>
          flow.type !== 'api' || node !== csrf || (flow.postHook && flow.state === 'passed_challenge'),
      );
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
  if (flow.active === 'code' && flow.state !== 'choose_method') return loginCodeNodes(flow, csrf);
  const nodes = firstFactorNodes(ctx, flow, identity, csrf);
  const all = [...providerNodes(ctx, flow, identity), ...nodes];
  return flow.linking ? accountLinkingNodes(all, flow) : all;
}

/**
 * One submit node per configured provider, ordered by id, in front of the others (Kratos sorts
 * the oidc group first); a refresh offers only the identity's own providers.
 */
function providerNodes(ctx: DoubleContext, flow: StoredFlow, identity: StoredIdentity | undefined): UiNode[] {
  let providers = ctx.oidcProviders;
  if (flow.refresh && identity) {
    const linked = (identity.credentials.oidc?.config.providers ?? []) as { provider?: string }[];
    providers = providers.filter((p) => linked.some((l) => l.provider === p.id));
  }
  return [...providers]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((p) =>
      submitNode(
        'oidc',
        'provider',
        p.id,
        flow.kind === 'registration'
          ? texts.signUpWith(p.label || p.id, p.id)
          : texts.signInWith(p.label || p.id, p.id),
      ),
    );
}

/**
 * The login flow Kratos makes for linking a social account to the account that owns its
 * e-mail (oidc strategy's populateAccountLinkingUI): the provider just used is left out, the
 * other sign-in buttons say "and link", and the identifier is the duplicate one, hidden.
 */
function accountLinkingNodes(nodes: UiNode[], flow: StoredFlow): UiNode[] {
  const linking = flow.linking;
  if (!linking) return nodes;
  return nodes
    .filter((node) => !(node.group === 'oidc' && node.attributes.value === linking.provider))
    .map((node) => {
      if (node.attributes.name === 'identifier' && node.group === 'default') {
        return {
          ...node,
          attributes: { ...node.attributes, type: 'hidden', value: linking.duplicateIdentifier },
        };
      }
      const label = node.meta.label;
      if (node.group === 'default' || !label) return node;
      if (label.id === 1010001) return { ...node, meta: { label: texts.signInAndLink() } };
      if (label.id === 1010002) {
        const provider = String(label.context?.provider ?? '');
        return { ...node, meta: { label: texts.confirmWithAndLink(provider) } };
      }
      return node;
    });
}

function firstFactorNodes(
  ctx: DoubleContext,
  flow: StoredFlow,
  identity: StoredIdentity | undefined,
  csrf: UiNode,
): UiNode[] {
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

/** A login flow waiting for its e-mailed code (Kratos' answer to the sending submission has no CSRF node). */
function loginCodeNodes(flow: StoredFlow, csrf: UiNode): UiNode[] {
  const identifier = inputNode({
    group: 'default',
    name: 'identifier',
    type: 'hidden',
    value: flow.code?.address ?? '',
    required: true,
    label: texts.generated('E-mail'),
  });
  const code = inputNode({
    group: 'code',
    name: 'code',
    type: 'text',
    required: true,
    label: texts.loginCodeLabel(),
  });
  const method = inputNode({ group: 'code', name: 'method', type: 'hidden', value: 'code' });
  const submit = submitNode('code', 'method', 'code', texts.continue());
  const resend = submitNode('code', 'resend', 'code', texts.resendCode());
  if (flow.codeJustSent) return [identifier, method, code, submit, resend];
  return [csrf, identifier, code, resend, method, submit];
}

function secondFactorNodes(identity: StoredIdentity, csrf: UiNode): UiNode[] {
  // With no second factor to offer, Kratos renders no node at all (message 1010004 only).
  if (!hasSecondFactor(identity)) return [];
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
    // Kratos types and autocompletes `email` and `tel` traits by their format (ui/node/attributes_input.go).
    const byFormat = field.format === 'email' || field.format === 'tel' ? field.format : undefined;
    return inputNode({
      group: registration ? 'password' : 'profile',
      name: field.name,
      type: byFormat ?? inputType(field.type),
      value,
      required: isEmail || undefined,
      autocomplete: byFormat,
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

/** The profile step's submit button (Kratos' two-step registration). */
function profileSubmitNode(): UiNode {
  return submitNode('profile', 'method', 'profile', texts.signUp());
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

function codeFlowNodes(flow: StoredFlow, csrf: UiNode, codeLabel: UiText): UiNode[] {
  if (flow.state === 'passed_challenge') return [csrf];
  if (flow.state === 'sent_email') {
    return [
      csrf,
      inputNode({ group: 'code', name: 'code', type: 'text', required: true, label: codeLabel }),
      inputNode({ group: 'code', name: 'method', type: 'hidden', value: 'code' }),
      submitNode('code', 'method', 'code', texts.continue()),
      ...(flow.postHook ? [] : [submitNode('code', 'email', flow.code?.address ?? '', texts.resendCode())]),
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
