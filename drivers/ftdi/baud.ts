// SET_BAUD_RATE encoding for every FTDI generation (pure).
//
// The primary choice is exactly Linux's (ftdi_sio.c get_ftdi_divisor and helpers), so wire
// values match what the kernel sends. Linux, though, also emits divisors the silicon cannot
// run (AM and BM have no divisor strictly between 1 and 2 except BM's 1.5, and nothing below
// 1) and never checks the error. Here a Linux choice that is unsupported or more than 3% off
// is replaced by the better of the two nearest rates the chip really has, and if neither is
// within 3% the rate is refused. So encoding fails exactly when no divisor is within 3%.

import { checkFtdiChannel, ftdiChipInfo } from './chips.ts';
import type { FtdiChip, FtdiChipInfo } from './chips.ts';

export const FTDI_BAUD_TOLERANCE = 0.03;

/** Rates of the SIO's table codes 0..9. */
export const FTDI_SIO_RATES: readonly number[] = Object.freeze([
  300, 600, 1200, 2400, 4800, 9600, 19_200, 38_400, 57_600, 115_200,
]);

export interface FtdiBaudSetting {
  /** SET_BAUD_RATE wValue: low 16 bits of the divisor. */
  readonly wValue: number;
  /** SET_BAUD_RATE wIndex: divisor >> 16, moved to the high byte with the channel on channelised chips. */
  readonly wIndex: number;
  /** The rate the chip really runs at. */
  readonly actual: number;
  /** The full encoded divisor (SIO: the table code). */
  readonly divisor: number;
}

export class FtdiBaudError extends Error {
  override readonly name = 'FtdiBaudError';
  constructor(
    readonly requested: number,
    readonly chip: FtdiChip,
    /** The closest rates the chip can produce, below and/or above `requested`, ascending. */
    readonly nearest: number[],
    reason: string,
  ) {
    const near = nearest.length
      ? `; nearest it can produce: ${nearest.map((r) => `${fmt(r)} baud`).join(' and ')}`
      : '';
    super(`${chip} cannot run at ${fmt(requested)} baud: ${reason}${near}`);
  }
}

function fmt(rate: number): string {
  return Number.isInteger(rate) ? String(rate) : rate.toFixed(2);
}

// 3-bit fraction code for n eighths: .5 is 1, .25 is 2, .125 is 3, the rest follow (BM and later).
const FRAC_CODE = [0, 3, 2, 4, 1, 5, 6, 7] as const;
// AM's two sub-integer bits (15..14) for the fractions it has: .125 is 3, .25 is 2, .5 is 1.
const AM_SUB_BITS: Readonly<Record<number, number>> = { 0: 0, 1: 0xc000, 2: 0x8000, 4: 0x4000 };

const H_CLOCK_BIT = 0x20000;
const EIGHTHS_3MHZ = 24_000_000; // 3 MHz * 8: rate = EIGHTHS / divisor-in-eighths
const EIGHTHS_12MHZ = 96_000_000; // 12 MHz * 8

/** One way a chip can clock: a divisor set in eighths over a base clock. */
interface ClockMode {
  readonly eighthsClock: number;
  readonly hBit: boolean;
  readonly am: boolean;
}

const MODE_AM: ClockMode = { eighthsClock: EIGHTHS_3MHZ, hBit: false, am: true };
const MODE_BM: ClockMode = { eighthsClock: EIGHTHS_3MHZ, hBit: false, am: false };
const MODE_H: ClockMode = { eighthsClock: EIGHTHS_12MHZ, hBit: true, am: false };

// Largest divisor: 14 integer bits and the biggest fraction (AM: 1/2, others: 7/8).
const MAX_EIGHTHS_BM = 0x3fff * 8 + 7;
const MAX_EIGHTHS_AM = 0x3fff * 8 + 4;

function modesOf(info: FtdiChipInfo): readonly ClockMode[] {
  if (info.clock === 'am') return [MODE_AM];
  if (info.clock === 'bm') return [MODE_BM];
  return [MODE_H, MODE_BM]; // H parts can still drop bit 17 and run the 3 MHz divisor
}

