// USB CDC PSTN 1.2 constants shared by the drivers that speak them: the class driver (cdc-acm)
// and vendor chips whose notifications reuse the class's format (the PL2303's status byte).

/**
 * SERIAL_STATE's UART state bitmap (PSTN120 §6.5.4, Table 31): bit 0 bRxCarrier (DCD), 1 bTxCarrier
 * (DSR), 2 bBreak, 3 bRingSignal, 4 bFraming, 5 bParity, 6 bOverRun. Linux: include/uapi/linux/usb/
 * cdc.h's ACM_CTRL_* (cdc-acm.c) and pl2303.c's UART_* (bits 0-6 the same, CTS in bit 7).
 */
export const CDC_SERIAL_STATE = Object.freeze({
  DCD: 0x01,
  DSR: 0x02,
  BREAK: 0x04,
  RING: 0x08,
  FRAMING: 0x10,
  PARITY: 0x20,
  OVERRUN: 0x40,
} as const);
