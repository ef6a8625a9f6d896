/**
 * Kratos' JSON errors (herodot's `{ error: { id, code, status, reason, message } }`). Handlers
 * throw a KratosError; the routers' error middleware writes it.
 */
export class KratosError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String((body.error as { message?: string } | undefined)?.message ?? 'kratos error'));
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  410: 'Gone',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
};

const DEFAULT_MESSAGE: Record<number, string> = {
  400: 'The request was malformed or contained invalid parameters',
  401: 'The request could not be authorized',
  403: 'The requested action was forbidden',
  404: 'Unable to locate the resource',
  409: 'The resource could not be created due to a conflict',
  410: 'The requested resource is no longer available',
  500: 'An internal server error occurred, please contact the system administrator',
};

interface ErrorFields {
  id?: string;
  reason?: string;
  message?: string;
  /** Extra top-level fields next to `error` (e.g. redirect_browser_to). */
  extra?: Record<string, unknown>;
}

/** Builds a Kratos error for `status`. */
export function kratosError(status: number, fields: ErrorFields = {}): KratosError {
  const error: Record<string, unknown> = {};
  if (fields.id) error.id = fields.id;
  error.code = status;
  error.status = STATUS_TEXT[status] ?? 'Error';
  if (fields.reason) error.reason = fields.reason;
  error.message = fields.message ?? DEFAULT_MESSAGE[status] ?? 'error';
  return new KratosError(status, { error, ...fields.extra });
}

export const errors = {
  notFound: (reason?: string) => kratosError(404, { reason }),
  /** herodot.ErrNotFound (a database miss is sqlcon's "Unable to locate the resource" instead). */
  resourceNotFound: (reason: string) =>
    kratosError(404, { reason, message: 'The requested resource could not be found' }),
  badRequest: (reason: string) => kratosError(400, { reason }),
  forbidden: (reason: string) => kratosError(403, { reason }),
  noSession: () =>
    kratosError(401, {
      id: 'session_inactive',
      reason: 'No active session was found in this request.',
      message: 'request does not have a valid authentication session',
    }),
  /** whoami's 401 carries no error id in Kratos v1.3.1 (session.ErrNoActiveSessionFound). */
  whoamiNoSession: () =>
    kratosError(401, {
      reason: 'No valid session credentials found in the request.',
      message: 'The request could not be authorized',
    }),
  aal2Required: (publicUrl: string) =>
    kratosError(403, {
      id: 'session_aal2_required',
      reason:
        'An active session was found but it does not fulfill the Authenticator Assurance Level, implying that the session must (e.g.) authenticate the second factor.',
      extra: { redirect_browser_to: `${publicUrl}/self-service/login/browser?aal=aal2` },
    }),
  refreshRequired: (publicUrl: string) =>
    kratosError(403, {
      id: 'session_refresh_required',
      reason:
        'The login session is too old and thus not allowed to update these fields. Please re-authenticate.',
      extra: { redirect_browser_to: `${publicUrl}/self-service/login/browser?refresh=true` },
    }),
  alreadyLoggedIn: () =>
    kratosError(400, {
      id: 'session_already_available',
      reason:
        'A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?',
      message: 'you are already logged in',
    }),
  aal1Required: () =>
    kratosError(401, {
      id: 'session_aal1_required',
      reason: 'You can not requested a higher AAL (AAL2/AAL3) without an active session.',
      message: 'aal2 and aal3 can only be requested if a session exists already',
    }),
  browserLocationChangeRequired: (redirectTo: string) =>
    kratosError(422, {
      id: 'browser_location_change_required',
      reason: 'In order to complete this flow please redirect the browser to: ' + redirectTo,
      message: 'browser location change required',
      extra: { redirect_browser_to: redirectTo },
    }),
  csrf: () =>
    kratosError(403, {
      id: 'security_csrf_violation',
      reason:
        'Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.',
      message: 'the request was rejected to protect you from Cross-Site-Request-Forgery',
    }),
  identityMismatch: () =>
    kratosError(403, {
      id: 'security_identity_mismatch',
      reason:
        'The request was initiated by someone else and has been blocked for security reasons. Please go back and try again.',
      message: 'the requested action was initiated by someone else',
    }),
  flowExpired: (expiredAt: number, now: number, newFlowId?: string) => {
    const minutes = (now - expiredAt) / 60_000;
    return kratosError(410, {
      id: 'self_service_flow_expired',
      reason: `The self-service flow expired ${minutes.toFixed(2)} minutes ago, initialize a new one.`,
      message: 'self-service flow expired',
      extra: {
        expired_at: new Date(expiredAt).toISOString(),
        since: Math.round((now - expiredAt) * 1e6),
        ...(newFlowId ? { use_flow_id: newFlowId } : {}),
      },
    });
  },
  conflict: () =>
    kratosError(409, { reason: 'This identity conflicts with another identity that already exists.' }),
  internal: (reason: string) => kratosError(500, { reason }),
  /** session.ErrIdentityDisabled: a disabled identity completed a login (e.g. by code). */
  identityDisabled: (identityId: string) =>
    new KratosError(401, {
      error: {
        code: 401,
        status: STATUS_TEXT[401],
        reason: 'This account was disabled.',
        details: { identity_id: identityId },
        message: 'identity is disabled',
      },
    }),
};
