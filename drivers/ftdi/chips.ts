// FTDI chip generations and how to tell them apart. Pure data and lookups, no I/O.
// Facts checked against Linux drivers/usb/serial/ftdi_sio.c (ftdi_determine_type,
// get_ftdi_divisor, read_latency_timer) and libftdi.

export type FtdiChip =
  | 'SIO'
  | 'FT232AM'
  | 'FT232BM'
  | 'FT2232C'
  | 'FT232R'
  | 'FT2232H'
  | 'FT4232H'
  | 'FT232H'
  | 'FT-X'
  | 'FT2233HP'
  | 'FT4233HP'
  | 'FT2232HP'
  | 'FT4232HP'
  | 'FT233HP'
  | 'FT232HP'
  | 'FT4232HA';

/**
 * How the chip turns SET_BAUD_RATE into a bit clock:
 * - `sio`: a table of ten codes, no divisor;
 * - `am`:  3 MHz / divisor with 1/8, 1/4 and 1/2 fractions only (FT8U232AM);
 * - `bm`:  3 MHz / divisor in eighths, fraction code in bits 14..16;
 * - `h`:   as `bm`, plus bit 17 switching to a 12 MHz clock (120 MHz / 10).
 */
export type FtdiClockFamily = 'sio' | 'am' | 'bm' | 'h';

export interface FtdiChipInfo {
  readonly chip: FtdiChip;
  /** The bcdDevice a genuine part reports (SIO: anything below 0x200; 0x0001 is typical). */
  readonly bcdDevice: number;
  readonly clock: FtdiClockFamily;
  /** Lowest rate the chip can produce (largest divisor); not rounded. */
  readonly minBaud: number;
  /** Highest rate the chip can produce (divisor 1). */
  readonly maxBaud: number;
  /** Number of UART channels, one USB interface each. */
  readonly channels: number;
  /** Default bulk wMaxPacketSize: 64 on full-speed parts, 512 on high-speed H parts. */
  readonly maxPacketSize: number;
  /** Whether the part is a USB 2.0 high-speed device. */
  readonly highSpeed: boolean;
  /**
   * bcdUSB in the real part's device descriptor. Full-speed parts from the BM on report 0x200
   * too (USB 2.0 full speed; e.g. FT232R and FT230X), only SIO/AM report USB 1.1.
   */
  readonly bcdUSB: number;
  /** GET/SET_LATENCY_TIMER exist (not on SIO or AM). */
  readonly hasLatencyTimer: boolean;
  /**
   * Every request carries the channel (1 + bInterfaceNumber) in wIndex's low byte, and
   * SET_BAUD_RATE moves divisor bits 16+ to wIndex's high byte. Linux does this for every chip
   * except SIO, AM, BM and R, so also for the single-channel FT232H, FT-X, FT233HP and FT232HP
   * ("newer single-channel chip types use the same request format"; FT232H and FT-X also
   * accept selector 0).
   */
  readonly channelised: boolean;
  /** High-speed H-class part with the 12 MHz baud clock (bit 17 of the divisor). */
  readonly hClass: boolean;
}

// The SIO's ten table rates, 300 .. 115200.
const SIO_MIN = 300;
const SIO_MAX = 115_200;
// 3 MHz (48 MHz / 16) divided by the largest divisor: 14 integer bits plus the biggest fraction.
const AM_MIN = 3_000_000 / (0x3fff + 4 / 8);
const BM_MIN = 3_000_000 / (0x3fff + 7 / 8);

type Row = [
  chip: FtdiChip,
  bcdDevice: number,
  clock: FtdiClockFamily,
  channels: number,
  channelised: boolean,
];

const ROWS: readonly Row[] = [
  ['SIO', 0x0001, 'sio', 1, false],
  ['FT232AM', 0x0200, 'am', 1, false],
  ['FT232BM', 0x0400, 'bm', 1, false],
  ['FT2232C', 0x0500, 'bm', 2, true],
  ['FT232R', 0x0600, 'bm', 1, false],
  ['FT2232H', 0x0700, 'h', 2, true],
  ['FT4232H', 0x0800, 'h', 4, true],
  ['FT232H', 0x0900, 'h', 1, true],
  ['FT-X', 0x1000, 'bm', 1, true],
  ['FT2233HP', 0x2800, 'h', 2, true],
  ['FT4233HP', 0x2900, 'h', 4, true],
  ['FT2232HP', 0x3000, 'h', 2, true],
  ['FT4232HP', 0x3100, 'h', 4, true],
  ['FT233HP', 0x3200, 'h', 1, true],
  ['FT232HP', 0x3300, 'h', 1, true],
  ['FT4232HA', 0x3600, 'h', 4, true],
];

function info([chip, bcdDevice, clock, channels, channelised]: Row): FtdiChipInfo {
  const hClass = clock === 'h';
  const minBaud = clock === 'sio' ? SIO_MIN : clock === 'am' ? AM_MIN : BM_MIN;
  const maxBaud = clock === 'sio' ? SIO_MAX : hClass ? 12_000_000 : 3_000_000;
  return Object.freeze({
    chip,
    bcdDevice,
    clock,
    minBaud,
    maxBaud,
    channels,
    maxPacketSize: hClass ? 512 : 64,
    highSpeed: hClass,
    bcdUSB: clock === 'sio' || clock === 'am' ? 0x110 : 0x200,
    hasLatencyTimer: clock !== 'sio' && clock !== 'am',
    channelised,
    hClass,
  });
}

