// PL2303 chip types, their properties, and type detection (Linux's pl2303_detect_type).
// Pure logic: the only I/O is through the callbacks the caller passes in.
import { transferErrorKind } from '../../src/serial/driver-api.ts';

export type Pl2303Type = 'H' | 'HX' | 'HXD' | 'TA' | 'TB' | 'HXN';

export const PL2303_TYPES: readonly Pl2303Type[] = ['H', 'HX', 'HXD', 'TA', 'TB', 'HXN'];

/** Where the flow-control bits live and what to write into them (read-modify-write). */
export interface Pl2303FlowControlRegister {
  reg: number;
  mask: number;
  none: number;
  rtsCts: number;
  /** null where the chip has no automatic XON/XOFF (legacy H). */
  xonXoff: number | null;
}

/** How the chip's FIFOs are purged. */
export type Pl2303Purge =
  /** Write 0 to `writeReg` to drop what the host sent, to `readReg` to drop what it received. */
  | { kind: 'registers'; writeReg: number; readReg: number }
  /** One write of `reg`, OR-ing `writeBit` and/or `readBit`. */
  | { kind: 'hxn-reset'; reg: number; writeBit: number; readBit: number };

export interface Pl2303TypeInfo {
  type: Pl2303Type;
  /** Linux's name for it (HXN is "G" there). */
  linuxName: string;
  maxBaud: number;
  /** Lowest rate the chip can be set to (smallest divisor rate, or 1 for direct-only HXN). */
  minBaud: number;
  /** Legacy H: clear halts on open, reg 2 = 0x24, RTS/CTS value 0x40. */
  legacy: boolean;
  /** TA/TB: divisors use the alternate 11-bit mantissa / 2^exp layout. */
  altDivisors: boolean;
  /** HXN: no divisors at all, the rate is always sent as a plain number. */
  noDivisors: boolean;
  /** HXN: vendor read 0x81 / write 0x80, no startup sequence, no `reg | 0x80` reads. */
  hxnRequests: boolean;
  /** Whether the chip can do XON/XOFF itself (only with 0x11/0x13 as start/stop). */
  autoXonXoff: boolean;
  flowControl: Pl2303FlowControlRegister;
  purge: Pl2303Purge;
  /** BREAK request support by type; an HXD clone loses it (see isPl2303Clone). */
  breakSupported: boolean;
}

// The divisor ranges bound the lowest rate: 12 MHz * 32 / (511 * 4^7) and / (2047 * 2^15).
const STD_DIVISOR_MIN = (12_000_000 * 32) / (511 * 4 ** 7);
const ALT_DIVISOR_MIN = (12_000_000 * 32) / (2047 * 2 ** 15);

const LEGACY_FLOW: Pl2303FlowControlRegister = { reg: 0, mask: 0xf0, none: 0x00, rtsCts: 0x40, xonXoff: null };
const FLOW: Pl2303FlowControlRegister = { reg: 0, mask: 0xf0, none: 0x00, rtsCts: 0x60, xonXoff: 0xc0 };
const HXN_FLOW: Pl2303FlowControlRegister = { reg: 0x0a, mask: 0x1c, none: 0x1c, rtsCts: 0x18, xonXoff: 0x0c };
const PURGE: Pl2303Purge = { kind: 'registers', writeReg: 8, readReg: 9 };
// pl2303.c: HXN reset reg 7, 0x01 = downstream pipe (host -> chip), 0x02 = upstream (chip -> host).
const HXN_PURGE: Pl2303Purge = { kind: 'hxn-reset', reg: 0x07, writeBit: 0x01, readBit: 0x02 };

function info(type: Pl2303Type, p: Omit<Pl2303TypeInfo, 'type'>): Pl2303TypeInfo {
  return Object.freeze({ type, ...p });
}

