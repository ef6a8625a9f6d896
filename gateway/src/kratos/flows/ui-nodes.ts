import type { UiContainer } from '@ory/kratos-client-fetch';

interface TextContext {
  secret?: string;
  secrets?: { text?: string; context?: { secret?: string } }[];
}

interface LooseNode {
  attributes?: {
    id?: string;
    node_type?: string;
    src?: string;
    text?: { text?: string; context?: TextContext };
  };
}

const nodes = (ui: UiContainer | undefined) => (ui?.nodes ?? []) as LooseNode[];

/** The attributes of the node whose `id` is `id` (text and image nodes are named by id). */
function nodeById(ui: UiContainer | undefined, id: string) {
  return nodes(ui).find((n) => n.attributes?.id === id)?.attributes;
}

/** The TOTP secret Kratos offers in a settings flow (node `totp_secret_key`), if any. */
export function totpSecretOf(ui: UiContainer | undefined): string | undefined {
  const text = nodeById(ui, 'totp_secret_key')?.text;
  return text?.context?.secret ?? text?.text;
}

/** The backup codes a settings flow shows (node `lookup_secret_codes`), if any. */
export function lookupCodesOf(ui: UiContainer | undefined): string[] | undefined {
  const secrets = nodeById(ui, 'lookup_secret_codes')?.text?.context?.secrets;
  if (!Array.isArray(secrets)) return undefined;
  return secrets.map((s) => s.context?.secret ?? s.text ?? '').filter((code) => /^[a-z0-9]+$/i.test(code));
}
