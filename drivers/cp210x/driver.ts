// The CP210x usb-serial driver (Linux: drivers/usb/serial/cp210x.c; Silicon Labs AN571), as a chip
// ops table over the generic usb-serial layer. Each interface is one port (CP2105 has two, CP2108
// four) and binds alone; every port request carries its interface number.
//
// Sequences, as Linux sends them:
//   attach   GET_PARTNUM (1 byte); on a CP2102 the same read with wLength 2, where a one-byte
//            answer marks a counterfeit without event insertion (`cp2102_determine_quirks`);
//            GET_FW_VER on CP2105/CP2108, GET_FW_VER_2N on CP2102N, whose firmware up to 1.0.4
//            (erratum CP2102N_E104) gets no flow control (`cp210x_determine_type`).
//   open     IFC_ENABLE(1), then set_termios: SET_BAUDRATE, SET_LINE_CTL, [SET_CHARS with XON/XOFF]
//            GET_FLOW + SET_FLOW, EMBED_EVENTS(0xEC); reading starts; DTR/RTS raised.
//   settings SET_BAUDRATE / SET_LINE_CTL / the flow sequence, each only when its part changed.
//   lines    SET_MHS with level bits and write masks, or, while RTS/CTS is on and RTS is written,
//            GET_FLOW + SET_FLOW with the DTR and RTS modes (`cp210x_tiocmset_port`).
//   close    [DTR/RTS dropped], PURGE(0x0F), IFC_ENABLE(0), which also ends event insertion.
// Where this deviates from Linux, and why:
//   - Event insertion is on at every open (Linux: only with termios INPCK, which these settings do
//     not have): line errors reach the user on this port as they do on FTDI and PL2303. A part
//     that refuses it (or the counterfeit CP2102) runs without: raw bytes, no line errors.
//   - Modem-status events in the stream (Linux drops them) become modem events; there is no other
//     way the chip reports a change. Without event insertion, changes are seen by getSignals only.
//   - An overrun is reported as a LineError on the next byte, not as an inserted NUL (Linux inserts
//     one flagged TTY_OVERRUN, which n_tty counts and drops: the reader sees the same bytes).
//   - A rate the part runs more than 3% off is refused (Linux clamps to the port's range and sends
//     the table rate); CP2101's 8N1-only limits and the CP2105 SCI's missing break are refusals
//     (Linux forces CS8 and returns -ENOTTY for break); 1.5 stop bits (AN571 code 1) are sent,
//     which termios cannot ask for. DTR/DSR flow control is refused, as Linux never sets it.
//   - A break still held at close is released before PURGE.
import { childLog, defineUsbSerialDriver, SerialSettingsError, transferErrorKind, UsbSerialControlError, PortDisconnectedError, type AppliedSettings, type ChipPort, type ControlSetup, type LineError, type ModemLines, type SerialSettings, type UsbEndpointInfo, type UsbInterface, type UsbSerialChipOps, type UsbSerialControl } from '../../src/serial/driver-api.ts';
import { Cp210xBaudError, encodeCp210xBaud } from './baud.ts';
import { Cp210xEndpointError } from './errors.ts';
import { Cp210xEventParser } from './events.ts';
import { CP210X_ID_TABLE } from './ids.ts';
import { CP210X_PARTNUM, cp210xBaudPart, cp210xPartFromPartnum, type Cp210xBaudPart, type Cp210xFamily } from './parts.ts';
import {
  cp210xFlowFor,
  cp210xFlowLines,
  cp210xLinesBeforeMsr,
  cp210xMhsValue,
  cp210xPortSetup,
  cp210xU32,
  cp210xVendorSetup,
  decodeCp210xCommStatus,
  decodeCp210xFlow,
  decodeCp210xModemStatus,
  encodeCp210xChars,
  encodeCp210xFlow,
  encodeCp210xLineCtl,
  hex16,
  CP210X_COMM_STATUS_LENGTH,
  CP210X_ESCCHAR,
  CP210X_FLOW_LENGTH,
  CP210X_PURGE,
  CP210X_REQ,
  CP210X_VENDOR,
} from './requests.ts';

