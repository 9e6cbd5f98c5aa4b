// CP210x baud encoding: the 32-bit rate SET_BAUDRATE (0x1E) carries, and the rate the part then
// runs. Follows Linux's cp210x.c `cp210x_change_speed`:
// - the request is clamped to the port's range (`cp210x_init_max_speed`), as Linux does: a rate
//   far outside the range is not refused but sent as the nearest end (`clamped` says so);
// - parts with an exact baud generator (CP2104, CP2102N, CP2105's ECI) get the rate the 48 MHz
//   divider really produces (`cp210x_get_actual_rate`), so value and actual are equal;
// - the others get the AN205 Table 1 rate below 1 M (`cp210x_get_an205_rate`); at or above 1 M
//   the rate is sent as is.
// What the part runs: for table parts the nominal AN205 "UART baud rate" of the value (a CP2102
// asked for 1 000 000 runs 921 600, the table's top row); at or above 1 M on CP2108 and unknown
// parts, the 48 MHz divider (an assumption: AN205 covers CP2101-3 only).
// Only a rate that is no rate at all (0, negative, not an integer) is a typed refusal: Linux
// leaves B0 unimplemented and never sends 0.
import type { Cp210xBaudPart } from './parts.ts';

/** A rate the encoder cannot take at all. */
export class Cp210xBaudError extends Error {
  override readonly name = 'Cp210xBaudError';
  constructor(
    readonly requested: number,
    readonly part: Cp210xBaudPart,
    message: string,
  ) {
    super(message);
  }
}

export interface Cp210xBaudRange {
  readonly min: number;
  readonly max: number;
  /** The 48 MHz divider's actual rate is sent (else the AN205 table below 1 M). */
  readonly actualRate: boolean;
}

/** Per-port ranges (`cp210x_init_max_speed`; the minimum is 300 except on CP2105's SCI). */
export const CP210X_BAUD_RANGES: Readonly<Record<Cp210xBaudPart, Cp210xBaudRange>> = Object.freeze({
  'CP2101': { min: 300, max: 921_600, actualRate: false },
  'CP2102': { min: 300, max: 1_000_000, actualRate: false },
  'CP2103': { min: 300, max: 1_000_000, actualRate: false },
  'CP2104': { min: 300, max: 2_000_000, actualRate: true },
  'CP2105-ECI': { min: 300, max: 2_000_000, actualRate: true },
  'CP2105-SCI': { min: 2400, max: 921_600, actualRate: false },
  'CP2108': { min: 300, max: 2_000_000, actualRate: false },
  'CP2102N': { min: 300, max: 3_000_000, actualRate: true },
  'unknown': { min: 300, max: 2_000_000, actualRate: false },
});

/**
 * AN205 Table 1 as [highest request, UART rate] rows (Linux's `cp210x_an205_table1`); a request
 * above the last row's bound (and below 1 M, where the table is used) runs 921 600.
 */
export const CP210X_AN205_TABLE: readonly (readonly [number, number])[] = Object.freeze([
  [300, 300], [600, 600], [1200, 1200], [1800, 1800], [2400, 2400], [4000, 4000],
  [4803, 4800], [7207, 7200], [9612, 9600], [14428, 14400], [16062, 16000], [19250, 19200],
  [28912, 28800], [38601, 38400], [51558, 51200], [56280, 56000], [58053, 57600], [64111, 64000],
  [77608, 76800], [117028, 115200], [129347, 128000], [156868, 153600], [237832, 230400],
  [254234, 250000], [273066, 256000], [491520, 460800], [567138, 500000], [670254, 576000],
].map((r) => Object.freeze(r) as readonly [number, number]));

/** The AN205 rate of a request (`cp210x_get_an205_rate`). */
export function cp210xAn205Rate(baud: number): number {
  for (const [bound, rate] of CP210X_AN205_TABLE) if (baud <= bound) return rate;
  return 921_600;
}

/** The rate the 48 MHz divider gives for a request: prescale 4 at or below 365, divider rounded to nearest (`cp210x_get_actual_rate`). */
export function cp210xActualRate(baud: number): number {
  const prescale = baud <= 365 ? 4 : 1;
  const div = Math.round(48_000_000 / (2 * prescale * baud));
  return Math.floor(48_000_000 / (2 * prescale * div));
}

export interface Cp210xBaudEncoding {
  /** The u32 SET_BAUDRATE carries (what Linux also reports to termios). */
  readonly value: number;
  /** The rate the part runs. */
  readonly actual: number;
  /** The request was outside the port's range and was clamped to its nearer end. */
  readonly clamped: boolean;
}

export function encodeCp210xBaud(part: Cp210xBaudPart, baud: number): Cp210xBaudEncoding {
  const range = CP210X_BAUD_RANGES[part];
  if (!range) throw new Cp210xBaudError(baud, part, `unknown CP210x part '${String(part)}'`);
  if (!Number.isInteger(baud) || baud <= 0) {
    throw new Cp210xBaudError(baud, part, `baud rate must be a positive integer, got ${String(baud)}`);
  }
  const c = Math.min(range.max, Math.max(range.min, baud));
  let value: number;
  let actual: number;
  if (range.actualRate) {
    value = actual = cp210xActualRate(c);
  } else if (c < 1_000_000) {
    value = actual = cp210xAn205Rate(c);
  } else {
    value = c;
    // CP2102/3 clamp at exactly 1 M, which their table runs as 921 600.
    actual = part === 'CP2102' || part === 'CP2103' ? cp210xAn205Rate(c) : cp210xActualRate(c);
  }
  return Object.freeze({ value, actual, clamped: c !== baud });
}