export const PL2303_TYPE_INFO: Readonly<Record<Pl2303Type, Pl2303TypeInfo>> = Object.freeze({
  H: info('H', {
    linuxName: 'H', maxBaud: 1_228_800, minBaud: STD_DIVISOR_MIN, legacy: true, altDivisors: false,
    noDivisors: false, hxnRequests: false, autoXonXoff: false, flowControl: LEGACY_FLOW, purge: PURGE,
    breakSupported: true,
  }),
  HX: info('HX', {
    linuxName: 'HX', maxBaud: 6_000_000, minBaud: STD_DIVISOR_MIN, legacy: false, altDivisors: false,
    noDivisors: false, hxnRequests: false, autoXonXoff: true, flowControl: FLOW, purge: PURGE,
    breakSupported: true,
  }),
  HXD: info('HXD', {
    linuxName: 'HXD', maxBaud: 12_000_000, minBaud: STD_DIVISOR_MIN, legacy: false, altDivisors: false,
    noDivisors: false, hxnRequests: false, autoXonXoff: true, flowControl: FLOW, purge: PURGE,
    breakSupported: true,
  }),
  TA: info('TA', {
    linuxName: 'TA', maxBaud: 6_000_000, minBaud: ALT_DIVISOR_MIN, legacy: false, altDivisors: true,
    noDivisors: false, hxnRequests: false, autoXonXoff: true, flowControl: FLOW, purge: PURGE,
    breakSupported: true,
  }),
  TB: info('TB', {
    linuxName: 'TB', maxBaud: 12_000_000, minBaud: ALT_DIVISOR_MIN, legacy: false, altDivisors: true,
    noDivisors: false, hxnRequests: false, autoXonXoff: true, flowControl: FLOW, purge: PURGE,
    breakSupported: true,
  }),
  // Linux sets no lower bound for HXN; 1 is simply the smallest non-zero direct value.
  HXN: info('HXN', {
    linuxName: 'G', maxBaud: 12_000_000, minBaud: 1, legacy: false, altDivisors: false,
    noDivisors: true, hxnRequests: true, autoXonXoff: true, flowControl: HXN_FLOW, purge: HXN_PURGE,
    breakSupported: true,
  }),
});

export function pl2303TypeInfo(type: Pl2303Type): Pl2303TypeInfo {
  const i = PL2303_TYPE_INFO[type];
  if (!i) throw new TypeError(`unknown PL2303 type '${String(type)}'`);
  return i;
}

/**
 * Whether the chip should do XON/XOFF itself: pl2303.c only enables it with IXON, without
 * IXANY, with the standard 0x11/0x13 characters, and not on the legacy H.
 */
export function pl2303AutoXonXoff(
  type: Pl2303Type,
  opts: { startChar: number; stopChar: number; ixany?: boolean },
): boolean {
  if (!pl2303TypeInfo(type).autoXonXoff || opts.ixany) return false;
  return opts.startChar === 0x11 && opts.stopChar === 0x13;
}

export interface Pl2303Descriptor {
  bDeviceClass: number;
  bMaxPacketSize0: number;
  bcdUSB: number;
  bcdDevice: number;
}

export interface Pl2303Quirks {
  /** Legacy H handling (pl2303.c's PL2303_QUIRK_LEGACY). */
  legacy: boolean;
  /**
   * HXD clone whose GET_LINE stalls (PL2303_QUIRK_NO_BREAK_GETLINE). Detection leaves it false;
   * the driver sets it from isPl2303Clone() once the type is HXD.
   */
  noBreakGetLine: boolean;
}

export interface Pl2303Detection {
  type: Pl2303Type;
  quirks: Pl2303Quirks;
}

/** The descriptor matches no PL2303 type pl2303.c knows. */
export class UnsupportedPl2303Error extends Error {
  override readonly name = 'UnsupportedPl2303Error';
  readonly descriptor: Pl2303Descriptor;
  constructor(descriptor: Pl2303Descriptor) {
    const d = descriptor;
    super(
      `unsupported PL2303: bcdUSB ${hex4(d.bcdUSB)} with bcdDevice ${hex4(d.bcdDevice)} ` +
        `(bDeviceClass ${hex2(d.bDeviceClass)}, bMaxPacketSize0 ${hex2(d.bMaxPacketSize0)}) ` +
        `matches no known chip type`,
    );
    this.descriptor = { ...descriptor };
  }
}

