// FTDI vendor control requests: codes and pure encoders for their wValue/wIndex.
// Layouts from Linux ftdi_sio.h/ftdi_sio.c and libftdi's ftdi.h.
//
// Every encoder returns a WebUSB-shaped setup (vendor, device recipient) whose wIndex low byte is
// the channel: 0 on SIO/AM/BM/R, 1 + bInterfaceNumber elsewhere (see ftdiChannel in chips.ts).

import { encodeFtdiBaud } from './baud.ts';
import type { FtdiBaudSetting } from './baud.ts';
import type { FtdiChip } from './chips.ts';

export const FTDI_REQUEST = Object.freeze({
  RESET: 0x00,
  MODEM_CTRL: 0x01,
  SET_FLOW_CTRL: 0x02,
  SET_BAUD_RATE: 0x03,
  SET_DATA: 0x04,
  GET_MODEM_STATUS: 0x05,
  SET_EVENT_CHAR: 0x06,
  SET_ERROR_CHAR: 0x07,
  SET_LATENCY_TIMER: 0x09,
  GET_LATENCY_TIMER: 0x0a,
  SET_BITMODE: 0x0b,
  READ_PINS: 0x0c,
  READ_EEPROM: 0x90,
});

/** bmRequestType bytes: vendor request to the device, host-to-device / device-to-host. */
export const FTDI_REQUEST_TYPE_OUT = 0x40;
export const FTDI_REQUEST_TYPE_IN = 0xc0;

/**
 * RESET wValues. libftdi's old names SIO_RESET_PURGE_RX = 1 / SIO_RESET_PURGE_TX = 2 are from
 * the chip's side of the USB link: "RX" is what the chip received from the host. So, seen from
 * the host, 1 discards data written but not yet sent out of the UART (tcoflush, libftdi's
 * SIO_TCOFLUSH) and 2 discards data received from the UART but not yet read (tciflush,
 * SIO_TCIFLUSH). libftdi before 1.5 had these the wrong way round.
 */
export const FTDI_RESET = Object.freeze({
  SIO: 0,
  /** Host output: drop bytes queued for transmission (tcoflush). */
  PURGE_HOST_OUTPUT: 1,
  /** Host input: drop bytes received and not yet read (tciflush). */
  PURGE_HOST_INPUT: 2,
});

export const FTDI_FLOW = Object.freeze({
  NONE: 0x00,
  RTS_CTS: 0x01,
  DTR_DSR: 0x02,
  XON_XOFF: 0x04,
});

export const FTDI_SET_DATA_BREAK = 1 << 14;
export const FTDI_DEFAULT_XON = 0x11;
export const FTDI_DEFAULT_XOFF = 0x13;

/** A control setup in WebUSB's shape (assignable to USBControlTransferParameters). */
export interface FtdiControlSetup {
  readonly requestType: 'vendor';
  readonly recipient: 'device';
  readonly request: number;
  readonly value: number;
  readonly index: number;
}

/** An IN request also says how many bytes to read. */
export interface FtdiControlInSetup extends FtdiControlSetup {
  readonly length: number;
}

export class FtdiRequestError extends Error {
  override readonly name = 'FtdiRequestError';
}

function checkByte(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xff) {
    throw new FtdiRequestError(`${what} must be an integer 0..255, got ${String(n)}`);
  }
}

function setup(request: number, value: number, index: number): FtdiControlSetup {
  return { requestType: 'vendor', recipient: 'device', request, value, index };
}

function inSetup(request: number, value: number, index: number, length: number): FtdiControlInSetup {
  return { ...setup(request, value, index), length };
}

/** The 8 setup bytes as they go on the wire (little-endian words), for logs and tests. */
export function ftdiSetupPacket(s: FtdiControlSetup, length = 0): Uint8Array {
  const dirIn = 'length' in s;
  const len = dirIn ? (s as FtdiControlInSetup).length : length;
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  b[0] = dirIn ? FTDI_REQUEST_TYPE_IN : FTDI_REQUEST_TYPE_OUT;
  b[1] = s.request;
  v.setUint16(2, s.value, true);
  v.setUint16(4, s.index, true);
  v.setUint16(6, len, true);
  return b;
}

