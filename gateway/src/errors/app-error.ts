/**
 * The one error type of the gateway. Every failure that reaches a client is an
 * AppError: a stable snake_case `code`, an HTTP `status` and a message that is
 * safe to show. The `cause` is logged, never sent.
 */
export class AppError extends Error {
  readonly details: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.details = options.details;
    this.headers = options.headers;
  }
}

export const unauthenticated = (message = 'Sign in to continue.') =>
  new AppError('unauthenticated', 401, message);

export const forbidden = (message = 'You are not allowed to do this.') =>
  new AppError('forbidden', 403, message);

export const notFound = (what = 'Resource') => new AppError('not_found', 404, `${what} not found.`);

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(code, 400, message, { details });
