// What an emulated FTDI chip does with SET_BAUD_RATE: decode wValue/wIndex into the rate its
// baud generator runs at, or stall on values the silicon does not accept.
//
// Written from the chips' clock rules (FTDI AN232B-05, Linux ftdi_sio.h's description of the
// divisor bits), independently of the driver's encoder, so tests can check one against the other.

import type { FtdiChip } from '../../drivers/ftdi/chips.ts';

/** The chip would stall the request (or run at a rate nobody asked for). */
export class FtdiDivisorRejected extends Error {
  override readonly name = 'FtdiDivisorRejected';
  constructor(
    readonly chip: FtdiChip,
    readonly wValue: number,
    readonly wIndex: number,
    readonly reason: string,
  ) {
    super(`${chip} rejects SET_BAUD_RATE wValue 0x${hex(wValue)} wIndex 0x${hex(wIndex)}: ${reason}`);
  }
}

function hex(n: number): string {
  return Number.isInteger(n) && n >= 0 ? n.toString(16).padStart(4, '0') : String(n);
}

type Generation = 'sio' | 'am' | 'bm' | 'h';

interface ChipClock {
  readonly generation: Generation;
  readonly channels: number;
  /** wIndex low byte carries the channel (1-based) on these. */
  readonly channelByte: boolean;
  /** Also takes selector 0 for its only channel (FT232H and FT-X, per Linux commit "clean up baudrate request"). */
  readonly zeroSelector?: boolean;
}

const CLOCKS: Readonly<Record<FtdiChip, ChipClock>> = {
  SIO: { generation: 'sio', channels: 1, channelByte: false },
  FT232AM: { generation: 'am', channels: 1, channelByte: false },
  FT232BM: { generation: 'bm', channels: 1, channelByte: false },
  FT2232C: { generation: 'bm', channels: 2, channelByte: true },
  FT232R: { generation: 'bm', channels: 1, channelByte: false },
  'FT-X': { generation: 'bm', channels: 1, channelByte: true, zeroSelector: true },
  FT2232H: { generation: 'h', channels: 2, channelByte: true },
  FT4232H: { generation: 'h', channels: 4, channelByte: true },
  FT232H: { generation: 'h', channels: 1, channelByte: true, zeroSelector: true },
  FT2233HP: { generation: 'h', channels: 2, channelByte: true },
  FT4233HP: { generation: 'h', channels: 4, channelByte: true },
  FT2232HP: { generation: 'h', channels: 2, channelByte: true },
  FT4232HP: { generation: 'h', channels: 4, channelByte: true },
  FT233HP: { generation: 'h', channels: 1, channelByte: true },
  FT232HP: { generation: 'h', channels: 1, channelByte: true },
  FT4232HA: { generation: 'h', channels: 4, channelByte: true },
};

/** SIO rate codes 0..9. */
const SIO_BAUD = [300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200];

/** 48 MHz / 16: the bit clock of AM, BM and (bit 17 clear) H parts. */
const CLOCK_3MHZ = 3_000_000;
/** 120 MHz / 10: H parts with bit 17 set. */
const CLOCK_12MHZ = 12_000_000;

/** AM sub-integer bits 15..14: 00 +0, 01 +1/2, 10 +1/4, 11 +1/8. */
const AM_FRACTION = [0, 0.5, 0.25, 0.125];
/** BM and later, bits 16..14: 000 +0, 001 +1/2, 010 +1/4, 011 +1/8, 100 +3/8, 101 +5/8, 110 +3/4, 111 +7/8. */
const BM_FRACTION = [0, 0.5, 0.25, 0.125, 0.375, 0.625, 0.75, 0.875];

export interface FtdiChipBaud {
  /** Rate the baud generator runs at. */
  readonly baud: number;
  /** Channel the request addressed (1-based on channelised chips, 0 otherwise). */
  readonly channel: number;
  /** The divisor in effect, e.g. 312.5; 1 for the special value 0. */
  readonly divisor: number;
  /** Clock the divisor divides: 3 MHz, or 12 MHz with bit 17 on H parts (SIO: undefined). */
  readonly clockHz: number | undefined;
}

/**
 * Decodes SET_BAUD_RATE as the chip would. `opts.channel`, when given, is the channel the
 * emulated interface answers to: on channelised chips wIndex's low byte must name it.
 */
export function ftdiChipBaudFromDivisor(
  chip: FtdiChip,
  wValue: number,
  wIndex: number,
  opts: { channel?: number } = {},
): FtdiChipBaud {
  const c = CLOCKS[chip];
  if (!c) throw new TypeError(`unknown FTDI chip '${String(chip)}'`);
  const reject = (why: string): never => {
    throw new FtdiDivisorRejected(chip, wValue, wIndex, why);
  };
  for (const [name, v] of [
    ['wValue', wValue],
    ['wIndex', wIndex],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) reject(`${name} is not a 16-bit value`);
  }

  // Split wIndex into the divisor's bits above 15 and the channel.
  let channel = 0;
  let upper = wIndex;
  if (c.channelByte) {
    channel = wIndex & 0xff;
    upper = wIndex >> 8;
    if (channel === 0 && c.zeroSelector) channel = 1;
    if (channel < 1 || channel > c.channels) {
      reject(`channel ${channel} in wIndex's low byte; ${chip} has channels 1..${c.channels}`);
    }
    if (opts.channel !== undefined && channel !== opts.channel) {
      reject(`request names channel ${channel} but was sent to channel ${opts.channel}`);
    }
  }

  switch (c.generation) {
    case 'sio': {
      if (upper !== 0) reject('the SIO takes nothing in wIndex');
      if (wValue > 9) reject(`SIO rate code ${wValue} does not exist (codes 0..9)`);
      return { baud: SIO_BAUD[wValue]!, channel, divisor: wValue, clockHz: undefined };
    }
    case 'am': {
      if (upper !== 0) reject('the AM has no divisor bit 16 (its fractions are 0, 1/8, 1/4, 1/2)');
      const int = wValue & 0x3fff;
      const sub = wValue >> 14;
      return divided(int, sub, AM_FRACTION[sub]!, CLOCK_3MHZ, false, channel, reject);
    }
    default: {
      const hBit = (upper & 0x2) !== 0;
      if (hBit && c.generation !== 'h') reject('bit 17 (12 MHz clock) is only on H-class chips');
      if (upper > 0x3) reject(`divisor bits above 17 set (wIndex upper part 0x${upper.toString(16)})`);
      const int = wValue & 0x3fff;
      const code = (wValue >> 14) | ((upper & 0x1) << 2);
      return divided(int, code, BM_FRACTION[code]!, hBit ? CLOCK_12MHZ : CLOCK_3MHZ, true, channel, reject);
    }
  }
}

function divided(
  int: number,
  code: number,
  fraction: number,
  clockHz: number,
  hasOneAndAHalf: boolean,
  channel: number,
  reject: (why: string) => never,
): FtdiChipBaud {
  // Below 2 the generator has only two settings: 0 means divide by 1, and (BM on) 1 means 1.5.
  if (int === 0 && code === 0) return { baud: clockHz, channel, divisor: 1, clockHz };
  if (int === 1 && code === 0) {
    if (!hasOneAndAHalf) reject('value 1 (divide by 1.5) is a BM addition the AM lacks');
    return { baud: clockHz / 1.5, channel, divisor: 1.5, clockHz };
  }
  if (int < 2) reject(`divisor ${int + fraction} is below 2 and not one of the special values`);
  const divisor = int + fraction;
  return { baud: clockHz / divisor, channel, divisor, clockHz };
}
