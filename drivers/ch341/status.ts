// CH341 modem status: the interrupt IN packet and the READ_REG 0x0706 answer, as Linux's ch341.c
// (`ch341_update_status`, `ch341_get_status`) reads them. The chip reports the inputs inverted
// (active low): a clear bit means the line is asserted. Modem outputs go the same way out:
// MODEM_CTRL (0xA4) carries the bitwise NOT of DTR 0x20 | RTS 0x40 (`ch341_set_handshake`).

export const CH341_MODEM_IN = Object.freeze({ CTS: 0x01, DSR: 0x02, RI: 0x04, DCD: 0x08 } as const);
export const CH341_MODEM_OUT = Object.freeze({ DTR: 0x20, RTS: 0x40 } as const);
/** Byte 1 of an interrupt packet: several changes since the last report (`CH341_MULT_STAT`). */
export const CH341_MULT_STAT = 0x04;

export interface Ch341ModemStatus {
  cts: boolean;
  dsr: boolean;
  ri: boolean;
  dcd: boolean;
}

/** The modem lines from a status byte as the chip sends it (inverted, low nibble). */
export function decodeCh341ModemByte(raw: number): Ch341ModemStatus {
  const s = ~raw & 0x0f;
  return { cts: !!(s & CH341_MODEM_IN.CTS), dsr: !!(s & CH341_MODEM_IN.DSR), ri: !!(s & CH341_MODEM_IN.RI), dcd: !!(s & CH341_MODEM_IN.DCD) };
}

export interface Ch341InterruptStatus extends Ch341ModemStatus {
  /** The chip saw more than one change since its last packet. */
  multipleChanges: boolean;
}

/**
 * An interrupt IN packet: shorter than 4 bytes is ignored (undefined), as Linux does; byte 2 holds
 * the inverted modem lines, byte 1 the multiple-change flag.
 */
export function parseCh341InterruptStatus(packet: Uint8Array): Ch341InterruptStatus | undefined {
  if (packet.length < 4) return undefined;
  return { ...decodeCh341ModemByte(packet[2]), multipleChanges: (packet[1] & CH341_MULT_STAT) !== 0 };
}

/** The wValue of MODEM_CTRL for the wanted outputs. */
export function encodeCh341ModemControl(dtr: boolean, rts: boolean): number {
  return ~((dtr ? CH341_MODEM_OUT.DTR : 0) | (rts ? CH341_MODEM_OUT.RTS : 0)) & 0xffff;
}
