// Chip-side view of the SET_LINE baud field: what rate an emulated PL2303 runs for the 4 bytes
// it was sent. Written from the chip's rules, not from the driver's encoder, so tests can check
// one against the other.
//
// The field is a little-endian 32-bit word w:
// - bit 31 clear: a plain rate. Non-HXN chips only know a fixed list of rates (anything else
//   silently runs at 9600 on real parts); HXN takes any rate up to its maximum.
// - bit 31 set (byte 3 = 0x80): a divisor of the 12 MHz * 32 clock. HXN has no divisors.
//   standard (H, HX, HXD): rate = 384e6 / (m * 4^e), m = w[8:0], e = w[11:9];
//   alternate (TA, TB):    rate = 384e6 / (m * 2^e), m = w[10:0], e = w[15:13] << 1 | w[16].
// Bits neither layout uses must be zero; a set one means the wrong layout or garbage.
import type { Pl2303Type } from '../../drivers/pl2303/types.ts';

/** The chip cannot run what the baud field says. */
export class Pl2303BaudRejected extends Error {
  override readonly name = 'Pl2303BaudRejected';
  constructor(
    readonly type: Pl2303Type,
    readonly bytes: Uint8Array,
    reason: string,
    /** What a real chip would silently do instead, where known. */
    readonly chipFallback?: number,
  ) {
    super(`emulated PL2303 ${type} rejects baud field [${hexBytes(bytes)}]: ${reason}`);
  }
}

type DivisorKind = 'standard' | 'alternate' | 'none';

const CHIPS: Record<Pl2303Type, { maxBaud: number; divisors: DivisorKind }> = {
  H: { maxBaud: 1_228_800, divisors: 'standard' },
  HX: { maxBaud: 6_000_000, divisors: 'standard' },
  HXD: { maxBaud: 12_000_000, divisors: 'standard' },
  TA: { maxBaud: 6_000_000, divisors: 'alternate' },
  TB: { maxBaud: 12_000_000, divisors: 'alternate' },
  HXN: { maxBaud: 12_000_000, divisors: 'none' },
};

const CLOCK = 384_000_000;

// The rates non-HXN chips accept as plain numbers.
const PLAIN_RATES = new Set([
  75, 150, 300, 600, 1200, 1800, 2400, 3600, 4800, 7200, 9600, 14400, 19200, 28800, 38400, 57600,
  115200, 230400, 460800, 614400, 921600, 1228800, 2457600, 3000000, 6000000,
]);

const DIVISOR_FLAG = 0x8000_0000;
// Bits 24..30 are never used by either form.
const NEVER_USED = 0x7f00_0000;
// Bits 12..23: unused by the standard layout.
const STANDARD_UNUSED = 0x00ff_f000;
// Bits 11, 12 and 17..23: unused by the alternate layout.
const ALTERNATE_UNUSED = 0x00fe_1800;

/** The rate the chip of `type` runs for these 4 SET_LINE baud bytes, or Pl2303BaudRejected. */
export function pl2303ChipBaud(type: Pl2303Type, bytes: Uint8Array): number {
  const chip = CHIPS[type];
  if (!chip) throw new TypeError(`unknown PL2303 type '${String(type)}'`);
  if (!(bytes instanceof Uint8Array) || bytes.length !== 4) {
    throw new Pl2303BaudRejected(type, Uint8Array.from(bytes ?? []), 'the baud field is 4 bytes');
  }
  const w = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
  const reject = (why: string, fallback?: number): never => {
    throw new Pl2303BaudRejected(type, bytes, why, fallback);
  };

  if (w & NEVER_USED) reject('bits 24-30 are set');

  if (!(w & DIVISOR_FLAG)) {
    if (w === 0) reject('a rate of 0');
    if (chip.divisors === 'none') {
      if (w > chip.maxBaud) reject(`${w} baud is above the maximum of ${chip.maxBaud}`);
      return w;
    }
    if (!PLAIN_RATES.has(w)) reject(`${w} is not a rate this chip takes as a plain number`, 9600);
    if (w > chip.maxBaud) reject(`${w} baud is above the maximum of ${chip.maxBaud}`);
    return w;
  }

  let mantissa: number;
  let divisor: number;
  switch (chip.divisors) {
    case 'none':
      return reject('this chip takes no divisors, only plain rates');
    case 'standard': {
      if (w & STANDARD_UNUSED) reject('bits outside the standard divisor layout are set (alternate layout?)');
      mantissa = w & 0x1ff;
      const e = (w >>> 9) & 0x7;
      divisor = mantissa * 4 ** e;
      break;
    }
    case 'alternate': {
      if (w & ALTERNATE_UNUSED) reject('bits outside the alternate divisor layout are set (standard layout?)');
      mantissa = w & 0x7ff;
      const e = ((w >>> 12) & 0xe) | ((w >>> 16) & 0x1);
      divisor = mantissa * 2 ** e;
      break;
    }
  }
  if (mantissa === 0) reject('a divisor mantissa of 0');
  const rate = CLOCK / divisor;
  if (rate > chip.maxBaud) reject(`the divisor gives ${rate} baud, above the maximum of ${chip.maxBaud}`);
  return rate;
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => `0x${x.toString(16).padStart(2, '0')}`).join(' ');
}
