import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';
import { AppError } from '../errors/app-error.js';

/**
 * zod shapes of what @simplewebauthn/browser sends (`RegistrationResponseJSON`,
 * `AuthenticationResponseJSON`): anything else is a 400 naming the field before the
 * library ever sees it.
 */

// Base64url as browsers produce it (padding tolerated); lengths cap what reaches Redis keys and the database.
const base64url = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url');

/** Credential ids are at most 1023 bytes (WebAuthn §5.8.3), 1364 characters in base64url. */
const credentialId = base64url(1366);
const transports = z.array(z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])).max(8);
const common = {
  id: credentialId,
  rawId: credentialId,
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
};

export const registrationCredential = z.object({
  ...common,
  response: z.object({
    clientDataJSON: base64url(4096),
    attestationObject: base64url(64 * 1024),
    authenticatorData: base64url(64 * 1024).optional(),
    transports: transports.optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: base64url(16 * 1024).optional(),
  }),
}) satisfies z.ZodType<RegistrationResponseJSON>;

export const authenticationCredential = z.object({
  ...common,
  response: z.object({
    clientDataJSON: base64url(4096),
    authenticatorData: base64url(16 * 1024),
    signature: base64url(4096),
    userHandle: base64url(128)
      .nullish()
      .transform((v) => v ?? undefined),
  }),
}) satisfies z.ZodType<AuthenticationResponseJSON>;

/** An optional user-chosen name for a passkey. */
export const nickname = z.string().trim().min(1).max(64);

const clientData = z.object({
  type: z.string(),
  challenge: base64url(512),
  origin: z.string(),
});

/**
 * Reads the challenge out of `clientDataJSON`, which is where the browser put the one it
 * was given: the gateway has to find its stored challenge before it can verify anything.
 */
export function challengeOf(clientDataJSON: string): string {
  try {
    const parsed = clientData.safeParse(
      JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')),
    );
    if (parsed.success) return parsed.data.challenge;
  } catch {
    // Not JSON: answered below like any other unreadable client data.
  }
  throw new AppError('invalid_request', 400, 'credential.response.clientDataJSON: not valid client data', {
    details: { field: 'credential.response.clientDataJSON' },
  });
}