const log = childLog('drivers.cp210x');

/** Linux's driver name. */
export const CP210X_DRIVER_NAME = 'cp210x';

/** How far the rate a part runs may be from the request before it is refused. */
export const CP210X_BAUD_TOLERANCE = 0.03;

/** Transmit FIFO bytes (CP2102's 640-byte TX buffer); drain polls GET_COMM_STATUS instead. */
const TX_FIFO = 640;

/** CP2102N firmware at or below this has erratum CP2102N_E104 (`cp210x_determine_type`). */
const CP2102N_E104_LAST_FW = 0x010004;

export interface Cp210xEndpoints {
  readonly bulkIn: UsbEndpointInfo;
  readonly bulkOut: UsbEndpointInfo;
}

/** What the driver keeps per interface (one port). */
export interface Cp210xAdapter {
  /** The GET_PARTNUM byte (0xFF when the read failed, as Linux records it). */
  readonly partnum: number;
  readonly family: Cp210xFamily;
  /** CP2102N package, else null. */
  readonly variant: string | null;
  /** How this port maps rates (CP2105: 'CP2105-ECI' on interface 0, 'CP2105-SCI' on 1). */
  readonly baudPart: Cp210xBaudPart;
  readonly interfaceNumber: number;
  /** Firmware version [major, minor, patch] where the part reports one. */
  readonly firmware: readonly number[] | null;
  /** The part does not insert events (a counterfeit CP2102): no line errors, no modem events. */
  readonly noEventMode: boolean;
  /** CP2102N erratum E104: no flow control. */
  readonly noFlowControl: boolean;
  readonly endpoints: Cp210xEndpoints;
}

interface Cp210xPortState {
  /** IFC_ENABLE(1) was sent and not undone: close has something to undo. */
  enabled: boolean;
  settings: SerialSettings | null;
  /** The last SET_BAUDRATE value and SET_LINE_CTL wValue the chip took. */
  baudValue: number | null;
  lineCtl: number | null;
  /** The DTR/RTS levels the driver holds (`port_priv->dtr/rts`) and whether RTS/CTS is on. */
  dtr: boolean;
  rts: boolean;
  crtscts: boolean;
  eventMode: boolean;
  breakOn: boolean;
  parser: Cp210xEventParser;
  /** An overrun seen with no byte after it yet: reported on the next one. */
  pendingOverrun: boolean;
  /** Whether a modem report went to the port since open. */
  modemReported: boolean;
}

type Chip = ChipPort<Cp210xAdapter, Cp210xPortState>;

export interface Cp210xDriverOptions {
  /** Bytes per bulk IN transfer (a multiple of the packet size); default 4096. */
  readTransferSize?: number;
  /** Bytes per bulk OUT transfer; default 16384. */
  writeTransferSize?: number;
  /** Called when probe or attach refuses a device; the probe fails with it. */
  onProbeError?(intf: UsbInterface, error: unknown): void;
}


// ---- requests -----------------------------------------------------------------------------

function out(c: Chip, request: number, value: number, what: string, data?: Uint8Array): Promise<void> {
  return c.control.out(cp210xPortSetup(request, value, c.adapter.interfaceNumber), { what: `CP210x ${what}`, port: c.port }, data);
}

function read(c: Chip, request: number, length: number, what: string): Promise<Uint8Array> {
  return c.control.in(cp210xPortSetup(request, 0, c.adapter.interfaceNumber), length, { what: `CP210x ${what}`, port: c.port });
}

// ---- settings -----------------------------------------------------------------------------

interface Planned {
  baudValue: number;
  actual: number;
  lineCtl: number;
}

