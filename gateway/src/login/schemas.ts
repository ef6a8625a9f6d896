import { z } from 'zod';
import { removedPasskeys } from '../session/schemas.js';
import { sessionResponse } from '../session/schemas.js';

/** The answers of the sign-in and sign-up routes, as the OpenAPI document describes them. */

export const registrationStarted = z
  .object({ status: z.literal('verification_sent'), message: z.string() })
  .meta({ id: 'RegistrationStarted' });

export const loginCodeSent = z
  .object({ status: z.literal('code_sent'), message: z.string() })
  .meta({ id: 'LoginCodeSent', description: 'The same answer for every address.' });

export const loginSmsCodeSent = z
  .object({ status: z.literal('code_sent'), message: z.string() })
  .meta({ id: 'LoginSmsCodeSent', description: 'The same answer for every phone number.' });

export const codeSignInCompleted = sessionResponse
  .extend({ removedPasskeys })
  .meta({ id: 'CodeSignInCompleted' });
