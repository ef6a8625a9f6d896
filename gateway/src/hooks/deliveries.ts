import type { Queryable } from '../db/database.js';

/**
 * Claims a delivery: true the first time its key is seen, false for a repeat. Run inside
 * the transaction that applies the delivery, so a failed delivery can be retried.
 */
export async function claimDelivery(
  tx: Queryable,
  delivery: { key: string; hook: string; identityId: string },
): Promise<boolean> {
  const { rows } = await tx.query(
    `INSERT INTO webhook_deliveries (delivery_key, hook, identity_id) VALUES ($1, $2, $3)
     ON CONFLICT (delivery_key) DO NOTHING RETURNING delivery_key`,
    [delivery.key, delivery.hook, delivery.identityId],
  );
  return rows.length === 1;
}