/** Checks the settings against the port and builds what to send; throws SerialSettingsError. */
function plan(a: Cp210xAdapter, s: SerialSettings): Planned {
  let enc;
  try {
    enc = encodeCp210xBaud(a.baudPart, s.baudRate);
  } catch (err) {
    if (err instanceof Cp210xBaudError) throw new SerialSettingsError('baudRate', err.message, { cause: err });
    throw err;
  }
  if (Math.abs(enc.actual - s.baudRate) > s.baudRate * CP210X_BAUD_TOLERANCE) {
    throw new SerialSettingsError(
      'baudRate',
      `${describe(a)} runs ${enc.actual} baud when asked for ${s.baudRate} (more than ${CP210X_BAUD_TOLERANCE * 100}% off${enc.clamped ? '; outside the port\'s range' : ''})`,
    );
  }
  if (a.family === 'CP2101' && (s.stopBits !== 1 || s.parity === 'mark' || s.parity === 'space')) {
    throw new SerialSettingsError(s.stopBits !== 1 ? 'stopBits' : 'parity', 'CP2101 runs 1 stop bit and no mark/space parity only');
  }
  return { baudValue: enc.value, actual: enc.actual, lineCtl: encodeCp210xLineCtl(s) };
}

function flowChanged(prev: SerialSettings | null, s: SerialSettings): boolean {
  if (!prev || prev.flowControl !== s.flowControl) return true;
  return s.flowControl === 'xon-xoff' && (prev.xon !== s.xon || prev.xoff !== s.xoff);
}

/**
 * `cp210x_set_termios`: the rate when it changed, the line control when it changed, the flow
 * sequence when the flow settings changed, then event insertion on (if not on yet).
 */
async function apply(c: Chip, s: SerialSettings, initial: boolean): Promise<AppliedSettings> {
  const { adapter: a, state: st } = c;
  const p = plan(a, s);
  await c.control.serialize(async () => {
    if (initial || st.baudValue !== p.baudValue) {
      st.baudValue = null; // unknown until the chip took it
      await out(c, CP210X_REQ.SET_BAUDRATE, 0, 'SET_BAUDRATE', cp210xU32(p.baudValue));
      st.baudValue = p.baudValue;
    }
    if (initial || st.lineCtl !== p.lineCtl) {
      st.lineCtl = null;
      await out(c, CP210X_REQ.SET_LINE_CTL, p.lineCtl, `SET_LINE_CTL ${hex16(p.lineCtl)}`);
      st.lineCtl = p.lineCtl;
    }
    if (initial || flowChanged(st.settings, s)) {
      const xonXoff = s.flowControl === 'xon-xoff';
      if (xonXoff) await out(c, CP210X_REQ.SET_CHARS, 0, 'SET_CHARS', encodeCp210xChars(s.xon, s.xoff));
      const current = decodeCp210xFlow(await read(c, CP210X_REQ.GET_FLOW, CP210X_FLOW_LENGTH, 'GET_FLOW'));
      const rtsCts = s.flowControl === 'rts-cts';
      const next = cp210xFlowFor(current, { rtsCts, xonXoff, dtr: st.dtr, rts: st.rts });
      await out(c, CP210X_REQ.SET_FLOW, 0, 'SET_FLOW', encodeCp210xFlow(next));
      st.crtscts = rtsCts;
    }
    st.settings = { ...s };
    if (!st.eventMode && !a.noEventMode) await enableEventMode(c);
  });
  return { ...s, actualBaudRate: p.actual, reportedBaudRate: p.baudValue };
}

/** `cp210x_enable_event_mode`: a refusal leaves the port in raw mode (logged), as in Linux. */
async function enableEventMode(c: Chip): Promise<void> {
  try {
    await out(c, CP210X_REQ.EMBED_EVENTS, CP210X_ESCCHAR, 'EMBED_EVENTS');
    c.state.parser.reset();
    c.state.eventMode = true;
  } catch (err) {
    if (err instanceof PortDisconnectedError) throw err;
    log.warn({ err, port: c.port.name }, 'event insertion refused: line errors will not be reported');
  }
}

