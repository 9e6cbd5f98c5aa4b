// Serial line settings and signals: what a user asks of a port, checked before any chip sees it.
import { CoreError } from '../core/index.ts';

export type Parity = 'none' | 'odd' | 'even' | 'mark' | 'space';
export type StopBits = 1 | 1.5 | 2;
export type DataBits = 5 | 6 | 7 | 8;
export type FlowControl = 'none' | 'rts-cts' | 'dtr-dsr' | 'xon-xoff';

export interface SerialSettings {
  baudRate: number;
  dataBits: DataBits;
  parity: Parity;
  stopBits: StopBits;
  flowControl: FlowControl;
  /** XON / XOFF characters for 'xon-xoff' (default 0x11 / 0x13). */
  xon: number;
  xoff: number;
}

export const DEFAULT_SETTINGS: SerialSettings = {
  baudRate: 9600,
  dataBits: 8,
  parity: 'none',
  stopBits: 1,
  flowControl: 'none',
  xon: 0x11,
  xoff: 0x13,
};

/** What the chip really runs: the settings, with the baud rate it achieved. */
export interface AppliedSettings extends SerialSettings {
  /** The rate the chip runs at (within 3% of baudRate, or the driver refused). */
  actualBaudRate: number;
  /**
   * The rate Linux's driver for this chip reports back through termios for the requested one
   * (what an OS serial binding reads back): ftdi_sio the requested rate, pl2303 the rate its
   * divisor encodes (pl2303_encode_baud_rate's tty_encode_baud_rate).
   */
  reportedBaudRate: number;
}

export interface OutputSignals {
  dtr?: boolean;
  rts?: boolean;
  /** Break on the line. */
  brk?: boolean;
}

export interface ModemLines {
  cts: boolean;
  dsr: boolean;
  ri: boolean;
  dcd: boolean;
}

export type LineErrorKind = 'overrun' | 'parity' | 'framing' | 'break';

/** A line error at a position of a chunk of received data (`data[position]`). */
export interface LineError {
  kind: LineErrorKind;
  position: number;
}

/** A setting the port or its chip cannot do; names the setting and what would work. */
export class SerialSettingsError extends CoreError {
  constructor(
    readonly setting: keyof SerialSettings | 'signals',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('EINVAL', message, options);
  }
}

/** A feature the port's chip does not have (break, a flow-control mode): refused, never ignored. */
export class UnsupportedFeatureError extends SerialSettingsError {
  constructor(
    readonly feature: 'break' | 'flowControl' | 'dataBits',
    message: string,
  ) {
    super(feature === 'break' ? 'signals' : feature, message);
  }
}

/** Fills defaults and checks ranges (chip-independent checks only). */
export function normalizeSettings(partial: Partial<SerialSettings>, base: SerialSettings = DEFAULT_SETTINGS): SerialSettings {
  const s: SerialSettings = { ...base, ...stripUndefined(partial) };
  if (!Number.isFinite(s.baudRate) || s.baudRate <= 0) {
    throw new SerialSettingsError('baudRate', `baud rate ${String(s.baudRate)} is not a positive number`);
  }
  if (![5, 6, 7, 8].includes(s.dataBits)) throw new SerialSettingsError('dataBits', `data bits ${String(s.dataBits)}: expected 5, 6, 7 or 8`);
  if (!['none', 'odd', 'even', 'mark', 'space'].includes(s.parity)) {
    throw new SerialSettingsError('parity', `parity '${String(s.parity)}': expected none, odd, even, mark or space`);
  }
  if (![1, 1.5, 2].includes(s.stopBits)) throw new SerialSettingsError('stopBits', `stop bits ${String(s.stopBits)}: expected 1, 1.5 or 2`);
  if (!['none', 'rts-cts', 'dtr-dsr', 'xon-xoff'].includes(s.flowControl)) {
    throw new SerialSettingsError('flowControl', `flow control '${String(s.flowControl)}': expected none, rts-cts, dtr-dsr or xon-xoff`);
  }
  for (const k of ['xon', 'xoff'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 0 || s[k] > 255) throw new SerialSettingsError(k, `${k} character ${String(s[k])} is not a byte`);
  }
  return s;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
