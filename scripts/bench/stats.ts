/** The little arithmetic the benchmark reports rest on. */

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The median of per-round ratios `a[r] / b[r]`: round r of both ran back to back, so their
 * ratio cancels what the rest of the machine was doing at that moment. Rounds where `b`
 * is zero are left out.
 */
export function pairedRatio(a: number[], b: number[]): number {
  const ratios: number[] = [];
  for (let r = 0; r < Math.min(a.length, b.length); r++) if (b[r]! > 0) ratios.push(a[r]! / b[r]!);
  return median(ratios);
}

/** `items` cut into `parts` consecutive slices whose sizes differ by at most one. */
export function splitEvenly<T>(items: T[], parts: number): T[][] {
  if (!Number.isInteger(parts) || parts < 1) throw new Error('parts must be a positive integer');
  const out: T[][] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const size = Math.floor(items.length / parts) + (i < items.length % parts ? 1 : 0);
    out.push(items.slice(start, start + size));
    start += size;
  }
  return out;
}
