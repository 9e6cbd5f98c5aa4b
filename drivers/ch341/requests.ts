// CH341 vendor requests, registers and the IDs Linux's ch341.c binds (`id_table`). Every request is
// vendor type with the device as recipient (bmRequestType 0x40 out, 0xC0 in).

export const CH341_REQUEST = Object.freeze({
  READ_VERSION: 0x5f,
  READ_REG: 0x95,
  WRITE_REG: 0x9a,
  SERIAL_INIT: 0xa1,
  MODEM_CTRL: 0xa4,
} as const);

export const CH341_REG = Object.freeze({
  /** Break: bit 0 set means not breaking (`CH341_NBREAK_BITS`). */
  BREAK: 0x05,
  /** Modem status, read as the pair 0x0706. */
  STATUS: 0x06,
  STATUS2: 0x07,
  PRESCALER: 0x12,
  DIVISOR: 0x13,
  LCR: 0x18,
  LCR2: 0x25,
} as const);

/** The break bit of register 0x05: set = no break. */
export const CH341_NBREAK_BITS = 0x01;

/** The VID:PID pairs Linux's ch341 driver binds. */
export const CH341_ID_TABLE: readonly { readonly idVendor: number; readonly idProduct: number }[] = Object.freeze(
  [
    [0x1a86, 0x5523],
    [0x1a86, 0x7522],
    [0x1a86, 0x7523],
    [0x2184, 0x0057],
    [0x4348, 0x5523],
    [0x9986, 0x7523],
  ].map(([idVendor, idProduct]) => Object.freeze({ idVendor, idProduct })),
);
