// The CP210x vendor requests (Silicon Labs AN571) as Linux's cp210x.c sends them, and the pure
// encoders and decoders of their values: line control, modem handshake (SET_MHS), modem status,
// the 16-byte flow structure, special characters and the comm status. Port requests go to the
// interface (bmRequestType 0x41 / 0xC1, wIndex = the port's bInterfaceNumber); the
// VENDOR_SPECIFIC reads go to the device (0xC0), still with the interface number in wIndex
// (`cp210x_read_vendor_block`). Multi-byte values are little-endian.
import type { ControlSetup, Parity, StopBits, DataBits, ModemLines } from '../../src/serial/driver-api.ts';

export const CP210X_REQ = Object.freeze({
  IFC_ENABLE: 0x00,
  SET_LINE_CTL: 0x03,
  SET_BREAK: 0x05,
  SET_MHS: 0x07,
  GET_MDMSTS: 0x08,
  GET_COMM_STATUS: 0x10,
  PURGE: 0x12,
  SET_FLOW: 0x13,
  GET_FLOW: 0x14,
  EMBED_EVENTS: 0x15,
  SET_CHARS: 0x19,
  SET_BAUDRATE: 0x1e,
  VENDOR_SPECIFIC: 0xff,
} as const);

/** VENDOR_SPECIFIC wValues Linux reads. */
export const CP210X_VENDOR = Object.freeze({ GET_PARTNUM: 0x370b, GET_FW_VER: 0x000e, GET_FW_VER_2N: 0x0010 } as const);

/** PURGE wValue bits (AN571: 0 and 2 clear the transmit side, 1 and 3 the receive side); close sends all four. */
export const CP210X_PURGE = Object.freeze({ TX: 0x05, RX: 0x0a, ALL: 0x0f } as const);

/** SET_MHS wValue bits (`CONTROL_*`): the line levels and the masks saying which are written. */
export const CP210X_MHS = Object.freeze({ DTR: 0x0001, RTS: 0x0002, WRITE_DTR: 0x0100, WRITE_RTS: 0x0200 } as const);

/** GET_MDMSTS bits. */
export const CP210X_MDMSTS = Object.freeze({ DTR: 0x01, RTS: 0x02, CTS: 0x10, DSR: 0x20, RI: 0x40, DCD: 0x80 } as const);

/** ulControlHandshake bits of the flow structure (`CP210X_SERIAL_*`). */
export const CP210X_HANDSHAKE = Object.freeze({
  DTR_MASK: 0x03,
  DTR_INACTIVE: 0x00,
  DTR_ACTIVE: 0x01,
  CTS_HANDSHAKE: 0x08,
  DSR_HANDSHAKE: 0x10,
  DCD_HANDSHAKE: 0x20,
  DSR_SENSITIVITY: 0x40,
} as const);

/** ulFlowReplace bits of the flow structure. */
export const CP210X_FLOW_REPLACE = Object.freeze({
  AUTO_TRANSMIT: 0x01,
  AUTO_RECEIVE: 0x02,
  RTS_MASK: 0xc0,
  RTS_INACTIVE: 0x00,
  RTS_ACTIVE: 0x40,
  RTS_FLOW_CTL: 0x80,
} as const);

/** The escape character Linux enables event insertion with (`CP210X_ESCCHAR`). */
export const CP210X_ESCCHAR = 0xec;

/** The XON/XOFF thresholds Linux sets with IXOFF. */
export const CP210X_XON_XOFF_LIMIT = 128;

export const CP210X_FLOW_LENGTH = 16;
export const CP210X_COMM_STATUS_LENGTH = 19;

/** A request to the port on interface `index`. */
export function cp210xPortSetup(request: number, value: number, index: number): ControlSetup {
  return { requestType: 'vendor', recipient: 'interface', request, value, index };
}

/** A VENDOR_SPECIFIC read (device recipient; wIndex the interface number). */
export function cp210xVendorSetup(value: number, index: number): ControlSetup {
  return { requestType: 'vendor', recipient: 'device', request: CP210X_REQ.VENDOR_SPECIFIC, value, index };
}

