import { z } from 'zod';

/** The shortest password the gateway accepts (Kratos' own policy checks the rest). */
const MIN_PASSWORD_LENGTH = 12;

/** A new password, wherever one is chosen: sign-up, confirmation, password change. */
export const newPassword = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(1024);
