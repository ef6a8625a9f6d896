import { AppError } from '../errors/app-error.js';
import { KratosHttpError } from '../kratos/client.js';
import { settingsError, settingsProblems } from '../kratos/flows/settings-flow.js';

/**
 * Words a failed Kratos settings call for the client: soft errors (session too old,
 * aal2 missing, flow gone) by their own codes, a validation refusal as `code` (400) with
 * Kratos' messages in the details.
 */
export function kratosRefusal(err: unknown, code: string, fallback: string): unknown {
  const mapped = settingsError(err);
  if (!(mapped instanceof KratosHttpError) || mapped.status !== 400) return mapped;
  const problems = settingsProblems(mapped);
  const message = problems[0]?.text ?? mapped.firstMessage() ?? fallback;
  return new AppError(code, 400, message, { details: { problems } });
}