/** `cp210x_tiocmset_port`. */
async function setLines(c: Chip, lines: { dtr?: boolean; rts?: boolean }): Promise<void> {
  const st = c.state;
  const mhs = cp210xMhsValue(lines);
  if (mhs === 0) return;
  if (lines.dtr !== undefined) st.dtr = lines.dtr;
  if (lines.rts !== undefined) st.rts = lines.rts;
  if (st.crtscts && lines.rts !== undefined) {
    const current = decodeCp210xFlow(await read(c, CP210X_REQ.GET_FLOW, CP210X_FLOW_LENGTH, 'GET_FLOW'));
    await out(c, CP210X_REQ.SET_FLOW, 0, 'SET_FLOW', encodeCp210xFlow(cp210xFlowLines(current, { dtr: st.dtr, rts: st.rts })));
  } else {
    await out(c, CP210X_REQ.SET_MHS, mhs, `SET_MHS ${hex16(mhs)}`);
  }
}

// ---- received data ------------------------------------------------------------------------

/** Event-mode bulk data to data, typed line errors (positions into the data) and modem reports. */
function parseEvents(c: Chip, packet: Uint8Array): { data: Uint8Array; errors: LineError[]; modem: ModemLines[] } {
  const st = c.state;
  const parsed = st.parser.parse(packet);
  const data: number[] = [];
  const errors: LineError[] = [];
  parsed.flags.forEach((flag, i) => {
    if (flag === 'overrun') {
      st.pendingOverrun = true; // the inserted NUL: the error goes on the next byte
      return;
    }
    const position = data.length;
    if (st.pendingOverrun) {
      errors.push({ kind: 'overrun', position });
      st.pendingOverrun = false;
    }
    if (flag !== 'none') errors.push({ kind: flag, position });
    data.push(parsed.data[i]!);
  });
  const modem: ModemLines[] = [];
  for (const msr of parsed.modem) {
    // The port reports changes against the last lines it heard: give it the lines before the first event.
    if (!st.modemReported) modem.push(cp210xLinesBeforeMsr(msr));
    st.modemReported = true;
    modem.push(decodeCp210xModemStatus(msr));
  }
  return { data: Uint8Array.from(data), errors, modem };
}

// ---- attach -------------------------------------------------------------------------------

function findEndpoints(intf: UsbInterface): Cp210xEndpoints {
  const bulkIn = intf.endpoint('in', 'bulk');
  const bulkOut = intf.endpoint('out', 'bulk');
  if (!bulkIn) throw new Cp210xEndpointError(intf.name, 'bulk IN');
  if (!bulkOut) throw new Cp210xEndpointError(intf.name, 'bulk OUT');
  return Object.freeze({ bulkIn, bulkOut });
}

const gone = (err: unknown) => err instanceof PortDisconnectedError || transferErrorKind(err) === 'disconnected';

/** A VENDOR_SPECIFIC read that may fail (Linux logs and goes on): null then, unless the device is gone. */
async function vendorRead(control: UsbSerialControl, value: number, index: number, length: number, what: string): Promise<Uint8Array | null> {
  try {
    return await control.in(cp210xVendorSetup(value, index), length, { what: `CP210x ${what}` });
  } catch (err) {
    if (gone(err)) throw err;
    log.debug({ err, what }, 'vendor read failed');
    return null;
  }
}

/** `cp2102_determine_quirks`: GET_PARTNUM with wLength 2 (wIndex 0); a one-byte answer is a part without event insertion. */
async function answersPartnumShort(control: UsbSerialControl): Promise<boolean> {
  const setup: ControlSetup = cp210xVendorSetup(CP210X_VENDOR.GET_PARTNUM, 0);
  try {
    await control.in(setup, 2, { what: 'CP210x GET_PARTNUM (wLength 2)' });
    return false;
  } catch (err) {
    if (gone(err)) throw err;
    return err instanceof UsbSerialControlError && err.failure.status === 'short' && err.failure.got === 1;
  }
}