/** RESET with wValue 0: flow control off, event char off, both FIFOs purged, DTR/RTS cleared. */
export function encodeReset(channel = 0): FtdiControlSetup {
  checkByte('channel', channel);
  return setup(FTDI_REQUEST.RESET, FTDI_RESET.SIO, channel);
}

/** Purge one direction, named from the host's side (see FTDI_RESET). */
export function encodePurge(direction: 'input' | 'output', channel = 0): FtdiControlSetup {
  checkByte('channel', channel);
  if (direction !== 'input' && direction !== 'output') {
    throw new FtdiRequestError(`purge direction must be 'input' or 'output', got '${String(direction)}'`);
  }
  const value = direction === 'output' ? FTDI_RESET.PURGE_HOST_OUTPUT : FTDI_RESET.PURGE_HOST_INPUT;
  return setup(FTDI_REQUEST.RESET, value, channel);
}

export type FtdiParity = 'none' | 'odd' | 'even' | 'mark' | 'space';
const PARITY_CODE: Readonly<Record<FtdiParity, number>> = { none: 0, odd: 1, even: 2, mark: 3, space: 4 };
const STOP_CODE = new Map<number, number>([
  [1, 0],
  [1.5, 1],
  [2, 2],
]);

export interface FtdiLineSettings {
  readonly dataBits: 7 | 8;
  readonly parity: FtdiParity;
  readonly stopBits: 1 | 1.5 | 2;
  /** Hold TX in the spacing (break) state. */
  readonly break?: boolean;
}

/** SET_DATA wValue: bits 0-7 data bits, 8-10 parity, 11-13 stop bits, 14 break. */
export function ftdiSetDataValue(line: FtdiLineSettings): number {
  const { dataBits, parity, stopBits } = line;
  // FTDI UARTs only do 7 and 8 data bits (Linux refuses CS6 and uses CS5 only as a quirk).
  if (dataBits !== 7 && dataBits !== 8) {
    throw new FtdiRequestError(`FTDI UARTs support 7 or 8 data bits, not ${String(dataBits)}`);
  }
  if (!Object.hasOwn(PARITY_CODE, parity)) {
    throw new FtdiRequestError(`unknown parity '${String(parity)}' (none, odd, even, mark, space)`);
  }
  const p = PARITY_CODE[parity];
  const s = STOP_CODE.get(stopBits);
  if (s === undefined) throw new FtdiRequestError(`stop bits must be 1, 1.5 or 2, not ${String(stopBits)}`);
  return dataBits | (p << 8) | (s << 11) | (line.break ? FTDI_SET_DATA_BREAK : 0);
}

export function encodeSetData(line: FtdiLineSettings, channel = 0): FtdiControlSetup {
  checkByte('channel', channel);
  return setup(FTDI_REQUEST.SET_DATA, ftdiSetDataValue(line), channel);
}

/**
 * MODEM_CTRL: wValue = (mask << 8) | state, DTR bit 0, RTS bit 1. Only the lines given are
 * changed (their mask bit is set); RTS is ignored by the chip while RTS/CTS flow control is on.
 */
export function encodeModemCtrl(lines: { dtr?: boolean; rts?: boolean }, channel = 0): FtdiControlSetup {
  checkByte('channel', channel);
  let mask = 0;
  let state = 0;
  if (lines.dtr !== undefined) {
    mask |= 0x01;
    if (lines.dtr) state |= 0x01;
  }
  if (lines.rts !== undefined) {
    mask |= 0x02;
    if (lines.rts) state |= 0x02;
  }
  if (mask === 0) throw new FtdiRequestError('MODEM_CTRL needs dtr and/or rts; neither was given');
  return setup(FTDI_REQUEST.MODEM_CTRL, (mask << 8) | state, channel);
}

export type FtdiFlowControl =
  | { readonly type: 'none' }
  | { readonly type: 'rts-cts' }
  | { readonly type: 'dtr-dsr' }
  | { readonly type: 'xon-xoff'; readonly xon?: number; readonly xoff?: number };

