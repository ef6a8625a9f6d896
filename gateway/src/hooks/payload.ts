import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../audit/audit-log.js';
import type { ProfileSnapshot } from '../profiles/profile-store.js';

/**
 * The hooks Kratos calls after its flows (kratos/kratos.yml). `registration-defaults` is the
 * one that may change the identity (`response.parse`), so Kratos calls it before the identity
 * is stored, with the nil id; `after-registration` follows once it is stored.
 */
export const HOOKS = [
  'registration-defaults',
  'after-registration',
  'after-login',
  'after-settings',
  'after-verification',
  'after-recovery',
] as const;
export type HookName = (typeof HOOKS)[number];

const address = z.looseObject({ value: z.string().max(320), verified: z.boolean() });

const identity = z.looseObject({
  id: z.string().min(1).max(64),
  traits: z.record(z.string(), z.unknown()),
  state: z.enum(['active', 'inactive']).optional(),
  metadata_public: z.record(z.string(), z.unknown()).nullable().optional(),
  verifiable_addresses: z.array(address).max(50).optional(),
  updated_at: z.iso.datetime({ offset: true }).optional(),
});

/** Kratos' id of an identity that is not stored yet (uuid.Nil). */
export const UNSAVED_IDENTITY_ID = '00000000-0000-0000-0000-000000000000';

/** The body kratos/webhooks/<hook>.jsonnet renders. */
export const hookPayload = z.object({
  identity,
  flow_id: z.string().min(1).max(64),
  flow_type: z.enum(['api', 'browser']),
  event: z.enum(HOOKS),
  session: z
    .object({ id: z.string().min(1).max(64), aal: z.string().max(8) })
    .nullable()
    .optional(),
});
export type HookPayload = z.infer<typeof hookPayload>;

/**
 * The key of a delivery. Kratos sends no delivery id, so it is derived from what makes
 * a delivery unique: the hook, the flow, the identity and its version, the session. A
 * retry or a replay of the same delivery yields the same key.
 */
export function deliveryKey(payload: HookPayload): string {
  const parts = [
    payload.event,
    payload.flow_id,
    payload.identity.id,
    payload.identity.updated_at ?? '',
    payload.session?.id ?? '',
  ];
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

/** The profile fields of the identity in a hook payload. */
export function profileOf(payload: HookPayload): ProfileSnapshot {
  const { identity: i } = payload;
  const email = typeof i.traits.email === 'string' ? i.traits.email : '';
  return {
    identityId: i.id,
    email,
    emailVerified: (i.verifiable_addresses ?? []).some((a) => a.value === email && a.verified),
    traits: i.traits,
    updatedAt: i.updated_at,
  };
}
