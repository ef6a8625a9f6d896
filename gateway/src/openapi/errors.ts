import { z } from 'zod';

/**
 * The one error body of the gateway (`errors/app-error.ts`, `errorHandler` in
 * `http/middleware.ts`), as the OpenAPI document describes it: per route and status, `code`
 * is one of the codes that route can answer with that status, so a typed client can switch
 * on them.
 */
export function errorBody(codes: readonly string[], id?: string) {
  const body = z.object({
    error: z.object({
      code: z.enum(codes as [string, ...string[]]),
      message: z.string().meta({ description: 'A sentence safe to show to the user.' }),
      details: errorDetails.optional(),
    }),
  });
  return id ? body.meta({ id }) : body;
}

const errorDetails = z.record(z.string(), z.unknown()).meta({
  id: 'ErrorDetails',
  description:
    'Structured hints: `methods` that can step up (aal2_required), `field` and `issues` (invalid_request), …',
});

export type ErrorCodes = Partial<Record<number, readonly string[]>>;

/** A dependency (Redis, Postgres, Kratos, Vault, mail) or the gateway itself failed: any route. */
export const SERVER_ERRORS: ErrorCodes = {
  500: ['internal_error', 'config_error'],
  502: ['kratos_unavailable', 'kratos_invalid_response', 'keys_error', 'keys_forbidden'],
  503: [
    'session_store_unavailable',
    'database_unavailable',
    'kratos_unavailable',
    'kratos_invalid_response',
    'keys_unavailable',
    'rate_limiter_unavailable',
    'audit_unavailable',
    'mail_unavailable',
    'sms_unavailable',
  ],
};

/** What the body parser and the CSRF guard refuse on any state-changing request. */
export const WRITE_ERRORS: ErrorCodes = {
  400: ['invalid_json', 'request_aborted', 'bad_request'],
  403: ['csrf_failed'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
};

/** Refusals of a caller who is not signed in, or whose session is not complete yet. */
export const SIGNED_IN_ERRORS: ErrorCodes = {
  401: ['unauthenticated'],
  403: [
    'aal2_required',
    'passkey_enrollment_required',
    'password_change_required',
    'email_verification_required',
    'mfa_enrollment_required',
  ],
};

/** Privileged acts: a recent sign-in, at aal2 once the account has a second factor. */
export const PRIVILEGED_ERRORS: ErrorCodes = {
  ...SIGNED_IN_ERRORS,
  403: [...(SIGNED_IN_ERRORS[403] ?? []), 'reauthentication_required'],
};

/** Merges code lists status by status, without repeats. */
export function mergeErrors(...lists: ErrorCodes[]): ErrorCodes {
  const merged: Record<number, string[]> = {};
  for (const list of lists) {
    for (const [status, codes] of Object.entries(list)) {
      const into = (merged[Number(status)] ??= []);
      for (const code of codes ?? []) if (!into.includes(code)) into.push(code);
    }
  }
  return merged;
}
