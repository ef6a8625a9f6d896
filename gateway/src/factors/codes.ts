import { z } from 'zod';

/** A code from an authenticator app (what Kratos verifies: 6 digits). */
export const totpCode = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'must be 6 digits');

/** One of the account's backup codes (Kratos lookup secrets). */
export const backupCode = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9-]{4,64}$/, 'must be one of your backup codes');

/** A code the gateway texted as a second factor (SMS_CODE_MFA). */
export const smsFactorCode = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'must be the 6 digits from the text message');

/** A code the gateway e-mailed as a second factor (EMAIL_CODE_MFA). */
export const emailFactorCode = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'must be the 6 digits from the e-mail');

/** A body carrying one code. */
export const codeBody = (code: z.ZodType<string>) => z.object({ code }).strict();