/** The SET_LINE_CTL wValue: stop bits in 0-3, parity in 4-7, data bits in 8-15 (`cp210x_set_termios`). */
export function encodeCp210xLineCtl(s: { dataBits: DataBits; parity: Parity; stopBits: StopBits }): number {
  const stop = s.stopBits === 1 ? 0 : s.stopBits === 1.5 ? 1 : 2;
  const parity = { none: 0, odd: 1, even: 2, mark: 3, space: 4 }[s.parity];
  return (s.dataBits << 8) | (parity << 4) | stop;
}

/**
 * The SET_MHS wValue for the lines named (`cp210x_tiocmset_port`): each named line gets its
 * level bit and its write mask; an unnamed line is left alone.
 */
export function cp210xMhsValue(lines: { dtr?: boolean; rts?: boolean }): number {
  let v = 0;
  if (lines.rts !== undefined) v |= CP210X_MHS.WRITE_RTS | (lines.rts ? CP210X_MHS.RTS : 0);
  if (lines.dtr !== undefined) v |= CP210X_MHS.WRITE_DTR | (lines.dtr ? CP210X_MHS.DTR : 0);
  return v;
}

/** The modem input lines of a GET_MDMSTS byte (or the state half of an MSR event: same bits 4-7). */
export function decodeCp210xModemStatus(byte: number): ModemLines {
  return {
    cts: (byte & CP210X_MDMSTS.CTS) !== 0,
    dsr: (byte & CP210X_MDMSTS.DSR) !== 0,
    ri: (byte & CP210X_MDMSTS.RI) !== 0,
    dcd: (byte & CP210X_MDMSTS.DCD) !== 0,
  };
}

/**
 * The lines before an MSR event (16550 layout: delta CTS 0x01, DSR 0x02, trailing-edge RI 0x04,
 * DCD 0x08; states in 0x10-0x80): the state with each changed line flipped back.
 */
export function cp210xLinesBeforeMsr(msr: number): ModemLines {
  const now = decodeCp210xModemStatus(msr);
  return { cts: now.cts !== !!(msr & 0x01), dsr: now.dsr !== !!(msr & 0x02), ri: now.ri !== !!(msr & 0x04), dcd: now.dcd !== !!(msr & 0x08) };
}

/** The flow structure of GET_FLOW / SET_FLOW (`struct cp210x_flow_ctl`). */
export interface Cp210xFlowCtl {
  controlHandshake: number;
  flowReplace: number;
  xonLimit: number;
  xoffLimit: number;
}

export function decodeCp210xFlow(b: Uint8Array): Cp210xFlowCtl {
  if (b.length < CP210X_FLOW_LENGTH) throw new RangeError(`CP210x flow structure is ${CP210X_FLOW_LENGTH} bytes, got ${b.length}`);
  const v = new DataView(b.buffer, b.byteOffset, CP210X_FLOW_LENGTH);
  return { controlHandshake: v.getUint32(0, true), flowReplace: v.getUint32(4, true), xonLimit: v.getUint32(8, true), xoffLimit: v.getUint32(12, true) };
}

export function encodeCp210xFlow(f: Cp210xFlowCtl): Uint8Array {
  const b = new Uint8Array(CP210X_FLOW_LENGTH);
  const v = new DataView(b.buffer);
  v.setUint32(0, f.controlHandshake >>> 0, true);
  v.setUint32(4, f.flowReplace >>> 0, true);
  v.setUint32(8, f.xonLimit >>> 0, true);
  v.setUint32(12, f.xoffLimit >>> 0, true);
  return b;
}

/** What the flow structure is set for: the flow mode and the DTR/RTS levels the driver holds. */
export interface Cp210xFlowTarget {
  readonly rtsCts: boolean;
  readonly xonXoff: boolean;
  readonly dtr: boolean;
  readonly rts: boolean;
}

