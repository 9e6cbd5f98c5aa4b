// PL2303 baud-rate encoding (the 4 baud bytes of SET_LINE) and the 7-byte line coding.
//
// Path selection follows pl2303.c's pl2303_encode_baud_rate: cap at the type's maximum; HXN
// (no_divisors) always sends the rate as a plain number; every other type sends a rate from
// the direct table as a plain number only when it matches exactly, else a divisor, in the
// alternate layout on TA/TB (alt_divisors). Where this differs from Linux, on purpose:
// - Linux floors the mantissa (the chip then runs fast, by up to 1/mantissa: 3.1% just under
//   12 M); here the mantissa and exponent are the pair nearest the wanted rate;
// - Linux sends whatever it computed; here a rate off by more than 3% is refused.
import { pl2303TypeInfo, type Pl2303Type } from './types.ts';

/** Rates the chips take as plain numbers (pl2303.c's baud_sup). */
export const PL2303_DIRECT_BAUDS: readonly number[] = Object.freeze([
  75, 150, 300, 600, 1200, 1800, 2400, 3600, 4800, 7200, 9600, 14400, 19200, 28800, 38400, 57600,
  115200, 230400, 460800, 614400, 921600, 1228800, 2457600, 3000000, 6000000,
]);

/** Largest relative error between the requested and the real rate that is accepted. */
export const PL2303_BAUD_TOLERANCE = 0.03;

/** The divisor clock: baud = 12 MHz * 32 / divisor. */
const DIVISOR_BASE = 12_000_000 * 32;

export type Pl2303BaudMethod = 'direct' | 'divisor' | 'alt-divisor';

export interface Pl2303BaudEncoding {
  /** The 4 baud bytes of SET_LINE, as sent. */
  bytes: Uint8Array;
  /** The rate the chip really runs (exact, not rounded; may be fractional for divisors). */
  actual: number;
  /**
   * The rate Linux's pl2303 reports back through termios for this encoding
   * (pl2303_encode_baud_rate's tty_encode_baud_rate): the direct rate as sent, or for a divisor
   * the kernel's integer arithmetic, (12 MHz * 32 / mantissa) >> shift.
   */
  reported: number;
  method: Pl2303BaudMethod;
}

/** The rate cannot be run within 3% on this chip type, or is not a rate at all. */
export class Pl2303BaudError extends Error {
  override readonly name = 'Pl2303BaudError';
  constructor(
    readonly requested: number,
    readonly type: Pl2303Type,
    /** Achievable rates just below and/or just above the request (empty for invalid input). */
    readonly nearest: readonly number[],
    reason: string,
  ) {
    super(`PL2303 ${type}: cannot set ${requested} baud: ${reason}`);
  }
}

interface DivisorLayout {
  method: 'divisor' | 'alt-divisor';
  /** Each exponent step divides by this. */
  radix: number;
  maxExponent: number;
  maxMantissa: number;
  pack(mantissa: number, exponent: number): Uint8Array;
}

// Standard: baud = 384e6 / (mantissa * 4^exp); mantissa bits 0-8, exponent bits 9-11.
const STANDARD: DivisorLayout = {
  method: 'divisor',
  radix: 4,
  maxExponent: 7,
  maxMantissa: 511,
  pack: (m, e) => Uint8Array.of(m & 0xff, (e << 1) | (m >> 8), 0, 0x80),
};

// TA/TB: baud = 384e6 / (mantissa * 2^exp); mantissa bits 0-10, exponent bits 13-15 then 16
// (its low bit sits alone in byte 2).
const ALTERNATE: DivisorLayout = {
  method: 'alt-divisor',
  radix: 2,
  maxExponent: 15,
  maxMantissa: 2047,
  pack: (m, e) => Uint8Array.of(m & 0xff, ((e & ~1) << 4) | (m >> 8), e & 1, 0x80),
};

interface Candidate {
  rate: number;
  mantissa: number;
  exponent: number;
}

interface Search {
  /** Nearest to the target, ties to the smaller exponent (more mantissa resolution). */
  best: Candidate | null;
  /** Largest rate <= target. */
  below: number | undefined;
  /** Smallest rate >= target. */
  above: number | undefined;
}

