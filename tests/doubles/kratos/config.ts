import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The Kratos flows that can run hooks after completion. */
export type HookFlow = 'registration' | 'login' | 'settings' | 'verification' | 'recovery';

/** One `web_hook` action as configured in kratos.yml (only what the double acts on). */
export interface WebHookSettings {
  /** The last segment of the hook's URL ('after-registration', 'registration-defaults', …). */
  name: string;
  parse: boolean;
  ignore: boolean;
  apiKeyHeader: string;
}

/** The settings of kratos.yml the double honours, with Kratos' (and our kratos.yml's) defaults. */
export interface DoubleConfig {
  identitySchemaPath?: string;
  lifespans: Record<'login' | 'registration' | 'recovery' | 'verification' | 'settings', number>;
  privilegedSessionMaxAgeMs: number;
  sessionLifespanMs: number;
  codeLifespanMs: number;
  /** `selfservice.methods.code.passwordless_enabled`: sign-in by an e-mailed code. */
  codePasswordless: boolean;
  minPasswordLength: number;
  identifierSimilarityCheck: boolean;
  whoamiRequiredAal: 'aal1' | 'highest_available';
  settingsRequiredAal: 'aal1' | 'highest_available';
  recoveryEnabled: boolean;
  verificationEnabled: boolean;
  totpIssuer: string;
  /** The web hooks of each flow, in kratos.yml's order; a flow missing here runs none. */
  webHooks: Partial<Record<HookFlow, WebHookSettings[]>>;
  /** `feature_flags.use_continue_with_transitions`: without it, API recovery ends in 422. */
  continueWithTransitions: boolean;
  /** Flows whose after hooks include `revoke_active_sessions`. */
  revokeSessionsAfter: Set<'settings' | 'recovery'>;
  defaultReturnUrl?: string;
  /** `selfservice.allowed_return_urls`, placeholders (`${PUBLIC_BASE_URL}`) left in. */
  allowedReturnUrls: string[];
  uiUrls: Partial<
    Record<'login' | 'registration' | 'settings' | 'recovery' | 'verification' | 'error', string>
  >;
}

const MINUTE = 60_000;
const DEFAULT_API_KEY_HEADER = 'X-Webhook-Key';
const ALL_HOOK_FLOWS: HookFlow[] = ['registration', 'login', 'settings', 'verification', 'recovery'];

/** The repository root, two levels above tests/doubles/kratos. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Defaults equal to the project's kratos/kratos.yml, used for every key it does not set. */
export function defaultConfig(): DoubleConfig {
  return {
    lifespans: {
      login: 10 * MINUTE,
      registration: 10 * MINUTE,
      recovery: 15 * MINUTE,
      verification: 15 * MINUTE,
      settings: 15 * MINUTE,
    },
    privilegedSessionMaxAgeMs: 15 * MINUTE,
    sessionLifespanMs: 24 * 60 * MINUTE,
    codeLifespanMs: 15 * MINUTE,
    codePasswordless: false,
    minPasswordLength: 12,
    identifierSimilarityCheck: true,
    whoamiRequiredAal: 'highest_available',
    settingsRequiredAal: 'highest_available',
    recoveryEnabled: true,
    verificationEnabled: true,
    totpIssuer: 'Auth Gateway',
    webHooks: Object.fromEntries(
      ALL_HOOK_FLOWS.map((flow) => [
        flow,
        [
          {
            name: `after-${flow}`,
            parse: flow === 'registration',
            ignore: false,
            apiKeyHeader: DEFAULT_API_KEY_HEADER,
          },
        ],
      ]),
    ),
    continueWithTransitions: false,
    revokeSessionsAfter: new Set(),
    allowedReturnUrls: [],
    uiUrls: {},
  };
}

/**
 * Reads the overlapping settings of a kratos.yml. A missing file yields the defaults; keys the
 * file omits keep their defaults, as Kratos itself would fall back to its own.
 */
export function loadConfig(configPath: string | undefined): DoubleConfig {
  const config = defaultConfig();
  const file = configPath ?? path.join(repoRoot, 'kratos', 'kratos.yml');
  if (!existsSync(file)) return config;
  const yml = (parse(readFileSync(file, 'utf8')) ?? {}) as Node;
  applyFlows(config, yml);
  applyMethods(config, yml);
  applySession(config, yml);
  config.identitySchemaPath = schemaPathFrom(yml, path.dirname(file));
  config.webHooks = webHooksFrom(yml);
  config.continueWithTransitions = at(yml, 'feature_flags', 'use_continue_with_transitions') === true;
  return config;
}

type Node = Record<string, unknown>;

function at(node: unknown, ...keys: string[]): unknown {
  let current = node;
  for (const key of keys) {
    if (!current || typeof current !== 'object') return undefined;
    current = (current as Node)[key];
  }
  return current;
}

