import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Secret, TOTP } from 'otpauth';
import { createOpenApiValidator } from './openapi-validator.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The published Kratos v1.3.1 API document, kept next to the repository. */
export const kratosSpecPath =
  process.env.KRATOS_API_SPEC ?? path.resolve(repoRoot, 'tests/reference/kratos-v1.3.1/api.json');

export interface CallResult {
  status: number;
  // Bodies are Kratos JSON of many shapes; tests index into them freely after validation.
  body: any;
  headers: Headers;
}

export interface CallOptions {
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
}

/**
 * An HTTP client for the Kratos double that checks every response against the Kratos API
 * document before returning it, and remembers which operations were exercised.
 */
export function createContractClient(
  publicUrl: () => string,
  adminUrl: () => string,
  exercised = new Map<string, Set<number>>(),
) {
  const validator = createOpenApiValidator(kratosSpecPath);

  async function call(
    base: string,
    method: string,
    pathAndQuery: string,
    options: CallOptions = {},
  ): Promise<CallResult> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const response = await fetch(`${base}${pathAndQuery}`, { method, headers, body, redirect: 'manual' });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    validator.assertResponse(method, pathAndQuery, response.status, parsed);
    const operation = validator.findOperation(method, pathAndQuery) ?? '?';
    exercised.set(operation, (exercised.get(operation) ?? new Set()).add(response.status));
    return { status: response.status, body: parsed, headers: response.headers };
  }

  return {
    exercised,
    pub: (method: string, pathAndQuery: string, options?: CallOptions) =>
      call(publicUrl(), method, pathAndQuery, options),
    admin: (method: string, pathAndQuery: string, options?: CallOptions) =>
      call(adminUrl(), method, pathAndQuery, options),
  };
}

/** The current code of a TOTP secret (base32), as an authenticator app computes it. */
export function totpCode(secret: string, timestamp: number): string {
  return new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({
    timestamp,
  });
}

/** The six-digit code in the newest courier message body. */
export function codeFrom(body: string): string {
  const match = /\b(\d{6})\b/.exec(body);
  if (!match?.[1]) throw new Error('no code in the message');
  return match[1];
}

/** A controllable clock: real time plus an offset tests can move forward. */
export function createClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (ms: number) => {
      offset += ms;
    },
  };
}

/** The `ui.nodes` entry with that attribute name. */
export function node(flow: any, name: string): any {
  return flow.ui.nodes.find((n: any) => n.attributes.name === name || n.attributes.id === name);
}

/** Ids of the flow-wide messages. */
export const messageIds = (flow: any): number[] => (flow.ui.messages ?? []).map((m: { id: number }) => m.id);
