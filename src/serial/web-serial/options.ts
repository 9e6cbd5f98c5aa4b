// SerialOptions and SerialOutputSignals as the browser sees them: first the WebIDL conversion
// of the dictionary (https://webidl.spec.whatwg.org/#es-dictionary), which runs before the
// method and throws TypeError in any port state, then the method's own value checks, which the
// spec runs after its state check (https://wicg.github.io/serial/#dom-serialport-open steps
// 3-7, https://wicg.github.io/serial/#dom-serialport-setsignals step 2).
// Browser-safe: no Node imports.
import type { SerialSettings } from '../settings.ts';

export type ParityType = 'none' | 'even' | 'odd';
export type FlowControlType = 'none' | 'hardware';

export interface SerialOptions {
  baudRate: number;
  dataBits?: number;
  stopBits?: number;
  parity?: ParityType;
  bufferSize?: number;
  flowControl?: FlowControlType;
}

export interface SerialOutputSignals {
  dataTerminalReady?: boolean;
  requestToSend?: boolean;
  break?: boolean;
}

/** The largest bufferSize Chrome accepts (serial_port.cc kMaxBufferSize). */
export const MAX_BUFFER_SIZE = 16 * 1024 * 1024;
export const DEFAULT_BUFFER_SIZE = 255;

/** SerialOptions after WebIDL conversion: every member present, with the IDL defaults. */
export interface ConvertedSerialOptions {
  baudRate: number;
  dataBits: number;
  stopBits: number;
  parity: ParityType;
  bufferSize: number;
  flowControl: FlowControlType;
}

const fail = (method: string, iface: string, what: string) => new TypeError(`Failed to execute '${method}' on '${iface}': ${what}`);

/** WebIDL: undefined and null are an empty dictionary; anything else must be an object. */
function dictionary(value: unknown, method: string, type: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' && typeof value !== 'function') throw fail(method, 'SerialPort', `The provided value is not of type '${type}'.`);
  return value as Record<string, unknown>;
}

/** WebIDL [EnforceRange] integer conversion (https://webidl.spec.whatwg.org/#abstract-opdef-converttoint). */
function enforceRange(value: unknown, max: number, member: string, method: string, type: string): number {
  const x = Number(value); // a Symbol or BigInt throws TypeError here, as ToNumber does
  if (!Number.isFinite(x)) throw fail(method, 'SerialPort', `Failed to read the '${member}' property from '${type}': Value is not a finite number.`);
  const n = Math.trunc(x);
  if (n < 0 || n > max) throw fail(method, 'SerialPort', `Failed to read the '${member}' property from '${type}': Value is outside the '${max === 255 ? 'octet' : 'unsigned long'}' value range.`);
  return n;
}

/** WebIDL enumeration conversion: ToString, then one of the values (so null is "null": a TypeError). */
function enumeration<T extends string>(value: unknown, values: readonly T[], fallback: T, member: string, method: string, type: string, enumName: string): T {
  if (value === undefined) return fallback;
  const s = String(value as string);
  if (!(values as readonly string[]).includes(s)) {
    throw fail(method, 'SerialPort', `Failed to read the '${member}' property from '${type}': The provided value '${s}' is not a valid enum value of type ${enumName}.`);
  }
  return s as T;
}

/** The WebIDL conversion of open()'s argument: TypeErrors whatever the port's state. */
export function convertSerialOptions(value: unknown): ConvertedSerialOptions {
  const m = 'open';
  const t = 'SerialOptions';
  if (value === undefined) throw fail(m, 'SerialPort', '1 argument required, but only 0 present.');
  const o = dictionary(value, m, t);
  // Members in lexicographic order, as WebIDL reads them.
  const baudRate = o.baudRate;
  if (baudRate === undefined) throw fail(m, 'SerialPort', `Failed to read the 'baudRate' property from '${t}': Required member is undefined.`);
  const converted = { baudRate: enforceRange(baudRate, 0xffff_ffff, 'baudRate', m, t) };
  const bufferSize = o.bufferSize === undefined ? DEFAULT_BUFFER_SIZE : enforceRange(o.bufferSize, 0xffff_ffff, 'bufferSize', m, t);
  const dataBits = o.dataBits === undefined ? 8 : enforceRange(o.dataBits, 255, 'dataBits', m, t);
  const flowControl = enumeration(o.flowControl, ['none', 'hardware'] as const, 'none', 'flowControl', m, t, 'FlowControlType');
  const parity = enumeration(o.parity, ['none', 'even', 'odd'] as const, 'none', 'parity', m, t, 'ParityType');
  const stopBits = o.stopBits === undefined ? 1 : enforceRange(o.stopBits, 255, 'stopBits', m, t);
  return { ...converted, bufferSize, dataBits, flowControl, parity, stopBits };
}

/** open() steps 3-7, after the state check: the values the port cannot take. */
export function checkSerialOptions(o: ConvertedSerialOptions): Partial<SerialSettings> {
  if (o.baudRate === 0) throw new TypeError('Requested baud rate must be greater than zero.');
  if (o.dataBits !== 7 && o.dataBits !== 8) throw new TypeError('Requested number of data bits must be 7 or 8.');
  if (o.stopBits !== 1 && o.stopBits !== 2) throw new TypeError('Requested number of stop bits must be 1 or 2.');
  if (o.bufferSize === 0) throw new TypeError('Requested buffer size must be greater than zero.');
  if (o.bufferSize > MAX_BUFFER_SIZE) throw new TypeError(`Requested buffer size (${o.bufferSize} bytes) is greater than the maximum allowed (${MAX_BUFFER_SIZE} bytes).`);
  return { baudRate: o.baudRate, dataBits: o.dataBits, stopBits: o.stopBits, parity: o.parity, flowControl: o.flowControl === 'hardware' ? 'rts-cts' : 'none' };
}

/** The WebIDL conversion of setSignals()'s argument (booleans: never a TypeError but for a non-object). */
export function convertOutputSignals(value: unknown): SerialOutputSignals {
  const o = dictionary(value, 'setSignals', 'SerialOutputSignals');
  const out: SerialOutputSignals = {};
  // Lexicographic order, as WebIDL reads them.
  if (o.break !== undefined) out.break = !!o.break;
  if (o.dataTerminalReady !== undefined) out.dataTerminalReady = !!o.dataTerminalReady;
  if (o.requestToSend !== undefined) out.requestToSend = !!o.requestToSend;
  return out;
}

/** setSignals() step 2, after the state check. */
export function checkOutputSignals(s: SerialOutputSignals): void {
  if (s.dataTerminalReady === undefined && s.requestToSend === undefined && s.break === undefined) {
    throw new TypeError('Signals dictionary must contain at least one member.');
  }
}
