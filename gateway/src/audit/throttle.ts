/**
 * Admits one event per key per window, in process memory: refusals that a flood can
 * trigger at will (CSRF failures) are audited once per client and minute instead of once
 * per request, so a flood cannot fill the audit log. Bounded: the table is cleared when full.
 */
export function oncePerWindow(options: { windowMs: number; clock: () => Date; maxKeys?: number }) {
  const seen = new Map<string, number>();
  const maxKeys = options.maxKeys ?? 10_000;
  return (key: string): boolean => {
    const now = options.clock().getTime();
    const last = seen.get(key);
    if (last !== undefined && now - last < options.windowMs) return false;
    if (seen.size >= maxKeys) seen.clear();
    seen.set(key, now);
    return true;
  };
}
