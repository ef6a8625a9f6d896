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
