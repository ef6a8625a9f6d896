import { z } from 'zod';

/**
 * The answers of the session routes, as the OpenAPI document describes them
 * (gateway/src/openapi). Component tests hold every answer to these shapes.
 */

const isoDate = z.iso.datetime({ offset: true });

const aal = z.enum(['aal1', 'aal2']).meta({ id: 'Aal', description: 'Authenticator assurance level.' });

const completedMethod = z
  .object({
    method: z.string().meta({ description: 'password, passkey, totp, lookup_secret, code, …' }),
    completedAt: isoDate,
    userVerified: z
      .boolean()
      .optional()
      .meta({ description: 'For passkeys: the authenticator verified the user (biometric or PIN).' }),
    aal: aal.optional().meta({ description: 'For methods completed at Kratos: the level Kratos gave then.' }),
  })
  .meta({ id: 'CompletedMethod' });

/** The body of GET /session and of every successful login, registration or step-up. */
export const sessionResponse = z
  .object({
    identityId: z.string(),
    email: z.string(),
    emailVerified: z.boolean(),
    traits: z.record(z.string(), z.unknown()),
    roles: z.array(z.string()),
    aal,
    methods: z.array(completedMethod),
    source: z.enum(['gateway', 'kratos']).meta({
      description: '`gateway`: the gateway’s session cookie; `kratos`: a Kratos session cookie.',
    }),
    sessionId: z.string(),
    authenticatedAt: isoDate,
    expiresAt: isoDate,
    passwordChangeRequired: z
      .literal(true)
      .optional()
      .meta({ description: 'The password must be changed before anything else.' }),
    passkeyEnrollmentRequired: z
      .literal(true)
      .optional()
      .meta({ description: 'A passwordless sign-up that still has to register its first passkey.' }),
    emailVerificationRequired: z
      .literal(true)
      .optional()
      .meta({ description: 'The address must be verified before protected routes answer.' }),
    mfaEnrollmentDueAt: isoDate.optional().meta({
      description:
        'The policy requires a second factor of this account and it has none yet: by this time it must enrol one (a passkey or an authenticator app); afterwards only enrolment and sign-out answer (403 `mfa_enrollment_required`).',
    }),
  })
  .meta({ id: 'Session' });

const sessionSummary = z
  .object({
    id: z.string(),
    source: z.enum(['gateway', 'kratos']),
    current: z.boolean(),
    methods: z.array(z.string()),
    createdAt: isoDate,
    authenticatedAt: isoDate,
    expiresAt: isoDate,
    userAgent: z.string().optional(),
    ip: z.string().optional(),
  })
  .meta({ id: 'SessionSummary' });

export const sessionsResponse = z.object({ sessions: z.array(sessionSummary) }).meta({ id: 'SessionList' });

/** A passkey removed because someone proved the account's address (recovery, verification, a code sign-in). */
const removedPasskey = z
  .object({ id: z.string(), nickname: z.string(), createdAt: z.iso.datetime({ offset: true }) })
  .meta({ id: 'RemovedPasskey' });

export const removedPasskeys = z.array(removedPasskey).meta({
  description: 'Passkeys registered before the address was proven, removed now.',
});
