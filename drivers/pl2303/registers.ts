// PL2303 control requests, register sequences and the interrupt status byte, as data.
// Values from Linux's drivers/usb/serial/pl2303.c; nothing here does I/O.
import { pl2303TypeInfo, type Pl2303Type } from './types.ts';
import { CDC_SERIAL_STATE } from '../../src/serial/driver-api.ts';

/** bmRequestType / bRequest pairs. HXN uses its own vendor bRequests (0x81 read, 0x80 write). */
export const PL2303_REQUESTS = Object.freeze({
  vendorRead: Object.freeze({ bmRequestType: 0xc0, bRequest: 0x01 }),
  vendorWrite: Object.freeze({ bmRequestType: 0x40, bRequest: 0x01 }),
  hxnVendorRead: Object.freeze({ bmRequestType: 0xc0, bRequest: 0x81 }),
  hxnVendorWrite: Object.freeze({ bmRequestType: 0x40, bRequest: 0x80 }),
  setLine: Object.freeze({ bmRequestType: 0x21, bRequest: 0x20 }),
  getLine: Object.freeze({ bmRequestType: 0xa1, bRequest: 0x21 }),
  setControl: Object.freeze({ bmRequestType: 0x21, bRequest: 0x22 }),
  break: Object.freeze({ bmRequestType: 0x21, bRequest: 0x23 }),
});

/** SET_CONTROL wValue bits. */
export const PL2303_CONTROL_DTR = 0x01;
export const PL2303_CONTROL_RTS = 0x02;
/** BREAK wValue. */
export const PL2303_BREAK_ON = 0xffff;
export const PL2303_BREAK_OFF = 0x0000;
/** HXN reset register and its pipe bits (upstream = chip to host). */
export const PL2303_HXN_RESET_REG = 0x07;
export const PL2303_HXN_RESET_UPSTREAM = 0x02;
export const PL2303_HXN_RESET_DOWNSTREAM = 0x01;

/** One control transfer's setup packet. */
export interface Pl2303ControlSetup {
  bmRequestType: number;
  bRequest: number;
  wValue: number;
  wIndex: number;
  wLength: number;
}

/** A register address or value that does not fit its 16-bit field. */
export class Pl2303RequestError extends RangeError {
  override readonly name = 'Pl2303RequestError';
  constructor(field: string, value: number) {
    super(`PL2303 request: ${field} ${value} is not a 16-bit value`);
  }
}

function u16(field: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new Pl2303RequestError(field, v);
  return v;
}

export function vendorReadSetup(type: Pl2303Type, reg: number): Pl2303ControlSetup {
  const r = pl2303TypeInfo(type).hxnRequests ? PL2303_REQUESTS.hxnVendorRead : PL2303_REQUESTS.vendorRead;
  return { ...r, wValue: u16('register', reg), wIndex: 0, wLength: 1 };
}

export function vendorWriteSetup(type: Pl2303Type, reg: number, value: number): Pl2303ControlSetup {
  const r = pl2303TypeInfo(type).hxnRequests ? PL2303_REQUESTS.hxnVendorWrite : PL2303_REQUESTS.vendorWrite;
  return { ...r, wValue: u16('register', reg), wIndex: u16('value', value), wLength: 0 };
}

export function setLineSetup(): Pl2303ControlSetup {
  return { ...PL2303_REQUESTS.setLine, wValue: 0, wIndex: 0, wLength: 7 };
}

export function getLineSetup(): Pl2303ControlSetup {
  return { ...PL2303_REQUESTS.getLine, wValue: 0, wIndex: 0, wLength: 7 };
}

export function setControlSetup(lines: { dtr: boolean; rts: boolean }): Pl2303ControlSetup {
  const wValue = (lines.dtr ? PL2303_CONTROL_DTR : 0) | (lines.rts ? PL2303_CONTROL_RTS : 0);
  return { ...PL2303_REQUESTS.setControl, wValue, wIndex: 0, wLength: 0 };
}

export function breakSetup(on: boolean): Pl2303ControlSetup {
  return { ...PL2303_REQUESTS.break, wValue: on ? PL2303_BREAK_ON : PL2303_BREAK_OFF, wIndex: 0, wLength: 0 };
}

