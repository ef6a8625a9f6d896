import { z } from 'zod';

/** The answers of the sign-in and sign-up routes, as the OpenAPI document describes them. */

export const registrationStarted = z
  .object({ status: z.literal('verification_sent'), message: z.string() })
  .meta({ id: 'RegistrationStarted' });
