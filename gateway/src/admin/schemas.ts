import { z } from 'zod';

/** The answers of the admin API, as the OpenAPI document describes them. */

const isoDate = z.iso.datetime({ offset: true });

export const userSummary = z
  .object({
    id: z.string(),
    email: z.string(),
    emailVerified: z.boolean(),
    state: z.enum(['active', 'inactive']),
    roles: z.array(z.string()),
    credentialTypes: z.array(z.string()),
    createdAt: isoDate,
  })
  .meta({ id: 'UserSummary' });

export const userDetails = userSummary
  .extend({
    lockout: z.object({ locked: z.boolean(), lockedUntil: isoDate.optional(), failures: z.number().int() }),
    passkeys: z.number().int(),
    kratosSessions: z.number().int(),
  })
  .meta({ id: 'UserDetails' });

export const userPage = z
  .object({ users: z.array(userSummary), nextPageToken: z.string().optional() })
  .meta({ id: 'UserPage' });

export const unlockResponse = z.object({ unlocked: z.boolean() }).meta({ id: 'UnlockResult' });

export const keyStatus = z
  .object({
    backend: z.enum(['vault', 'local']),
    keyName: z.string(),
    healthy: z.boolean(),
    detail: z.string(),
    latestVersion: z.number().int().optional(),
    minDecryptionVersion: z.number().int().optional(),
    minEncryptionVersion: z.number().int().optional(),
    versions: z.array(z.number().int()).optional(),
    backupAllowed: z.boolean().optional(),
  })
  .meta({ id: 'KeyStatus' });

const auditEvent = z
  .object({
    seq: z.number().int(),
    occurredAt: isoDate,
    type: z.string(),
    outcome: z.enum(['success', 'failure', 'denied']),
    identityId: z.string().nullable(),
    actorId: z.string().nullable(),
    ip: z.string().nullable(),
    requestId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string(),
  })
  .meta({ id: 'AuditEvent' });

export const auditPage = z
  .object({
    events: z.array(auditEvent),
    nextCursor: z
      .number()
      .int()
      .optional()
      .meta({ description: 'Pass as `cursor` for the next (older) page.' }),
  })
  .meta({ id: 'AuditPage' });

export const chainReport = z
  .discriminatedUnion('ok', [
    z.object({
      ok: z.literal(true),
      checked: z.number().int(),
      lastSeq: z.number().int(),
      keyedFrom: z.number().int().optional(),
      checkpoints: z.number().int(),
      newestCheckpoint: z.number().int().optional(),
      warnings: z.array(z.string()),
    }),
    z.object({
      ok: z.literal(false),
      checked: z.number().int(),
      brokenAt: z.number().int(),
      reason: z.string(),
    }),
  ])
  .meta({ id: 'AuditChainReport' });
