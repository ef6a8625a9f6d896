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

export const socialProviders = z
  .object({
    providers: z.array(
      z.object({
        id: z.string().meta({ description: 'The provider’s id in kratos/social-sign-in.yml (`sso`, …).' }),
        label: z.string().meta({ description: 'Its name for people (“Company SSO”).' }),
      }),
    ),
  })
  .meta({ id: 'SocialProviders', description: 'The social sign-in providers this deployment offers.' });

export const socialLinks = z
  .object({
    providers: z.array(z.string()).meta({ description: 'Ids of the providers linked to the account.' }),
  })
  .meta({ id: 'SocialLinks' });