/**
 * Whether the chip has this divisor (in eighths). Below 2 only 1 (and 1.5 from the BM on)
 * exist; the AM's fractions are 0, 1/8, 1/4 and 1/2.
 */
function validEighths(mode: ClockMode, k: number): boolean {
  if (mode.am) return k === 8 || (k >= 16 && k <= MAX_EIGHTHS_AM && (k & 7) in AM_SUB_BITS);
  return k === 8 || k === 12 || (k >= 16 && k <= MAX_EIGHTHS_BM);
}

/** Largest valid divisor <= k (k an integer), or undefined. */
function validAtMost(mode: ClockMode, k: number): number | undefined {
  const max = mode.am ? MAX_EIGHTHS_AM : MAX_EIGHTHS_BM;
  if (k >= max) return max;
  if (k >= 16) {
    let d = k;
    while (!validEighths(mode, d)) d--;
    return d;
  }
  if (!mode.am && k >= 12) return 12;
  if (k >= 8) return 8;
  return undefined;
}

/** Smallest valid divisor >= k (k an integer), or undefined. */
function validAtLeast(mode: ClockMode, k: number): number | undefined {
  const max = mode.am ? MAX_EIGHTHS_AM : MAX_EIGHTHS_BM;
  if (k <= 8) return 8;
  if (!mode.am && k <= 12) return 12;
  if (k <= 16) return 16;
  if (k > max) return undefined;
  let d = k;
  while (!validEighths(mode, d)) d++;
  return d;
}

interface Candidate {
  readonly mode: ClockMode;
  readonly eighths: number;
  readonly rate: number;
}

function candidate(mode: ClockMode, eighths: number): Candidate {
  return { mode, eighths, rate: mode.eighthsClock / eighths };
}

/** Linux's divisor, as the eighths it really selects (may be one the chip lacks). */
function linuxChoice(info: FtdiChipInfo, baud: number): Candidate {
  if (info.clock === 'am') {
    // DIV_ROUND_CLOSEST(48 MHz, 2 * baud); x.7/8 rounds up; 3/8 drops to 1/4, 5/8 and 6/8 to 1/2.
    let d8 = Math.round(EIGHTHS_3MHZ / baud);
    if ((d8 & 7) === 7) d8++;
    const f = d8 & 7;
    const kept = f === 3 ? 2 : f >= 4 ? 4 : f;
    return candidate(MODE_AM, (d8 & ~7) + kept);
  }
  // H parts use the 12 MHz clock from 1200 baud up, the BM formula below.
  const mode = info.clock === 'h' && baud >= 1200 ? MODE_H : MODE_BM;
  return candidate(mode, Math.round(mode.eighthsClock / baud));
}

/** The chip's nearest producible rates around `baud`, over every clock mode it has. */
function neighbours(info: FtdiChipInfo, baud: number): { below?: Candidate; above?: Candidate } {
  const all: Candidate[] = [];
  for (const mode of modesOf(info)) {
    const e = mode.eighthsClock / baud;
    // A larger divisor is a lower rate: the rate just above baud has the divisor just below e.
    const lo = validAtMost(mode, Math.floor(e));
    const hi = validAtLeast(mode, Math.ceil(e));
    if (lo !== undefined) all.push(candidate(mode, lo));
    if (hi !== undefined) all.push(candidate(mode, hi));
  }
  let below: Candidate | undefined;
  let above: Candidate | undefined;
  for (const c of all) {
    if (c.rate <= baud && (!below || c.rate > below.rate)) below = c;
    if (c.rate >= baud && (!above || c.rate < above.rate)) above = c;
  }
  return { below, above };
}

function relErr(actual: number, requested: number): number {
  return Math.abs(actual - requested) / requested;
}

