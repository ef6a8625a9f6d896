/** Freezes a parsed JSON value and everything in it: memoised values are shared by requests. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * `JSON.parse` with a bounded memo of the last text parsed under each key: a warm read whose
 * text has not changed since (the common case for sessions and cached Kratos answers, read
 * on every request) costs a string comparison instead of a parse. The values are frozen, so
 * no request can change what the next one reads; a caller that changes its copy copies it.
 */
export function createParseMemo(maxEntries: number) {
  const memo = new Map<string, { raw: string; value: unknown }>();
  return <T>(key: string, raw: string): T => {
    const hit = memo.get(key);
    if (hit && hit.raw === raw) return hit.value as T;
    const value = deepFreeze(JSON.parse(raw) as unknown);
    if (!hit && memo.size >= maxEntries) {
      const oldest = memo.keys().next();
      if (!oldest.done) memo.delete(oldest.value);
    }
    memo.set(key, { raw, value });
    return value as T;
  };
}
