// CH341 baud encoding: the value written with WRITE_REG (0x9A) wValue 0x1312 (register 0x12, the
// prescaler, gets the low byte; 0x13, the divisor, the high byte), as Linux's ch341.c
// `ch341_get_divisor` and `ch341_set_baudrate_lcr` compute it:
//   rate = 48 MHz / (2^(12 - 3*ps - fact) * div),  ps 0-3, fact 0/1, div 2-256 (9-256 with fact 1)
//   wIndex = (256 - div) << 8 | fact << 2 | ps, plus 0x80 on chips newer than version 0x27
//   (without it they hold data until a 32-byte packet is full).
// The request is clamped to 46 .. 3 000 000 as Linux does (`clamped` says so); only a rate that is
// no rate (0, negative, not an integer) is a typed refusal (Linux returns -EINVAL for 0).

export const CH341_CLOCK = 48_000_000;
/** Lowest rate: 1 + (48 MHz - 1) / (4096 * 256), i.e. 45.78 rounded up (`CH341_MIN_BPS`). */
export const CH341_MIN_BPS = 46;
/** Highest rate: 48 MHz / (8 * 2) (`CH341_MAX_BPS`). */
export const CH341_MAX_BPS = 3_000_000;
/** The "send now, do not wait for 32 bytes" flag of versions above 0x27. */
export const CH341_BAUD_NO_WAIT = 0x80;

export class Ch341BaudError extends Error {
  override readonly name = 'Ch341BaudError';
  constructor(
    readonly requested: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Ch341BaudOptions {
  /**
   * CH341_QUIRK_LIMITED_PRESCALER: the parts whose READ_REG 0x0005 stalls do not work with the
   * prescaler's third bit, so fact 0 is forced when ps < 3 (`ch341_detect_quirks`).
   */
  limitedPrescaler?: boolean;
}

export interface Ch341BaudEncoding {
  /** The wIndex of WRITE_REG 0x1312. */
  readonly wIndex: number;
  /** The rate the chip then runs (exact, fractional). */
  readonly actual: number;
  readonly ps: number;
  readonly fact: 0 | 1;
  readonly div: number;
  readonly clamped: boolean;
}

/** The clock divider before the 8-bit divisor: 2^(12 - 3ps - fact) (`CH341_CLK_DIV`). */
export function ch341ClockDivider(ps: number, fact: number): number {
  return 2 ** (12 - 3 * ps - fact);
}

/** Lowest rate each prescaler reaches with fact 1 and a divisor below 512 (`ch341_min_rates`, integer division). */
function minRate(ps: number): number {
  return Math.floor(CH341_CLOCK / (ch341ClockDivider(ps, 1) * 512));
}

export function encodeCh341Baud(baud: number, version: number, options: Ch341BaudOptions = {}): Ch341BaudEncoding {
  if (!Number.isInteger(baud) || baud <= 0) throw new Ch341BaudError(baud, `baud rate must be a positive integer, got ${String(baud)}`);
  if (!Number.isInteger(version) || version < 0 || version > 0xff) {
    throw new Ch341BaudError(baud, `chip version must be a byte, got ${String(version)}`);
  }
  const speed = Math.min(CH341_MAX_BPS, Math.max(CH341_MIN_BPS, baud));
  // Highest prescaler whose fact-1 minimum is below the rate.
  let ps = 3;
  while (ps > 0 && !(speed > minRate(ps))) ps--;
  let fact: 0 | 1 = 1;
  let clkDiv = ch341ClockDivider(ps, fact);
  let div = Math.floor(CH341_CLOCK / (clkDiv * speed));
  const forceFact0 = ps < 3 && options.limitedPrescaler === true;
  if (div < 9 || div > 255 || forceFact0) {
    div = Math.floor(div / 2);
    clkDiv *= 2;
    fact = 0;
  }
  // Next divisor when its rate is nearer; compared at 16x in integers as Linux does.
  const above = Math.floor((16 * CH341_CLOCK) / (clkDiv * div)) - 16 * speed;
  const below = 16 * speed - Math.floor((16 * CH341_CLOCK) / (clkDiv * (div + 1)));
  if (above >= below) div++;
  // An even divisor with fact 1 is the same rate with fact 0 and half the divisor.
  if (fact === 1 && div % 2 === 0) {
    div /= 2;
    fact = 0;
  }
  let wIndex = ((0x100 - div) << 8) | (fact << 2) | ps;
  if (version > 0x27) wIndex |= CH341_BAUD_NO_WAIT;
  const actual = CH341_CLOCK / (ch341ClockDivider(ps, fact) * div);
  return Object.freeze({ wIndex, actual, ps, fact, div, clamped: speed !== baud });
}