function applyFlows(config: DoubleConfig, yml: Node): void {
  for (const flow of Object.keys(config.lifespans) as (keyof DoubleConfig['lifespans'])[]) {
    const lifespan = durationMs(at(yml, 'selfservice', 'flows', flow, 'lifespan'));
    if (lifespan !== undefined) config.lifespans[flow] = lifespan;
    const uiUrl = at(yml, 'selfservice', 'flows', flow, 'ui_url');
    if (typeof uiUrl === 'string') config.uiUrls[flow] = uiUrl;
  }
  const errorUi = at(yml, 'selfservice', 'flows', 'error', 'ui_url');
  if (typeof errorUi === 'string') config.uiUrls.error = errorUi;
  const privileged = durationMs(at(yml, 'selfservice', 'flows', 'settings', 'privileged_session_max_age'));
  if (privileged !== undefined) config.privilegedSessionMaxAgeMs = privileged;
  const settingsAal = at(yml, 'selfservice', 'flows', 'settings', 'required_aal');
  if (settingsAal === 'aal1' || settingsAal === 'highest_available') config.settingsRequiredAal = settingsAal;
  const recovery = at(yml, 'selfservice', 'flows', 'recovery', 'enabled');
  if (typeof recovery === 'boolean') config.recoveryEnabled = recovery;
  const verification = at(yml, 'selfservice', 'flows', 'verification', 'enabled');
  if (typeof verification === 'boolean') config.verificationEnabled = verification;
  const returnUrl = at(yml, 'selfservice', 'default_browser_return_url');
  if (typeof returnUrl === 'string') config.defaultReturnUrl = returnUrl;
  const allowed = at(yml, 'selfservice', 'allowed_return_urls');
  if (Array.isArray(allowed))
    config.allowedReturnUrls = allowed.filter((u): u is string => typeof u === 'string');
  for (const flow of ['settings', 'recovery'] as const) {
    if (hooksOf(yml, flow).some((h) => h.hook === 'revoke_active_sessions'))
      config.revokeSessionsAfter.add(flow);
  }
}

function applyMethods(config: DoubleConfig, yml: Node): void {
  const minLength = at(yml, 'selfservice', 'methods', 'password', 'config', 'min_password_length');
  if (typeof minLength === 'number') config.minPasswordLength = minLength;
  const similarity = at(
    yml,
    'selfservice',
    'methods',
    'password',
    'config',
    'identifier_similarity_check_enabled',
  );
  if (typeof similarity === 'boolean') config.identifierSimilarityCheck = similarity;
  const codeLifespan = durationMs(at(yml, 'selfservice', 'methods', 'code', 'config', 'lifespan'));
  if (codeLifespan !== undefined) config.codeLifespanMs = codeLifespan;
  const codeEnabled = at(yml, 'selfservice', 'methods', 'code', 'enabled') !== false;
  config.codePasswordless =
    codeEnabled && at(yml, 'selfservice', 'methods', 'code', 'passwordless_enabled') === true;
  const issuer = at(yml, 'selfservice', 'methods', 'totp', 'config', 'issuer');
  if (typeof issuer === 'string') config.totpIssuer = issuer;
}

function applySession(config: DoubleConfig, yml: Node): void {
  const lifespan = durationMs(at(yml, 'session', 'lifespan'));
  if (lifespan !== undefined) config.sessionLifespanMs = lifespan;
  const aal = at(yml, 'session', 'whoami', 'required_aal');
  if (aal === 'aal1' || aal === 'highest_available') config.whoamiRequiredAal = aal;
}

/** Resolves the default schema's `file://` URL against the config's folder (its path in a container differs). */
function schemaPathFrom(yml: Node, configDir: string): string | undefined {
  const defaultId = (at(yml, 'identity', 'default_schema_id') as string | undefined) ?? 'default';
  const schemas = (at(yml, 'identity', 'schemas') ?? []) as { id?: string; url?: string }[];
  const url = schemas.find((s) => s.id === defaultId)?.url ?? schemas[0]?.url;
  if (!url?.startsWith('file://')) return undefined;
  const local = path.join(configDir, path.basename(url.slice('file://'.length)));
  return existsSync(local) ? local : undefined;
}

interface HookEntry {
  hook?: string;
  config?: Node;
}

/** All after-hooks of a flow, whatever the method they are attached to. */
function hooksOf(yml: Node, flow: HookFlow): HookEntry[] {
  const after = at(yml, 'selfservice', 'flows', flow, 'after');
  if (!after || typeof after !== 'object') return [];
  const entries: HookEntry[] = [];
  for (const [key, value] of Object.entries(after as Node)) {
    const hooks = key === 'hooks' ? value : at(value, 'hooks');
    if (Array.isArray(hooks)) entries.push(...(hooks as HookEntry[]));
  }
  return entries;
}

function webHooksFrom(yml: Node): DoubleConfig['webHooks'] {
  const result: DoubleConfig['webHooks'] = {};
  for (const flow of ALL_HOOK_FLOWS) {
    const hooks = hooksOf(yml, flow).filter((h) => h.hook === 'web_hook');
    if (hooks.length === 0) continue;
    const byName = new Map<string, WebHookSettings>();
    for (const hook of hooks) {
      const auth = at(hook.config, 'auth');
      const header = at(auth, 'type') === 'api_key' ? at(auth, 'config', 'name') : undefined;
      const url = at(hook.config, 'url');
      const name = typeof url === 'string' ? (url.split('/').pop() ?? '') : `after-${flow}`;
      // The same hook attached to several methods (password, code) runs once per flow.
      if (byName.has(name)) continue;
      byName.set(name, {
        name,
        parse: at(hook.config, 'response', 'parse') === true,
        ignore: at(hook.config, 'response', 'ignore') === true,
        apiKeyHeader: typeof header === 'string' ? header : DEFAULT_API_KEY_HEADER,
      });
    }
    result[flow] = [...byName.values()];
  }
  return result;
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: MINUTE,
  h: 60 * MINUTE,
};

/** Parses a Go duration ("10m", "1h30m", "15m0s") into milliseconds. */
export function durationMs(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) return undefined;
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * (UNIT_MS[unit ?? 's'] ?? 0), 0);
}