function searchDivisors(layout: DivisorLayout, target: number, maxBaud: number): Search {
  let best: Candidate | null = null;
  let bestErr = Infinity;
  let below: number | undefined;
  let above: number | undefined;
  for (let e = 0; e <= layout.maxExponent; e++) {
    const scale = layout.radix ** e;
    const x = DIVISOR_BASE / (target * scale);
    // Look a step either side of floor(x): float error can put an exact quotient one off.
    const fl = Math.floor(x);
    const tried = new Set<number>();
    for (let m = fl - 1; m <= fl + 2; m++) {
      const mc = Math.min(Math.max(m, 1), layout.maxMantissa);
      if (tried.has(mc)) continue;
      tried.add(mc);
      const rate = DIVISOR_BASE / (mc * scale);
      if (rate > maxBaud) continue;
      const err = Math.abs(rate - target) / target;
      if (err < bestErr) {
        bestErr = err;
        best = { rate, mantissa: mc, exponent: e };
      }
      if (rate <= target && (below === undefined || rate > below)) below = rate;
      if (rate >= target && (above === undefined || rate < above)) above = rate;
    }
  }
  return { best, below, above };
}

function directBytes(baud: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, baud, true);
  return b;
}

function relErr(actual: number, requested: number): number {
  return Math.abs(actual - requested) / requested;
}

function nearestList(below: number | undefined, above: number | undefined): number[] {
  const out: number[] = [];
  if (below !== undefined) out.push(below);
  if (above !== undefined && above !== below) out.push(above);
  return out;
}

function formatRate(r: number): string {
  return Number.isInteger(r) ? String(r) : r.toFixed(2);
}

function refuse(type: Pl2303Type, baud: number, nearest: number[], maxBaud: number): never {
  const pct = `${PL2303_BAUD_TOLERANCE * 100}%`;
  const near = nearest.length
    ? `nearest achievable: ${nearest.map(formatRate).join(' and ')} baud`
    : 'nothing achievable';
  const why = baud > maxBaud ? ` (maximum ${maxBaud})` : '';
  throw new Pl2303BaudError(baud, type, nearest, `no rate within ${pct}${why}; ${near}`);
}

/**
 * Encodes `baud` for SET_LINE on chip `type`: the 4 baud bytes and the rate the chip will
 * really run. Throws Pl2303BaudError for rates <= 0 or non-finite, and when no achievable rate
 * (at most the type's maximum) is within 3% of the request.
 */
export function encodePl2303Baud(type: Pl2303Type, baud: number): Pl2303BaudEncoding {
  const info = pl2303TypeInfo(type);
  if (typeof baud !== 'number' || !Number.isFinite(baud) || baud <= 0) {
    throw new Pl2303BaudError(baud, type, [], 'the rate must be a positive finite number');
  }
  const target = Math.min(baud, info.maxBaud);

  if (info.noDivisors) {
    // Plain number only: the nearest integer, at least 1, at most the maximum.
    const value = Math.min(Math.max(Math.round(target), 1), info.maxBaud);
    if (relErr(value, baud) > PL2303_BAUD_TOLERANCE) {
      const below = Math.floor(target) >= 1 ? Math.floor(target) : undefined;
      const above = baud <= info.maxBaud ? Math.max(Math.ceil(baud), 1) : undefined;
      refuse(type, baud, nearestList(below, above), info.maxBaud);
    }
    return { bytes: directBytes(value), actual: value, reported: value, method: 'direct' };
  }

  if (PL2303_DIRECT_BAUDS.includes(target)) {
    if (relErr(target, baud) > PL2303_BAUD_TOLERANCE) {
      refuse(type, baud, [target], info.maxBaud);
    }
    return { bytes: directBytes(target), actual: target, reported: target, method: 'direct' };
  }

  const layout = info.altDivisors ? ALTERNATE : STANDARD;
  const s = searchDivisors(layout, target, info.maxBaud);
  if (!s.best || relErr(s.best.rate, baud) > PL2303_BAUD_TOLERANCE) {
    // Direct-table rates are achievable too; they can be the nearest neighbours.
    let below = s.below;
    let above = baud <= info.maxBaud ? s.above : undefined;
    for (const d of PL2303_DIRECT_BAUDS) {
      if (d > info.maxBaud) continue;
      if (d <= target && (below === undefined || d > below)) below = d;
      if (d >= baud && (above === undefined || d < above)) above = d;
    }
    refuse(type, baud, nearestList(below, above), info.maxBaud);
  }
  return {
    bytes: layout.pack(s.best.mantissa, s.best.exponent),
    actual: s.best.rate,
    reported: Math.floor(Math.floor(DIVISOR_BASE / s.best.mantissa) / layout.radix ** s.best.exponent),
    method: layout.method,
  };
}