function describe(a: Cp210xAdapter): string {
  const name = a.family === 'unknown' ? `CP210x (part 0x${a.partnum.toString(16)})` : a.variant ? `${a.family} ${a.variant}` : a.family;
  const sub = a.baudPart === 'CP2105-ECI' ? ' ECI' : a.baudPart === 'CP2105-SCI' ? ' SCI' : '';
  return `${name}${sub}${a.noEventMode ? ' (no event insertion)' : ''} on interface ${a.interfaceNumber}`;
}

// ---- the ops table ------------------------------------------------------------------------

function cp210xOps(options: Cp210xDriverOptions): UsbSerialChipOps<Cp210xAdapter, Cp210xPortState> {
  const readSize = options.readTransferSize ?? 4096;
  const reportProbeError = (intf: UsbInterface, err: unknown): never => {
    options.onProbeError?.(intf, err);
    throw err;
  };
  return {
    name: CP210X_DRIVER_NAME,
    description: 'Silicon Labs CP210x USB to UART bridge driver',
    idTable: CP210X_ID_TABLE,
    readTransferSize: () => readSize,
    writeTransferSize: options.writeTransferSize ?? 16384,
    describe,

    probe(intf) {
      try {
        findEndpoints(intf);
      } catch (err) {
        reportProbeError(intf, err);
      }
    },

    async attach({ intf, control }) {
      try {
        const endpoints = findEndpoints(intf);
        const n = intf.interfaceNumber;
        const pn = await vendorRead(control, CP210X_VENDOR.GET_PARTNUM, n, 1, 'GET_PARTNUM');
        if (!pn) log.warn({ intf: intf.name }, 'querying the part number failed: defaults used');
        const part = cp210xPartFromPartnum(pn ? pn[0]! : CP210X_PARTNUM.UNKNOWN);
        let noEventMode = false;
        let noFlowControl = false;
        let firmware: number[] | null = null;
        if (part.family === 'CP2102') {
          noEventMode = await answersPartnumShort(control);
        } else if (part.family === 'CP2105' || part.family === 'CP2108') {
          const fw = await vendorRead(control, CP210X_VENDOR.GET_FW_VER, n, 3, 'GET_FW_VER');
          firmware = fw ? [...fw] : null;
        } else if (part.family === 'CP2102N') {
          const fw = await vendorRead(control, CP210X_VENDOR.GET_FW_VER_2N, n, 3, 'GET_FW_VER_2N');
          firmware = fw ? [...fw] : null;
          if (fw && ((fw[0]! << 16) | (fw[1]! << 8) | fw[2]!) <= CP2102N_E104_LAST_FW) noFlowControl = true;
        }
        const adapter: Cp210xAdapter = Object.freeze({
          partnum: part.partnum,
          family: part.family,
          variant: part.variant,
          baudPart: cp210xBaudPart(part.family, n),
          interfaceNumber: n,
          firmware: firmware ? Object.freeze(firmware) : null,
          noEventMode,
          noFlowControl,
          endpoints,
        });
        log.debug({ intf: intf.name, part: describe(adapter), firmware }, 'CP210x detected');
        return adapter;
      } catch (err) {
        return reportProbeError(intf, err);
      }
    },

    endpoints: (a) => a.endpoints,

    capabilities: (a) => ({
      dataBits: a.family === 'CP2101' ? [8] : [5, 6, 7, 8],
      flowControl: a.noFlowControl ? ['none'] : ['none', 'rts-cts', 'xon-xoff'],
      // Only the CP2105's ECI sends a break (Linux's cp210x_break_ctl refuses the SCI).
      break: a.baudPart !== 'CP2105-SCI',
      txFifoSize: TX_FIFO,
      txEmptyStatus: true,
    }),

    newPortState: () => ({
      enabled: false,
      settings: null,
      baudValue: null,
      lineCtl: null,
      dtr: false,
      rts: false,
      crtscts: false,
      eventMode: false,
      breakOn: false,
      parser: new Cp210xEventParser(CP210X_ESCCHAR),
      pendingOverrun: false,
      modemReported: false,
    }),

    async open(c, settings) {
      const st = c.state;
      plan(c.adapter, settings); // refuse what the port cannot do before touching it
      st.eventMode = false;
      st.pendingOverrun = false;
      st.modemReported = false;
      st.breakOn = false;
      st.parser.reset();
      await c.control.serialize(async () => {
        st.enabled = true; // sent: a failure after this still gets close's PURGE and IFC_ENABLE(0)
        await out(c, CP210X_REQ.IFC_ENABLE, 1, 'IFC_ENABLE(1)');
      });
      return apply(c, settings, true);
    },

    setSettings: (c, settings) => apply(c, settings, false),

    setLines: (c, lines) => c.control.serialize(() => setLines(c, lines)),

    async setBreak(c, on) {
      await c.control.serialize(async () => {
        await out(c, CP210X_REQ.SET_BREAK, on ? 1 : 0, `SET_BREAK(${on ? 1 : 0})`);
        c.state.breakOn = on;
      });
    },

    async getModemLines(c) {
      const b = await c.control.serialize(() => read(c, CP210X_REQ.GET_MDMSTS, 1, 'GET_MDMSTS'));
      return decodeCp210xModemStatus(b[0]!);
    },

    async purge(c, what) {
      const value = (what.tx ? CP210X_PURGE.TX : 0) | (what.rx ? CP210X_PURGE.RX : 0);
      if (!value) return;
      await c.control.serialize(async () => {
        await out(c, CP210X_REQ.PURGE, value, `PURGE ${hex16(value)}`);
        // The chip dropped its receive queue, escape sequences with it.
        if (what.rx) c.state.parser.reset();
      });
    },

    async close(c, { hupcl }) {
      const st = c.state;
      if (!st.enabled) return; // refused before IFC_ENABLE: nothing to undo
      const step = async (what: string, fn: () => Promise<void>) => {
        try {
          await fn();
        } catch (err) {
          if (err instanceof PortDisconnectedError) throw err;
          log.debug({ err, port: c.port.name }, `${what} failed at close`);
        }
      };
      await c.control.serialize(async () => {
        if (hupcl) await step('dropping DTR/RTS', () => setLines(c, { dtr: false, rts: false }));
        if (st.breakOn) {
          st.breakOn = false;
          await step('break off', () => out(c, CP210X_REQ.SET_BREAK, 0, 'SET_BREAK(0)'));
        }
        // "Clear both queues; cp2108 needs this to avoid an occasional hang" (cp210x_close).
        await step('PURGE', () => out(c, CP210X_REQ.PURGE, CP210X_PURGE.ALL, 'PURGE 0x000f'));
        await step('IFC_ENABLE(0)', () => out(c, CP210X_REQ.IFC_ENABLE, 0, 'IFC_ENABLE(0)'));
        st.enabled = false;
        st.eventMode = false; // disabling the interface ends event insertion
      });
    },

    parseBulkIn(c, data, sink) {
      if (!c.state.eventMode) {
        sink.data(data, []);
        return;
      }
      const r = parseEvents(c, data);
      if (r.data.length) sink.data(r.data, r.errors);
      for (const lines of r.modem) sink.modem(lines);
    },

    async txEmpty(c) {
      const b = await c.control.serialize(() => read(c, CP210X_REQ.GET_COMM_STATUS, CP210X_COMM_STATUS_LENGTH, 'GET_COMM_STATUS'));
      return decodeCp210xCommStatus(b).outQueue === 0;
    },
  };
}

const cp210x = defineUsbSerialDriver(cp210xOps);

/** Builds a CP210x serial driver (each instance keeps its own options). */
export const createCp210xDriver = cp210x.create;
/** The default driver, its driver set, its registration and the adapter accessor (the generic layer's registration tail). */
export const { driver: cp210xDriver, driverSet: cp210xDriverSet, register: registerCp210x, adapterOf: cp210xAdapterOf } = cp210x;
