import { z } from 'zod';
import { AppError } from './app-error.js';

/**
 * Validates a request's input (body, query, path parameters) with a zod schema: the typed
 * value, or 400 `invalid_request` whose message names the first problem's field.
 */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || undefined;
  throw new AppError(
    'invalid_request',
    400,
    field ? `${field}: ${issue?.message}` : (issue?.message ?? 'Invalid request.'),
    {
      details: {
        field,
        issues: result.error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message })),
      },
    },
  );
}

/** The body of a POST that takes no input: nothing, or `{}`. */
export const emptyBody = z.object({}).strict();