// ---------------------------------------------------------------------------------------------
// SET_LINE / GET_LINE line coding: baud field (4 bytes), stop bits, parity, data bits.

export type Pl2303StopBits = 1 | 1.5 | 2;
export type Pl2303Parity = 'none' | 'odd' | 'even' | 'mark' | 'space';
export type Pl2303DataBits = 5 | 6 | 7 | 8;

export interface Pl2303LineCoding {
  /** The 4 baud bytes as sent (a plain rate or a divisor), e.g. encodePl2303Baud(...).bytes. */
  baudBytes: Uint8Array;
  stopBits: Pl2303StopBits;
  parity: Pl2303Parity;
  dataBits: Pl2303DataBits;
}

export const PL2303_LINE_CODING_LENGTH = 7;

const STOP_CODES: ReadonlyMap<Pl2303StopBits, number> = new Map([[1, 0], [1.5, 1], [2, 2]]);
const PARITIES: readonly Pl2303Parity[] = ['none', 'odd', 'even', 'mark', 'space'];

/** A line coding (to send or as received) has a field out of range. */
export class Pl2303LineCodingError extends Error {
  override readonly name = 'Pl2303LineCodingError';
  constructor(
    readonly field: 'length' | 'baudBytes' | 'stopBits' | 'parity' | 'dataBits',
    readonly value: unknown,
    expected: string,
  ) {
    super(`PL2303 line coding: invalid ${field} ${describe(value)}; expected ${expected}`);
  }
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `(${v.length} bytes)`;
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/** The 7 SET_LINE bytes. 1.5 stop bits is sent as asked; Linux itself only uses it with 5 data bits. */
export function encodePl2303LineCoding(lc: Pl2303LineCoding): Uint8Array {
  if (!(lc.baudBytes instanceof Uint8Array) || lc.baudBytes.length !== 4) {
    throw new Pl2303LineCodingError('baudBytes', lc.baudBytes, '4 bytes');
  }
  const stop = STOP_CODES.get(lc.stopBits);
  if (stop === undefined) throw new Pl2303LineCodingError('stopBits', lc.stopBits, '1, 1.5 or 2');
  const parity = PARITIES.indexOf(lc.parity);
  if (parity < 0) throw new Pl2303LineCodingError('parity', lc.parity, PARITIES.join('/'));
  if (!isDataBits(lc.dataBits)) throw new Pl2303LineCodingError('dataBits', lc.dataBits, '5, 6, 7 or 8');
  const out = new Uint8Array(PL2303_LINE_CODING_LENGTH);
  out.set(lc.baudBytes, 0);
  out[4] = stop;
  out[5] = parity;
  out[6] = lc.dataBits;
  return out;
}

/** Parses the 7 bytes of SET_LINE/GET_LINE; the baud field is returned raw (it may be a divisor). */
export function decodePl2303LineCoding(bytes: Uint8Array): Pl2303LineCoding {
  if (bytes.length !== PL2303_LINE_CODING_LENGTH) {
    throw new Pl2303LineCodingError('length', bytes.length, `${PL2303_LINE_CODING_LENGTH} bytes`);
  }
  const stopBits = ([1, 1.5, 2] as const)[bytes[4]];
  if (stopBits === undefined) throw new Pl2303LineCodingError('stopBits', bytes[4], 'code 0, 1 or 2');
  const parity = PARITIES[bytes[5]];
  if (parity === undefined) throw new Pl2303LineCodingError('parity', bytes[5], 'code 0..4');
  const dataBits = bytes[6];
  if (!isDataBits(dataBits)) throw new Pl2303LineCodingError('dataBits', dataBits, '5, 6, 7 or 8');
  return { baudBytes: bytes.slice(0, 4), stopBits, parity, dataBits };
}

/** The baud field as the little-endian u32 it is on the wire. */
export function pl2303BaudField(baudBytes: Uint8Array): number {
  if (baudBytes.length !== 4) throw new Pl2303LineCodingError('baudBytes', baudBytes, '4 bytes');
  return new DataView(baudBytes.buffer, baudBytes.byteOffset, 4).getUint32(0, true);
}

/**
 * Whether two SET_LINE payloads are identical: pl2303.c skips a SET_LINE equal to the last
 * one sent, as some chips lose bytes when the settings are re-set.
 */
export function samePl2303LineCoding(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (!a || a.length !== b.length) return false;
  return a.every((v, i) => v === b[i]);
}

function isDataBits(v: unknown): v is Pl2303DataBits {
  return v === 5 || v === 6 || v === 7 || v === 8;
}
