import { z } from 'zod';

/**
 * The answers of the passkey routes, as the OpenAPI document describes them. The options
 * are what @simplewebauthn/server generates and @simplewebauthn/browser takes as they are.
 */

const isoDate = z.iso.datetime({ offset: true });
const transport = z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);
const descriptor = z
  .object({ id: z.string(), type: z.literal('public-key'), transports: z.array(transport).optional() })
  .meta({ id: 'PublicKeyCredentialDescriptor' });
const userVerification = z.enum(['required', 'preferred', 'discouraged']);

export const requestOptions = z
  .looseObject({
    challenge: z.string(),
    timeout: z.number().optional(),
    rpId: z.string().optional(),
    allowCredentials: z.array(descriptor).optional(),
    userVerification: userVerification.optional(),
    hints: z.array(z.string()).optional(),
    extensions: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'PasskeyRequestOptions', description: 'PublicKeyCredentialRequestOptionsJSON' });

export const creationOptions = z
  .looseObject({
    rp: z.object({ name: z.string(), id: z.string().optional() }),
    user: z.object({ id: z.string(), name: z.string(), displayName: z.string() }),
    challenge: z.string(),
    pubKeyCredParams: z.array(z.object({ alg: z.number(), type: z.literal('public-key') })),
    timeout: z.number().optional(),
    excludeCredentials: z.array(descriptor).optional(),
    authenticatorSelection: z
      .looseObject({
        authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
        requireResidentKey: z.boolean().optional(),
        residentKey: z.enum(['discouraged', 'preferred', 'required']).optional(),
        userVerification: userVerification.optional(),
      })
      .optional(),
    hints: z.array(z.string()).optional(),
    attestation: z.enum(['direct', 'enterprise', 'indirect', 'none']).optional(),
    attestationFormats: z.array(z.string()).optional(),
    extensions: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'PasskeyCreationOptions', description: 'PublicKeyCredentialCreationOptionsJSON' });

export const passkey = z
  .object({
    id: z.string(),
    nickname: z.string(),
    authenticator: z
      .string()
      .nullable()
      .meta({ description: 'The authenticator’s name from its AAGUID, when it is a well-known one.' }),
    aaguid: z.string(),
    transports: z.array(z.string()),
    deviceType: z.enum(['singleDevice', 'multiDevice']).meta({
      description: '`multiDevice`: a synced passkey; `singleDevice`: bound to one authenticator.',
    }),
    backedUp: z.boolean(),
    clonedSuspected: z.boolean(),
    createdAt: isoDate,
    lastUsedAt: isoDate.nullable(),
  })
  .meta({ id: 'Passkey' });

export const passkeysResponse = z.object({ passkeys: z.array(passkey) }).meta({ id: 'PasskeyList' });

export const identifyResponse = z
  .object({
    methods: z.array(z.enum(['passkey', 'password', 'code', 'sms_code'])).meta({
      description: 'The sign-in methods this deployment enables: the same for every identifier.',
    }),
    credentialIds: z.array(z.string()).meta({
      description: 'Passkey credential ids to offer (the account’s, or decoys shaped like them).',
    }),
    passkey: requestOptions,
  })
  .meta({ id: 'IdentifyAnswer' });
