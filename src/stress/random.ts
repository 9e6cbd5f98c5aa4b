// Seeded randomness for the stress harness. Everything a run decides comes from one 32-bit seed,
// through named sub-streams, so that adding a draw in one place does not shift every other one.

/** A small, fast generator (sfc32) seeded through splitmix32. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** An unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** An exponentially distributed delay for events at `ratePerSecond`, in milliseconds. */
  exponentialMs(ratePerSecond: number): number {
    return (-Math.log(1 - this.float()) / ratePerSecond) * 1000;
  }

  /** Fills a buffer with random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      out[i] = v & 0xff;
      if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }

  /** An independent stream named `label` (same seed and label: same stream). */
  fork(label: string | number): Rng {
    return new Rng(mixSeed(this.seed, label));
  }
}

/** FNV-1a over a string, 32-bit. */
export function fnv1a(text: string, hash = 0x811c9dc5): number {
  let h = hash >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function mixSeed(seed: number, label: string | number): number {
  return fnv1a(String(label), fnv1a(`seed:${seed >>> 0}`));
}

/** Parses a seed as decimal or 0x-hex; a clear error otherwise. */
export function parseSeed(text: string): number {
  const t = text.trim();
  const v = /^0x[0-9a-f]{1,8}$/i.test(t) ? Number.parseInt(t.slice(2), 16) : /^\d{1,10}$/.test(t) ? Number(t) : Number.NaN;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`seed '${text}' is not a 32-bit number (decimal or 0x-hex)`);
  return v >>> 0;
}

export const formatSeed = (seed: number): string => `0x${(seed >>> 0).toString(16).padStart(8, '0')}`;

/** A fresh seed from the system's randomness, for runs not given one. */
export function randomSeed(): number {
  const buf = new Uint32Array(1);
  globalThis.crypto.getRandomValues(buf);
  return buf[0]! >>> 0;
}
