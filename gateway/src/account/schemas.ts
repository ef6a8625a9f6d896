import { z } from 'zod';
import { removedPasskeys, sessionResponse } from '../session/schemas.js';

/** The answers of the account routes, as the OpenAPI document describes them. */

export const codeSent = z
  .object({ status: z.literal('code_sent'), message: z.string() })
  .meta({ id: 'CodeSent', description: 'The same answer for every address.' });

export const phoneState = z
  .object({
    phone: z.string().nullable().meta({ description: 'The phone number (E.164), or null.' }),
    verified: z
      .boolean()
      .meta({ description: 'Proven with a texted code: only then does it get sign-in codes.' }),
  })
  .meta({ id: 'PhoneNumber' });

export const phoneCodeSent = z
  .object({ status: z.literal('code_sent'), message: z.string() })
  .meta({ id: 'PhoneCodeSent' });

export const recoveryCompleted = sessionResponse
  .extend({ removedPasskeys })
  .meta({ id: 'RecoveryCompleted' });

export const verificationCompleted = z
  .object({ verified: z.literal(true), removedPasskeys })
  .meta({ id: 'VerificationCompleted' });

export const totpEnrollment = z
  .object({
    secret: z.string().meta({ description: 'Base32 secret, for typing into the app by hand.' }),
    otpauthUri: z.string(),
    qrCode: z.string().meta({ description: 'The otpauth URI as a PNG data URL.' }),
  })
  .meta({ id: 'TotpEnrollment' });

export const backupCodes = z
  .object({ codes: z.array(z.string()).meta({ description: 'Shown once; each works once.' }) })
  .meta({ id: 'BackupCodes' });
