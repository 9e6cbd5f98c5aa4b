// The CH341 line control register (0x18), as Linux's ch341.c `ch341_set_termios` builds it and
// writes it with WRITE_REG wValue 0x2518 (0x25, LCR2, gets 0). Chips older than version 0x30 keep
// their framing in other registers: Linux skips the write there (`ch341_set_baudrate_lcr`).

export const CH341_LCR = Object.freeze({
  ENABLE_RX: 0x80,
  ENABLE_TX: 0x40,
  MARK_SPACE: 0x20,
  PAR_EVEN: 0x10,
  ENABLE_PAR: 0x08,
  STOP_BITS_2: 0x04,
  CS_MASK: 0x03,
} as const);

/** The first chip version whose LCR Linux writes (older ones are skipped in `ch341_set_baudrate_lcr`). */
export const CH341_LCR_MIN_VERSION = 0x30;

export type Ch341Parity = 'none' | 'odd' | 'even' | 'mark' | 'space';

export interface Ch341Framing {
  dataBits: 5 | 6 | 7 | 8;
  parity: Ch341Parity;
  /** 1 or 2; 1.5 has no encoding (CSTOPB is 2). */
  stopBits: 1 | 2;
}

export class Ch341LcrError extends Error {
  override readonly name = 'Ch341LcrError';
}

/** The LCR byte for a framing, RX and TX enabled. */
export function encodeCh341Lcr(f: Ch341Framing): number {
  if (![5, 6, 7, 8].includes(f.dataBits)) throw new Ch341LcrError(`CH341 takes 5-8 data bits, got ${String(f.dataBits)}`);
  if (f.stopBits !== 1 && f.stopBits !== 2) throw new Ch341LcrError(`CH341 takes 1 or 2 stop bits, got ${String(f.stopBits)}`);
  let lcr = CH341_LCR.ENABLE_RX | CH341_LCR.ENABLE_TX | (f.dataBits - 5);
  switch (f.parity) {
    case 'none':
      break;
    case 'odd':
      lcr |= CH341_LCR.ENABLE_PAR;
      break;
    case 'even':
      lcr |= CH341_LCR.ENABLE_PAR | CH341_LCR.PAR_EVEN;
      break;
    case 'mark':
      lcr |= CH341_LCR.ENABLE_PAR | CH341_LCR.MARK_SPACE;
      break;
    case 'space':
      lcr |= CH341_LCR.ENABLE_PAR | CH341_LCR.MARK_SPACE | CH341_LCR.PAR_EVEN;
      break;
    default:
      throw new Ch341LcrError(`unknown parity ${String(f.parity)}`);
  }
  if (f.stopBits === 2) lcr |= CH341_LCR.STOP_BITS_2;
  return lcr;
}

/** The framing an LCR byte selects (RX/TX enable bits aside). */
export function decodeCh341Lcr(lcr: number): Ch341Framing & { rx: boolean; tx: boolean } {
  const par = lcr & (CH341_LCR.ENABLE_PAR | CH341_LCR.PAR_EVEN | CH341_LCR.MARK_SPACE);
  let parity: Ch341Parity = 'none';
  if (par & CH341_LCR.ENABLE_PAR) {
    const even = (par & CH341_LCR.PAR_EVEN) !== 0;
    parity = par & CH341_LCR.MARK_SPACE ? (even ? 'space' : 'mark') : even ? 'even' : 'odd';
  }
  return {
    dataBits: ((lcr & CH341_LCR.CS_MASK) + 5) as 5 | 6 | 7 | 8,
    parity,
    stopBits: lcr & CH341_LCR.STOP_BITS_2 ? 2 : 1,
    rx: (lcr & CH341_LCR.ENABLE_RX) !== 0,
    tx: (lcr & CH341_LCR.ENABLE_TX) !== 0,
  };
}