/**
 * The flow structure `cp210x_set_flow_control` writes, from the one GET_FLOW read: DSR/DCD
 * handshake and DSR sensitivity cleared; DTR mode from the held DTR; with RTS/CTS the CTS
 * handshake and RTS flow control (RTS inactive while RTS is held low), else RTS mode from the held
 * RTS; XON/XOFF (Linux's IXON and IXOFF together) sets auto-transmit and auto-receive with both
 * limits 128. Other bits are kept as the chip reported them.
 */
export function cp210xFlowFor(current: Cp210xFlowCtl, t: Cp210xFlowTarget): Cp210xFlowCtl {
  const H = CP210X_HANDSHAKE;
  const R = CP210X_FLOW_REPLACE;
  let hs = current.controlHandshake & ~(H.DSR_HANDSHAKE | H.DCD_HANDSHAKE | H.DSR_SENSITIVITY | H.DTR_MASK);
  hs |= t.dtr ? H.DTR_ACTIVE : H.DTR_INACTIVE;
  let fr = current.flowReplace & ~R.RTS_MASK;
  if (t.rtsCts) {
    hs |= H.CTS_HANDSHAKE;
    fr |= t.rts ? R.RTS_FLOW_CTL : R.RTS_INACTIVE;
  } else {
    hs &= ~H.CTS_HANDSHAKE;
    fr |= t.rts ? R.RTS_ACTIVE : R.RTS_INACTIVE;
  }
  let { xonLimit, xoffLimit } = current;
  if (t.xonXoff) {
    fr |= R.AUTO_RECEIVE | R.AUTO_TRANSMIT;
    xonLimit = xoffLimit = CP210X_XON_XOFF_LIMIT;
  } else {
    fr &= ~(R.AUTO_RECEIVE | R.AUTO_TRANSMIT);
  }
  return { controlHandshake: hs >>> 0, flowReplace: fr >>> 0, xonLimit, xoffLimit };
}

/**
 * The flow structure `cp210x_tiocmset_port` writes under RTS/CTS: DTR mode from the held DTR,
 * RTS flow control while RTS is held high, inactive while low; nothing else changes.
 */
export function cp210xFlowLines(current: Cp210xFlowCtl, lines: { dtr: boolean; rts: boolean }): Cp210xFlowCtl {
  const H = CP210X_HANDSHAKE;
  const R = CP210X_FLOW_REPLACE;
  const hs = (current.controlHandshake & ~H.DTR_MASK) | (lines.dtr ? H.DTR_ACTIVE : H.DTR_INACTIVE);
  const fr = (current.flowReplace & ~R.RTS_MASK) | (lines.rts ? R.RTS_FLOW_CTL : R.RTS_INACTIVE);
  return { ...current, controlHandshake: hs >>> 0, flowReplace: fr >>> 0 };
}

/** The 6 SET_CHARS bytes Linux sends: EOF, error, break and event chars 0, then XON and XOFF. */
export function encodeCp210xChars(xon: number, xoff: number): Uint8Array {
  return Uint8Array.of(0, 0, 0, 0, xon, xoff);
}

/** GET_COMM_STATUS (`struct cp210x_comm_status`). */
export interface Cp210xCommStatus {
  readonly errors: number;
  readonly holdReasons: number;
  readonly inQueue: number;
  readonly outQueue: number;
  readonly eofReceived: number;
  readonly waitForImmediate: number;
}

export function decodeCp210xCommStatus(b: Uint8Array): Cp210xCommStatus {
  if (b.length < CP210X_COMM_STATUS_LENGTH) throw new RangeError(`CP210x comm status is ${CP210X_COMM_STATUS_LENGTH} bytes, got ${b.length}`);
  const v = new DataView(b.buffer, b.byteOffset, CP210X_COMM_STATUS_LENGTH);
  return {
    errors: v.getUint32(0, true),
    holdReasons: v.getUint32(4, true),
    inQueue: v.getUint32(8, true),
    outQueue: v.getUint32(12, true),
    eofReceived: v.getUint8(16),
    waitForImmediate: v.getUint8(17),
  };
}

/** A u32 in the 4 little-endian bytes SET_BAUDRATE carries. */
export function cp210xU32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  return b;
}

export const hex16 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;