/** The same setup in WebUSB terms, for controlTransferIn/Out. */
export function toWebUsbSetup(s: Pl2303ControlSetup): {
  direction: 'in' | 'out';
  params: USBControlTransferParameters;
  length: number;
} {
  const kind = (s.bmRequestType >> 5) & 0x03;
  const recip = s.bmRequestType & 0x1f;
  const requestType: USBRequestType = kind === 0 ? 'standard' : kind === 1 ? 'class' : 'vendor';
  const recipient: USBRecipient =
    recip === 0 ? 'device' : recip === 1 ? 'interface' : recip === 2 ? 'endpoint' : 'other';
  return {
    direction: s.bmRequestType & 0x80 ? 'in' : 'out',
    params: { requestType, recipient, request: s.bRequest, value: s.wValue, index: s.wIndex },
    length: s.wLength,
  };
}

/** Address a read-modify-write reads from: `reg | 0x80`, except on HXN which reads `reg`. */
export function rmwReadAddress(type: Pl2303Type, reg: number): number {
  return pl2303TypeInfo(type).hxnRequests ? reg : reg | 0x80;
}

/** The byte to write back: bits outside `mask` kept, bits inside taken from `value`. */
export function applyRegisterMask(current: number, mask: number, value: number): number {
  return ((current & ~mask) | (value & mask)) & 0xff;
}

export type Pl2303FlowControl = 'none' | 'rts-cts' | 'xon-xoff';

/** The chip cannot do what was asked (e.g. automatic XON/XOFF on a legacy H). */
export class Pl2303UnsupportedFeatureError extends Error {
  override readonly name = 'Pl2303UnsupportedFeatureError';
  constructor(
    readonly type: Pl2303Type,
    readonly feature: string,
  ) {
    super(`PL2303 ${type} does not support ${feature}`);
  }
}

/** The read-modify-write that sets a flow-control mode. */
export function flowControlUpdate(
  type: Pl2303Type,
  mode: Pl2303FlowControl,
): { readAddress: number; writeReg: number; mask: number; value: number } {
  const fc = pl2303TypeInfo(type).flowControl;
  let value: number | null;
  if (mode === 'none') value = fc.none;
  else if (mode === 'rts-cts') value = fc.rtsCts;
  else value = fc.xonXoff;
  if (value === null) throw new Pl2303UnsupportedFeatureError(type, 'automatic XON/XOFF flow control');
  return { readAddress: rmwReadAddress(type, fc.reg), writeReg: fc.reg, mask: fc.mask, value };
}

export type Pl2303VendorStep =
  | { op: 'read'; reg: number }
  | { op: 'write'; reg: number; value: number };

const STARTUP_HEAD: readonly Pl2303VendorStep[] = [
  { op: 'read', reg: 0x8484 },
  { op: 'write', reg: 0x0404, value: 0 },
  { op: 'read', reg: 0x8484 },
  { op: 'read', reg: 0x8383 },
  { op: 'read', reg: 0x8484 },
  { op: 'write', reg: 0x0404, value: 1 },
  { op: 'read', reg: 0x8484 },
  { op: 'read', reg: 0x8383 },
  { op: 'write', reg: 0, value: 1 },
  { op: 'write', reg: 1, value: 0 },
];

/**
 * The vendor requests pl2303.c sends once at attach (pl2303_startup). HXN gets none. Linux
 * ignores the results and failures of these; the read values mean nothing to the driver.
 */
export function startupSequence(type: Pl2303Type): readonly Pl2303VendorStep[] {
  const info = pl2303TypeInfo(type);
  if (info.hxnRequests) return [];
  return [...STARTUP_HEAD, { op: 'write', reg: 2, value: info.legacy ? 0x24 : 0x44 }];
}

export type Pl2303OpenStep =
  | Pl2303VendorStep
  /** Clear a halt on a bulk endpoint (legacy H). */
  | { op: 'clear-halt'; endpoint: 'bulk-out' | 'bulk-in' }
  /** Send the line settings (SET_LINE etc., as set_termios does). */
  | { op: 'set-line' }
  /** Start reading the interrupt endpoint, before any bulk read. */
  | { op: 'start-interrupt-in' }
  | { op: 'start-bulk-in' };

