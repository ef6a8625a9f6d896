import { z } from 'zod';
import { requestOptions } from '../passkeys/schemas.js';

/** The answers of the sign-in and sign-up routes, as the OpenAPI document describes them. */

export const identifyResponse = z
  .object({
    methods: z.array(z.enum(['passkey', 'password'])).meta({
      description: 'The sign-in methods this deployment enables: the same for every identifier.',
    }),
    credentialIds: z.array(z.string()).meta({
      description: 'Passkey credential ids to offer (the account’s, or decoys shaped like them).',
    }),
    passkey: requestOptions,
  })
  .meta({ id: 'IdentifyAnswer' });

export const registrationStarted = z
  .object({ status: z.literal('verification_sent'), message: z.string() })
  .meta({ id: 'RegistrationStarted' });