export const FTDI_CHIPS: Readonly<Record<FtdiChip, FtdiChipInfo>> = Object.freeze(
  Object.fromEntries(ROWS.map((row) => [row[0], info(row)])) as Record<FtdiChip, FtdiChipInfo>,
);

/** Every chip, oldest first. */
export const FTDI_CHIP_LIST: readonly FtdiChip[] = Object.freeze(ROWS.map((row) => row[0]));

export function ftdiChipInfo(chip: FtdiChip): FtdiChipInfo {
  const found = FTDI_CHIPS[chip];
  if (!found) throw new TypeError(`'${String(chip)}' is not an FTDI chip this driver knows`);
  return found;
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

/** bcdDevice (or descriptor) matches no FTDI generation this driver supports. */
export class UnsupportedFtdiChipError extends Error {
  override readonly name = 'UnsupportedFtdiChipError';
  constructor(
    readonly bcdDevice: number,
    detail?: string,
  ) {
    const shown = Number.isInteger(bcdDevice) ? hex4(bcdDevice) : String(bcdDevice);
    super(`unsupported FTDI chip: bcdDevice ${shown}${detail ? ` (${detail})` : ''}`);
  }
}

/** An interface or channel number the chip does not have. */
export class FtdiChannelError extends Error {
  override readonly name = 'FtdiChannelError';
  constructor(
    readonly chip: FtdiChip,
    readonly value: number,
    what: 'interface' | 'channel',
  ) {
    const c = FTDI_CHIPS[chip];
    const valid =
      what === 'interface'
        ? `0..${c.channels - 1}`
        : c.channelised
          ? `1..${c.channels}`
          : '0 (the chip takes no channel in wIndex)';
    super(`${chip} has no ${what} ${value}; valid: ${valid}`);
  }
}

const BY_BCD = new Map<number, FtdiChip>(
  ROWS.filter(([, , clock]) => clock !== 'sio').map(([chip, bcd]) => [bcd, chip]),
);

/**
 * Which chip a device is, from its device descriptor, following Linux's exact bcdDevice table.
 * Works the same for the counterfeit parts whose PID was zeroed: only bcdDevice counts.
 *
 * Quirk: an FT232BM whose iSerialNumber is 0 reports bcdDevice 0x200 like an AM; the AM has no
 * latency timer, so if the caller could read it (`latencyTimerReadable`) the chip is a BM.
 * `numInterfaces`, when given, must not exceed the chip's channel count.
 */
export function detectFtdiChip(
  descriptor: { bcdDevice: number; iSerialNumber?: number; numInterfaces?: number },
  opts: { latencyTimerReadable?: boolean } = {},
): FtdiChip {
  const { bcdDevice, iSerialNumber, numInterfaces } = descriptor;
  if (!Number.isInteger(bcdDevice) || bcdDevice < 0 || bcdDevice > 0xffff) {
    throw new UnsupportedFtdiChipError(bcdDevice, 'not a 16-bit bcdDevice');
  }
  let chip: FtdiChip | undefined;
  if (bcdDevice < 0x200) chip = 'SIO';
  else if (bcdDevice === 0x200) {
    chip = iSerialNumber === 0 && opts.latencyTimerReadable === true ? 'FT232BM' : 'FT232AM';
  } else chip = BY_BCD.get(bcdDevice);
  if (!chip) throw new UnsupportedFtdiChipError(bcdDevice, 'no FTDI generation uses it');

  const channels = FTDI_CHIPS[chip].channels;
  if (numInterfaces !== undefined && numInterfaces > channels) {
    throw new UnsupportedFtdiChipError(
      bcdDevice,
      `${chip} has ${channels} interface${channels === 1 ? '' : 's'} but the descriptor lists ${numInterfaces}`,
    );
  }
  return chip;
}

/**
 * The wIndex channel for requests to `interfaceNumber`: 1 + interfaceNumber on channelised
 * chips (Linux CHANNEL_A + bInterfaceNumber), 0 on SIO/AM/BM/R.
 */
export function ftdiChannel(chip: FtdiChip, interfaceNumber: number): number {
  const c = ftdiChipInfo(chip);
  if (!Number.isInteger(interfaceNumber) || interfaceNumber < 0 || interfaceNumber >= c.channels) {
    throw new FtdiChannelError(chip, interfaceNumber, 'interface');
  }
  return c.channelised ? 1 + interfaceNumber : 0;
}

/** Throws unless `channel` is what the chip expects in wIndex (see `channelised`). */
export function checkFtdiChannel(chip: FtdiChip, channel: number): void {
  const c = ftdiChipInfo(chip);
  const ok = c.channelised
    ? Number.isInteger(channel) && channel >= 1 && channel <= c.channels
    : channel === 0;
  if (!ok) throw new FtdiChannelError(chip, channel, 'channel');
}
