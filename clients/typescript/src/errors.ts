import type { components } from './schema.js';

type Schemas = components['schemas'];

/** Every error code the gateway's OpenAPI document names. */
export type ErrorCode = {
  [K in keyof Schemas]: Schemas[K] extends { error: { code: infer C } } ? C : never;
}[keyof Schemas];

/**
 * Everything that can go wrong with a call, as a value the UI can show. The client never
 * throws for these: every call resolves to a `Result`.
 *
 * - `api`: the gateway refused the request (4xx) with one of its codes;
 * - `server`: the gateway or one of its dependencies failed (5xx);
 * - `network`: no answer at all (offline, DNS, connection reset, aborted);
 * - `unexpected`: an answer that is not what the document describes (HTML from a proxy, broken JSON);
 * - `webauthn`: the browser or the authenticator did not complete a passkey ceremony.
 */
export type GatewayError =
  | {
      kind: 'api';
      status: number;
      code: ErrorCode;
      message: string;
      details?: Record<string, unknown>;
      retryAfterSeconds?: number;
    }
  | { kind: 'server'; status: number; code: string; message: string }
  | { kind: 'network'; message: string }
  | { kind: 'unexpected'; status: number; message: string }
  | { kind: 'webauthn'; name: string; message: string };

export type Result<T> = { ok: true; data: T } | { ok: false; error: GatewayError };

export const ok = <T>(data: T): Result<T> => ({ ok: true, data });
export const fail = <T = never>(error: GatewayError): Result<T> => ({ ok: false, error });

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** Whether `body` is the gateway's error shape `{ error: { code, message } }`. */
export function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== 'object' || body === null) return false;
  const error = (body as { error?: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

/** Turns a non-2xx answer (its parsed body, if any) into a typed error. */
export function errorFromAnswer(response: Response, body: unknown): GatewayError {
  const { status } = response;
  if (!isErrorBody(body)) {
    return status >= 500
      ? { kind: 'server', status, code: 'server_error', message: 'The service is not working right now.' }
      : {
          kind: 'unexpected',
          status,
          message: `The service answered ${status} in a form this app cannot read.`,
        };
  }
  if (status >= 500) return { kind: 'server', status, code: body.error.code, message: body.error.message };
  const retryAfter = Number(response.headers.get('retry-after'));
  return {
    kind: 'api',
    status,
    code: body.error.code as ErrorCode,
    message: body.error.message,
    ...(body.error.details && { details: body.error.details }),
    ...(Number.isFinite(retryAfter) && retryAfter > 0 && { retryAfterSeconds: retryAfter }),
  };
}

/** Turns what a failed `fetch` threw into a typed error. */
export function errorFromThrown(thrown: unknown): GatewayError {
  if (thrown instanceof SyntaxError)
    return {
      kind: 'unexpected',
      status: 0,
      message: 'The service answered with something that is not JSON.',
    };
  if (thrown instanceof DOMException && thrown.name === 'AbortError')
    return { kind: 'network', message: 'The request was cancelled.' };
  return { kind: 'network', message: 'The service cannot be reached. Check your connection and try again.' };
}

/** A sentence for any error, for a UI that shows errors in words. */
export function describeError(error: GatewayError): string {
  switch (error.kind) {
    case 'api':
      return error.retryAfterSeconds
        ? `${error.message} Try again in ${error.retryAfterSeconds} seconds.`
        : error.message;
    case 'server':
      return 'Something went wrong on our side. Please try again in a moment.';
    default:
      return error.message;
  }
}

/** Whether `error` is the gateway's 403 asking for a stronger sign-in (a second factor). */
export const isAal2Required = (error: GatewayError): error is Extract<GatewayError, { kind: 'api' }> =>
  error.kind === 'api' && error.code === 'aal2_required';
