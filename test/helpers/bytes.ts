// Test data: reproducible bytes.

/**
 * A reproducible byte pattern (xorshift32 from `seed`): not periodic in 64 or 256, so a lost,
 * duplicated or reordered packet shows in a byte-exact comparison.
 */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The index of the first byte where `a` and `b` differ (or where the shorter ends); -1 when equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