/** A control transfer the chip answered with a STALL; callbacks reject with it (or anything with status 'stall'). */
export class Pl2303StallError extends Error {
  override readonly name = 'Pl2303StallError';
  readonly status = 'stall' as const;
  constructor(readonly request: string) {
    super(`PL2303 stalled ${request}`);
  }
}

export function isStallError(err: unknown): boolean {
  if (err instanceof Pl2303StallError) return true;
  return (err as { status?: unknown } | null)?.status === 'stall';
}

/** Register pl2303.c reads to tell TA/TB (answers) from HXN (stalls). */
export const PL2303_HX_STATUS_REG = 0x8080;

// bcdUSB 0x200 parts that are always HXN (G series); 0x300 and 0x500 need the probe.
const HXN_BCD_DEVICE = new Set([0x100, 0x105, 0x305, 0x400, 0x405, 0x505, 0x600, 0x605, 0x700, 0x705, 0x905, 0x1005]);

/**
 * Detects the chip type the way pl2303.c's pl2303_detect_type does.
 *
 * `readRegister` must issue the legacy vendor read (0xC0 / bRequest 0x01, 1 byte) — the type is
 * not known yet — and reject when the chip stalls. It is called at most once, with 0x8080,
 * for bcdUSB 0x200 with bcdDevice 0x300 (TA vs HXN) or 0x500 (TB vs HXN). Like Linux, any
 * failure of that read counts as "no answer" (HXN), except a disconnect, which is rethrown.
 */
export async function detectPl2303Type(
  descriptor: Pl2303Descriptor,
  readRegister: (reg: number) => Promise<number>,
): Promise<Pl2303Detection> {
  const type = await detectType(descriptor, readRegister);
  return { type, quirks: { legacy: type === 'H', noBreakGetLine: false } };
}

async function detectType(
  d: Pl2303Descriptor,
  readRegister: (reg: number) => Promise<number>,
): Promise<Pl2303Type> {
  // Legacy H: communications class, or a control endpoint smaller than 64 bytes.
  if (d.bDeviceClass === 0x02) return 'H';
  if (d.bMaxPacketSize0 !== 0x40) return 'H';

  switch (d.bcdUSB) {
    case 0x101: // "USB 1.0.1" on some parts: taken as 1.1, as Linux does
    case 0x110:
      return d.bcdDevice === 0x400 ? 'HXD' : 'HX';
    case 0x200:
      if (d.bcdDevice === 0x300) return (await answersHxStatus(readRegister)) ? 'TA' : 'HXN';
      if (d.bcdDevice === 0x500) return (await answersHxStatus(readRegister)) ? 'TB' : 'HXN';
      if (HXN_BCD_DEVICE.has(d.bcdDevice)) return 'HXN';
      break;
  }
  throw new UnsupportedPl2303Error(d);
}

async function answersHxStatus(readRegister: (reg: number) => Promise<number>): Promise<boolean> {
  try {
    await readRegister(PL2303_HX_STATUS_REG);
    return true;
  } catch (err) {
    // A vanished device is not an HXN; everything else (stall, timeout, short read) is "no answer".
    if (transferErrorKind(err) === 'disconnected') throw err;
    return false;
  }
}

/**
 * Whether an HXD is a clone: pl2303.c probes GET_LINE once and treats a STALL as the mark of a
 * clone. Clones get no BREAK (the driver must refuse it) and no GET_LINE: the driver keeps the
 * last line settings it sent and uses those where it would have read them back.
 *
 * `getLine` issues GET_LINE (0xA1 / 0x21, 7 bytes) and rejects with a stall error
 * (Pl2303StallError, or any error with status 'stall') when the chip stalls. Only a stall means
 * clone; a disconnect is rethrown; other failures (timeout, short read) mean "not a clone",
 * as in Linux. Call it only for type HXD.
 */
export async function isPl2303Clone(getLine: () => Promise<Uint8Array>): Promise<boolean> {
  try {
    await getLine();
    return false;
  } catch (err) {
    if (isStallError(err)) return true;
    if (transferErrorKind(err) === 'disconnected') throw err;
    return false;
  }
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
function hex2(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}
