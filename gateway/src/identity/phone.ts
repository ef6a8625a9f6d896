import { z } from 'zod';

/** A phone number in E.164 (`+` and up to 15 digits), as the identity schema's phone trait holds it. */
export const phoneNumber = z
  .string()
  .trim()
  .regex(/^\+[1-9]\d{6,14}$/, 'must be a phone number in international format, e.g. +15551234567');