/** Raw divisor for a valid choice: integer in bits 0..13, fraction above, then the specials. */
function encodeEighths(c: Candidate): number {
  const int = c.eighths >> 3;
  const frac = c.eighths & 7;
  if (c.mode.am) {
    const raw = int | AM_SUB_BITS[frac]!;
    return raw === 1 ? 0 : raw; // divisor 1 is sent as 0 (3 Mbaud)
  }
  let raw = int | (FRAC_CODE[frac]! << 14);
  if (raw === 1) raw = 0; // divisor 1: 3 Mbaud (12 Mbaud with bit 17)
  else if (raw === 0x4001) raw = 1; // divisor 1.5: 2 Mbaud (8 Mbaud with bit 17)
  return c.mode.hBit ? raw | H_CLOCK_BIT : raw;
}

function split(info: FtdiChipInfo, divisor: number, channel: number, actual: number): FtdiBaudSetting {
  const high = divisor >>> 16;
  return {
    wValue: divisor & 0xffff,
    wIndex: info.channelised ? ((high << 8) | channel) & 0xffff : high,
    actual,
    divisor,
  };
}

function ascending(...rates: (number | undefined)[]): number[] {
  return [...new Set(rates.filter((r): r is number => r !== undefined))].sort((a, b) => a - b);
}

function encodeSio(info: FtdiChipInfo, baud: number, channel: number): FtdiBaudSetting {
  let code = 0;
  for (let i = 1; i < FTDI_SIO_RATES.length; i++) {
    if (relErr(FTDI_SIO_RATES[i]!, baud) < relErr(FTDI_SIO_RATES[code]!, baud)) code = i;
  }
  const actual = FTDI_SIO_RATES[code]!;
  if (relErr(actual, baud) <= FTDI_BAUD_TOLERANCE) return split(info, code, channel, actual);
  const below = FTDI_SIO_RATES.filter((r) => r <= baud).at(-1);
  const above = FTDI_SIO_RATES.find((r) => r >= baud);
  throw new FtdiBaudError(baud, info.chip, ascending(below, above), reason(info, baud));
}

function reason(info: FtdiChipInfo, baud: number): string {
  if (baud > info.maxBaud) return `above its maximum of ${fmt(info.maxBaud)} baud by more than 3%`;
  if (baud < info.minBaud) return `below its minimum of ${fmt(info.minBaud)} baud by more than 3%`;
  return 'no divisor gives a rate within 3%';
}

/**
 * SET_BAUD_RATE fields for `baud` on `chip`. `channel` is the wIndex channel
 * (`ftdiChannel(chip, interfaceNumber)`): 1.. on channelised chips, 0 otherwise.
 * Throws FtdiBaudError when the chip cannot get within 3% of `baud`.
 */
export function encodeFtdiBaud(chip: FtdiChip, baud: number, channel = 0): FtdiBaudSetting {
  const info = ftdiChipInfo(chip);
  checkFtdiChannel(chip, channel);
  if (typeof baud !== 'number' || Number.isNaN(baud)) {
    throw new FtdiBaudError(baud, chip, [], 'not a number');
  }
  if (baud <= 0) throw new FtdiBaudError(baud, chip, [info.minBaud], 'a rate must be above 0');
  if (baud === Infinity) throw new FtdiBaudError(baud, chip, [info.maxBaud], 'not finite');

  if (info.clock === 'sio') return encodeSio(info, baud, channel);

  let pick = linuxChoice(info, baud);
  if (!validEighths(pick.mode, pick.eighths) || relErr(pick.rate, baud) > FTDI_BAUD_TOLERANCE) {
    const { below, above } = neighbours(info, baud);
    const options = [below, above].filter((c): c is Candidate => c !== undefined);
    options.sort((a, b) => relErr(a.rate, baud) - relErr(b.rate, baud));
    const best = options[0];
    if (!best || relErr(best.rate, baud) > FTDI_BAUD_TOLERANCE) {
      throw new FtdiBaudError(baud, chip, ascending(below?.rate, above?.rate), reason(info, baud));
    }
    pick = best;
  }
  return split(info, encodeEighths(pick), channel, pick.rate);
}
