import { z } from 'zod';

const CONTROL_OR_SLASH = /[\p{Cc}/\\]/u;

// Control characters and path separators have no place in a display name or a download name.
const displayName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((name) => !CONTROL_OR_SLASH.test(name), 'must not contain control characters or slashes');

export const jarIdParams = z.object({ id: z.uuid() });
export const fileParams = z.object({ id: z.uuid(), fileId: z.uuid() });
export const grantParams = z.object({ id: z.uuid(), identityId: z.string().min(1).max(200) });

export const createJarBody = z.object({ name: displayName, restricted: z.boolean().optional() }).strict();
export const updateJarBody = z
  .object({ name: displayName.optional(), restricted: z.boolean().optional() })
  .strict()
  .refine((b) => b.name !== undefined || b.restricted !== undefined, 'nothing to change');
export const granteeId = z.uuid();
export const grantBody = z.object({ role: z.enum(['editor', 'viewer']) }).strict();

export const uploadQuery = z.object({ name: displayName });
/** `type/subtype` with optional parameters, as stored and sent back on download. */
export const contentType = z
  .string()
  .max(200)
  .regex(/^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[^"\\\r\n]*"|[\w.+-]+))*$/);

const isoDate = z.iso.datetime({ offset: true });
const role = z.enum(['owner', 'editor', 'viewer']);

/** A jar as answered to a caller, with the caller's role in it. */
export const jarResponse = z
  .object({
    id: z.uuid(),
    ownerId: z.string(),
    name: z.string(),
    restricted: z.boolean().meta({ description: 'Reading needs an aal2 session.' }),
    createdAt: isoDate,
    updatedAt: isoDate,
    role,
  })
  .meta({ id: 'Jar' });

export const jarListResponse = z.object({ jars: z.array(jarResponse) }).meta({ id: 'JarList' });

export const grantResponse = z
  .object({ identityId: z.string(), role: z.enum(['editor', 'viewer']) })
  .meta({ id: 'GrantSet' });

export const grantListResponse = z
  .object({
    grants: z.array(
      z
        .object({
          identityId: z.string(),
          role: z.enum(['editor', 'viewer']),
          grantedBy: z.string(),
          createdAt: isoDate,
        })
        .meta({ id: 'Grant' }),
    ),
  })
  .meta({ id: 'GrantList' });

export const fileResponse = z
  .object({
    id: z.uuid(),
    jarId: z.uuid(),
    name: z.string(),
    contentType: z.string(),
    size: z.number().int().meta({ description: 'Plaintext bytes.' }),
    keyVersion: z.number().int(),
    uploadedBy: z.string(),
    createdAt: isoDate,
  })
  .meta({ id: 'JarFile' });

export const fileListResponse = z.object({ files: z.array(fileResponse) }).meta({ id: 'JarFileList' });