/** What pl2303_open does, in order. */
export function openSequence(type: Pl2303Type): readonly Pl2303OpenStep[] {
  const info = pl2303TypeInfo(type);
  const reset: Pl2303OpenStep[] = info.legacy
    ? [
        { op: 'clear-halt', endpoint: 'bulk-out' },
        { op: 'clear-halt', endpoint: 'bulk-in' },
      ]
    : info.hxnRequests
      ? [{ op: 'write', reg: PL2303_HXN_RESET_REG, value: PL2303_HXN_RESET_UPSTREAM | PL2303_HXN_RESET_DOWNSTREAM }]
      : [
          { op: 'write', reg: 8, value: 0 },
          { op: 'write', reg: 9, value: 0 },
        ];
  return [...reset, { op: 'set-line' }, { op: 'start-interrupt-in' }, { op: 'start-bulk-in' }];
}

/**
 * Vendor writes that drop buffered data: `write` = data the host sent that the chip has not
 * transmitted yet, `read` = data the chip received that the host has not read yet.
 */
export function purgeSteps(
  type: Pl2303Type,
  which: { write: boolean; read: boolean },
): Extract<Pl2303VendorStep, { op: 'write' }>[] {
  const p = pl2303TypeInfo(type).purge;
  if (p.kind === 'hxn-reset') {
    const value = (which.write ? p.writeBit : 0) | (which.read ? p.readBit : 0);
    return value ? [{ op: 'write', reg: p.reg, value }] : [];
  }
  const out: Extract<Pl2303VendorStep, { op: 'write' }>[] = [];
  if (which.write) out.push({ op: 'write', reg: p.writeReg, value: 0 });
  if (which.read) out.push({ op: 'write', reg: p.readReg, value: 0 });
  return out;
}

// Interrupt-IN notification: 10 bytes, the UART status byte at offset 8. Bits 0-6 are CDC's
// SERIAL_STATE bitmap; the chip adds CTS in bit 7 (Linux pl2303.c UART_*).
export const PL2303_STATUS_INDEX = 8;
export const PL2303_STATUS = Object.freeze({ ...CDC_SERIAL_STATE, CTS: 0x80 } as const);
/** Modem-line bits (a change in these wakes modem-status waiters). */
export const PL2303_STATUS_MSR_MASK = 0x8b;
/** Error bits: they apply to the next bulk read only, then are cleared. */
export const PL2303_STATUS_TRANSIENT_MASK = 0x74;

export interface Pl2303ModemLines {
  dcd: boolean;
  dsr: boolean;
  ring: boolean;
  cts: boolean;
}

export interface Pl2303LineErrors {
  break: boolean;
  framing: boolean;
  parity: boolean;
  overrun: boolean;
}

export interface Pl2303Status {
  raw: number;
  modem: Pl2303ModemLines;
  errors: Pl2303LineErrors;
}

/**
 * Parses an interrupt notification. `statusIndex` is 8, or 0 for the few devices pl2303.c
 * flags with PL2303_QUIRK_UART_STATE_IDX0 (Siemens phones). Returns null when the
 * notification is too short to hold the status byte (Linux ignores those).
 */
export function parsePl2303Status(
  notification: Uint8Array,
  opts: { statusIndex?: number } = {},
): Pl2303Status | null {
  const idx = opts.statusIndex ?? PL2303_STATUS_INDEX;
  if (notification.length < idx + 1) return null;
  return decodePl2303StatusByte(notification[idx]);
}

export function decodePl2303StatusByte(raw: number): Pl2303Status {
  const s = PL2303_STATUS;
  return {
    raw: raw & 0xff,
    modem: { dcd: !!(raw & s.DCD), dsr: !!(raw & s.DSR), ring: !!(raw & s.RING), cts: !!(raw & s.CTS) },
    errors: {
      break: !!(raw & s.BREAK),
      framing: !!(raw & s.FRAMING),
      parity: !!(raw & s.PARITY),
      overrun: !!(raw & s.OVERRUN),
    },
  };
}

/**
 * The flag pl2303.c puts on the bytes of the next bulk read: break over parity over framing.
 * Overrun is separate (one extra overrun event, not tied to a byte).
 */
export function pl2303ReadFlag(raw: number): 'break' | 'parity' | 'framing' | null {
  if (raw & PL2303_STATUS.BREAK) return 'break';
  if (raw & PL2303_STATUS.PARITY) return 'parity';
  if (raw & PL2303_STATUS.FRAMING) return 'framing';
  return null;
}
