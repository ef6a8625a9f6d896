/**
 * Lists the Vault calls gateway/src/keys/vault-client.ts makes by reading its source, so
 * the policy tests follow the code instead of a hand-kept list.
 */

/** What a call needs from an ACL policy; `none` for Vault's unauthenticated endpoints. */
export type Capability = 'read' | 'update' | 'create' | 'none';

export interface VaultCall {
  /** The client operation the call belongs to (`generateDataKey`, `login`, ...). */
  operation: string;
  /** Vault path without `/v1/`, with the configured mount and key filled in. */
  path: string;
  capability: Capability;
}

/** node-vault's named commands: their paths live in node-vault, not in our source. */
const NODE_VAULT_COMMANDS: Record<string, { path: string; capability: Capability }> = {
  approleLogin: { path: 'auth/approle/login', capability: 'none' },
  tokenRenewSelf: { path: 'auth/token/renew-self', capability: 'update' },
  tokenLookupSelf: { path: 'auth/token/lookup-self', capability: 'read' },
  health: { path: 'sys/health', capability: 'none' },
};

const UNAUTHENTICATED = new Set(['sys/health', 'auth/approle/login']);

/** Splits the source at each `async name(` / `function name(` so every call has an owner. */
function operationBlocks(source: string): { operation: string; body: string }[] {
  const starts = [...source.matchAll(/(?:async\s+|function\s+)(\w+)\s*\(/g)];
  return starts.map((match, i) => ({
    operation: match[1] ?? '',
    body: source.slice(match.index, starts[i + 1]?.index ?? source.length),
  }));
}

function fillTemplate(template: string, mount: string, key: string): string {
  return template.replace(/\$\{([^}]+)\}/g, (whole, expression: string) => {
    if (/^mount$/.test(expression.trim())) return mount;
    if (/name$/i.test(expression.trim())) return key;
    throw new Error(`unrecognised expression ${whole} in a Vault path of vault-client.ts`);
  });
}

function capabilityOf(body: string, path: string, mount: string, key: string): Capability {
  if (UNAUTHENTICATED.has(path)) return 'none';
  // Writing the key's own path creates it: Vault asks for `create` on a path that does not exist.
  // node-vault's client.write/client.read, directly or through the client's write/read helpers.
  const writes = /\bwrite\(/.test(body);
  if (writes && path === `${mount}/keys/${key}`) return 'create';
  if (writes) return 'update';
  if (/\bread\(/.test(body)) return 'read';
  throw new Error(`cannot tell how ${path} is called`);
}

/** Every Vault call in the client source, with the mount and key names filled in. */
export function scanVaultCalls(source: string, mount: string, key: string): VaultCall[] {
  const calls: VaultCall[] = [];
  for (const { operation, body } of operationBlocks(source)) {
    for (const match of body.matchAll(/`\$\{mount\}\/([^`]+)`/g)) {
      const path = fillTemplate(`${mount}/${match[1] ?? ''}`, mount, key);
      calls.push({ operation, path, capability: capabilityOf(body, path, mount, key) });
    }
    for (const match of body.matchAll(/\/v1\/([a-z0-9/_-]+)`/g)) {
      const path = match[1] ?? '';
      calls.push({ operation, path, capability: capabilityOf(body, path, mount, key) });
    }
    for (const match of body.matchAll(/client\s*\.(\w+)\(/g)) {
      const command = NODE_VAULT_COMMANDS[match[1] ?? ''];
      if (command) calls.push({ operation, ...command });
    }
  }
  return calls;
}