/**
 * SET_FLOW_CTRL: the handshake in wIndex's high byte, the channel in its low byte; for
 * XON/XOFF wValue = (XOFF << 8) | XON (defaults DC1 0x11 / DC3 0x13), otherwise 0.
 */
export function encodeFlowControl(flow: FtdiFlowControl, channel = 0): FtdiControlSetup {
  checkByte('channel', channel);
  switch (flow.type) {
    case 'none':
      return setup(FTDI_REQUEST.SET_FLOW_CTRL, 0, (FTDI_FLOW.NONE << 8) | channel);
    case 'rts-cts':
      return setup(FTDI_REQUEST.SET_FLOW_CTRL, 0, (FTDI_FLOW.RTS_CTS << 8) | channel);
    case 'dtr-dsr':
      return setup(FTDI_REQUEST.SET_FLOW_CTRL, 0, (FTDI_FLOW.DTR_DSR << 8) | channel);
    case 'xon-xoff': {
      const xon = flow.xon ?? FTDI_DEFAULT_XON;
      const xoff = flow.xoff ?? FTDI_DEFAULT_XOFF;
      checkByte('XON character', xon);
      checkByte('XOFF character', xoff);
      if (xon === xoff) throw new FtdiRequestError(`XON and XOFF must differ (both 0x${xon.toString(16)})`);
      return setup(FTDI_REQUEST.SET_FLOW_CTRL, (xoff << 8) | xon, (FTDI_FLOW.XON_XOFF << 8) | channel);
    }
    default:
      throw new FtdiRequestError(`unknown flow control '${String((flow as { type: unknown }).type)}'`);
  }
}

/** Event char: the chip flushes its buffer to the host as soon as it receives it. wValue bit 8 enables. */
export function encodeEventChar(char: number, enabled: boolean, channel = 0): FtdiControlSetup {
  checkByte('event character', char);
  checkByte('channel', channel);
  return setup(FTDI_REQUEST.SET_EVENT_CHAR, char | (enabled ? 0x100 : 0), channel);
}

/** Error char: replaces bytes received with a parity error. wValue bit 8 enables. */
export function encodeErrorChar(char: number, enabled: boolean, channel = 0): FtdiControlSetup {
  checkByte('error character', char);
  checkByte('channel', channel);
  return setup(FTDI_REQUEST.SET_ERROR_CHAR, char | (enabled ? 0x100 : 0), channel);
}

/** Latency timer in ms (1..255; default 16). Not on SIO or AM. */
export function encodeSetLatencyTimer(ms: number, channel = 0): FtdiControlSetup {
  checkByte('channel', channel);
  if (!Number.isInteger(ms) || ms < 1 || ms > 255) {
    throw new FtdiRequestError(`latency timer must be 1..255 ms, got ${String(ms)}`);
  }
  return setup(FTDI_REQUEST.SET_LATENCY_TIMER, ms, channel);
}

/** Reads one byte: the latency timer in ms. */
export function encodeGetLatencyTimer(channel = 0): FtdiControlInSetup {
  checkByte('channel', channel);
  return inSetup(FTDI_REQUEST.GET_LATENCY_TIMER, 0, channel, 1);
}

/** Reads the modem and line status bytes (the SIO returns only the first). */
export function encodeGetModemStatus(channel = 0, sio = false): FtdiControlInSetup {
  checkByte('channel', channel);
  return inSetup(FTDI_REQUEST.GET_MODEM_STATUS, 0, channel, sio ? 1 : 2);
}

/** SET_BAUD_RATE for `baud`, with the setting (actual rate, divisor) it came from. */
export function encodeSetBaudRate(
  chip: FtdiChip,
  baud: number,
  channel = 0,
): FtdiControlSetup & { readonly baud: FtdiBaudSetting } {
  const b = encodeFtdiBaud(chip, baud, channel);
  return { ...setup(FTDI_REQUEST.SET_BAUD_RATE, b.wValue, b.wIndex), baud: b };
}
