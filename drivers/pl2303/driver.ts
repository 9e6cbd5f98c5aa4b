// The PL2303 usb-serial driver (Linux: drivers/usb/serial/pl2303.c), as a chip ops table over
// the generic usb-serial layer: type detection and the vendor start-up at attach, then per port
// the open sequence, line settings, signals, flow control, purge, and the interrupt endpoint's
// status notifications (modem lines, and line errors for the bulk data that follows). The chip
// knowledge is in types.ts, baud.ts and registers.ts; the requests in requests.ts.
//
// Modem lines: the chip reports them only on its interrupt endpoint, and that endpoint holds one
// report, the UART status as it is when the host takes it: a change made while nobody polls (the
// port closed) waits there, and the first poll after the next open learns the present lines, not
// the history (mocks/pl2303/chip.ts models it so). Linux's pl2303 keeps priv->line_status across
// close, updates it only in the interrupt callback, and reads no status in pl2303_open: the URB
// it submits there takes the waiting report. usb-serial-for-android's ProlificSerialDriver reads
// that one report (100 ms timeout) as its initial status. This driver keeps its cache across close
// as Linux does and, until the first report after open, getModemLines waits for it (at most
// INITIAL_STATUS_MS), so an answer right after open is not the cache from before a change.
import { childLog, defineUsbSerialDriver, readDeviceDescriptor, SerialSettingsError, transferErrorKind, type AppliedSettings, type ChipPort, type LineError, type ModemLines, type SerialSettings, type UsbInterface, type UsbSerialChipOps, type UsbEndpointInfo } from '../../src/serial/driver-api.ts';
import { encodePl2303Baud, encodePl2303LineCoding, Pl2303BaudError, PL2303_LINE_CODING_LENGTH, samePl2303LineCoding } from './baud.ts';
import { Pl2303EndpointError, Pl2303LineSettingsError } from './errors.ts';
import { PL2303_ID_TABLE, pl2303IdInfo } from './ids.ts';
import {
  applyRegisterMask,
  decodePl2303StatusByte,
  flowControlUpdate,
  openSequence,
  purgeSteps,
  startupSequence,
  PL2303_CONTROL_DTR,
  PL2303_CONTROL_RTS,
  PL2303_STATUS,
  PL2303_STATUS_INDEX,
  PL2303_STATUS_MSR_MASK,
  PL2303_STATUS_TRANSIENT_MASK,
  type Pl2303FlowControl,
} from './registers.ts';
import { hex8, Pl2303Requests } from './requests.ts';
import { detectPl2303Type, isPl2303Clone, pl2303AutoXonXoff, pl2303TypeInfo, type Pl2303Descriptor, type Pl2303Quirks, type Pl2303Type, type Pl2303TypeInfo } from './types.ts';

const log = childLog('drivers.pl2303');

/** Linux's driver name. */
export const PL2303_DRIVER_NAME = 'pl2303';

/** How long getModemLines waits for the chip's first notification after open (Android's 100 ms). */
export const INITIAL_STATUS_MS = 100;

/** Transmit FIFO bytes the drain bound assumes (Linux's pl2303 bulk_out_size). */
const TX_FIFO = 256;

export interface Pl2303Endpoints {
  readonly interruptIn: UsbEndpointInfo;
  readonly bulkIn: UsbEndpointInfo;
  readonly bulkOut: UsbEndpointInfo;
}

/** What the driver keeps per adapter. */
export interface Pl2303Adapter {
  readonly type: Pl2303Type;
  readonly info: Pl2303TypeInfo;
  readonly quirks: Readonly<Pl2303Quirks>;
  /** Offset of the UART status byte in a notification (8, or 0 for the Siemens cables). */
  readonly statusIndex: number;
  readonly descriptor: Readonly<Pl2303Descriptor>;
  readonly endpoints: Pl2303Endpoints;
}

interface Pl2303PortState {
  requests: Pl2303Requests;
  /** The last SET_LINE payload the chip took (also the clone's line-settings cache). */
  line: Uint8Array | undefined;
  settings: SerialSettings | null;
  control: number;
  breakOn: boolean;
  /** Last UART status byte from the interrupt endpoint (kept across close, as priv->line_status). */
  status: number;
  /** Whether a notification arrived since open. */
  statusSeen: boolean;
  statusWaiters: (() => void)[];
  /** Error bits (0x74) waiting for the next bulk data. */
  pendingErrors: number;
}

type Chip = ChipPort<Pl2303Adapter, Pl2303PortState>;

export interface Pl2303DriverOptions {
  /** Bytes per bulk IN transfer (a multiple of the packet size); default 4096. */
  readTransferSize?: number;
  /** Bytes per bulk OUT transfer; default 16384. */
  writeTransferSize?: number;
  /** Called when probe or attach refuses a device (endpoints, detection, start-up); the probe fails with it. */
  onProbeError?(intf: UsbInterface, error: unknown): void;
}

const requestsOf = new WeakMap<Pl2303Adapter, Pl2303Requests>();

// ---- settings -----------------------------------------------------------------------------

interface Planned {
  line: Uint8Array;
  actual: number;
  reported: number;
  flow: Pl2303FlowControl;
}

/** Checks the settings against the chip and builds what to send; throws SerialSettingsError. */
function plan(adapter: Pl2303Adapter, s: SerialSettings): Planned {
  const type = adapter.type;
  let flow: Pl2303FlowControl;
  switch (s.flowControl) {
    case 'none':
    case 'rts-cts':
      flow = s.flowControl;
      break;
    case 'xon-xoff':
      if (!pl2303AutoXonXoff(type, { startChar: s.xon, stopChar: s.xoff })) {
        throw new SerialSettingsError(s.xon !== 0x11 ? 'xon' : 'xoff', `PL2303 ${type} does XON/XOFF only with XON 0x11 and XOFF 0x13 (asked: ${hex8(s.xon)} / ${hex8(s.xoff)})`);
      }
      flow = 'xon-xoff';
      break;
    case 'dtr-dsr':
      throw new SerialSettingsError('flowControl', `PL2303 ${type} has no DTR/DSR flow control; use 'none', 'rts-cts' or 'xon-xoff'`);
  }
  let baud;
  try {
    baud = encodePl2303Baud(type, s.baudRate);
  } catch (err) {
    if (err instanceof Pl2303BaudError) throw new SerialSettingsError('baudRate', err.message, { cause: err });
    throw err;
  }
  const line = encodePl2303LineCoding({ baudBytes: baud.bytes, stopBits: s.stopBits, parity: s.parity, dataBits: s.dataBits });
  return { line, actual: baud.actual, reported: baud.reported, flow };
}

/**
 * Sends what changed: SET_LINE (always on open, else only when the 7 bytes differ from the last
 * ones, as some chips lose data on a re-set) with a GET_LINE read-back, and the flow-control
 * register by read-modify-write (on open, or when the mode changed).
 */
async function apply(c: Chip, s: SerialSettings, initial: boolean): Promise<AppliedSettings> {
  const { adapter, state: st } = c;
  const io = st.requests;
  const p = plan(adapter, s);
  await c.control.serialize(async () => {
    if (initial || !samePl2303LineCoding(st.line, p.line)) {
      await io.setLine(p.line);
      st.line = p.line;
      // The clone's GET_LINE stalls: its cache is what it was sent.
      const back = adapter.quirks.noBreakGetLine ? p.line : await io.getLine();
      if (!samePl2303LineCoding(p.line, back.subarray(0, PL2303_LINE_CODING_LENGTH))) {
        st.line = undefined; // unknown now: the next change sends again
        throw new Pl2303LineSettingsError(p.line, back);
      }
    } else {
      log.debug({ port: c.port.name }, 'line settings unchanged: SET_LINE skipped');
    }
    const prev = st.settings;
    if (initial || !prev || prev.flowControl !== s.flowControl) {
      const u = flowControlUpdate(adapter.type, p.flow);
      const current = await io.vendorRead(u.readAddress);
      await io.vendorWrite(u.writeReg, applyRegisterMask(current, u.mask, u.value));
    }
    st.settings = { ...s };
  });
  return { ...s, actualBaudRate: p.actual, reportedBaudRate: p.reported };
}

// ---- status -------------------------------------------------------------------------------

function modemLines(raw: number): ModemLines {
  const s = decodePl2303StatusByte(raw & PL2303_STATUS_MSR_MASK);
  return { cts: s.modem.cts, dsr: s.modem.dsr, ri: s.modem.ring, dcd: s.modem.dcd };
}

/** The errors the last status reported, for the first byte of the bulk data that follows it. */
function takeErrors(st: Pl2303PortState): LineError[] {
  const bits = st.pendingErrors;
  if (!bits) return [];
  st.pendingErrors = 0;
  const found: LineError[] = [];
  // Overrun is not tied to a character; break beats parity beats framing (pl2303.c's order).
  if (bits & PL2303_STATUS.OVERRUN) found.push({ kind: 'overrun', position: 0 });
  if (bits & PL2303_STATUS.BREAK) found.push({ kind: 'break', position: 0 });
  else if (bits & PL2303_STATUS.PARITY) found.push({ kind: 'parity', position: 0 });
  else if (bits & PL2303_STATUS.FRAMING) found.push({ kind: 'framing', position: 0 });
  return found;
}

function findEndpoints(intf: UsbInterface, idInfo: { endpointHack?: boolean }): Pl2303Endpoints {
  const interruptIn = intf.endpoint('in', 'interrupt');
  const bulkIn = intf.endpoint('in', 'bulk');
  const bulkOut = intf.endpoint('out', 'bulk');
  if (!interruptIn) {
    const hint = idInfo.endpointHack ? ' (this device may keep it on interface 0, which is not supported)' : '';
    throw new Pl2303EndpointError(intf.name, 'interrupt IN', hint);
  }
  if (!bulkIn) throw new Pl2303EndpointError(intf.name, 'bulk IN');
  if (!bulkOut) throw new Pl2303EndpointError(intf.name, 'bulk OUT');
  return Object.freeze({ interruptIn, bulkIn, bulkOut });
}

// ---- the ops table ------------------------------------------------------------------------

function pl2303Ops(options: Pl2303DriverOptions): UsbSerialChipOps<Pl2303Adapter, Pl2303PortState> {
  const readSize = options.readTransferSize ?? 4096;
  const reportProbeError = (intf: UsbInterface, err: unknown): never => {
    options.onProbeError?.(intf, err);
    throw err;
  };
  return {
    name: PL2303_DRIVER_NAME,
    description: 'Prolific PL2303 USB to serial adaptor driver',
    idTable: PL2303_ID_TABLE,
    readTransferSize: () => readSize,
    writeTransferSize: options.writeTransferSize ?? 16384,

    describe: (a) => `PL2303 ${a.type}${a.quirks.noBreakGetLine ? ' clone' : ''}`,

    probe(intf, id) {
      // Checked before any I/O: a PL2303 interface has interrupt IN, bulk IN and bulk OUT.
      try {
        findEndpoints(intf, pl2303IdInfo(id));
      } catch (err) {
        reportProbeError(intf, err);
      }
    },

    async attach({ intf, id, control }) {
      try {
        const idInfo = pl2303IdInfo(id);
        const endpoints = findEndpoints(intf, idInfo);
        const raw = intf.usbDevice.rawDescriptor ?? (await readDeviceDescriptor(intf.usb));
        const descriptor: Pl2303Descriptor = { bDeviceClass: raw.bDeviceClass, bMaxPacketSize0: raw.bMaxPacketSize0, bcdUSB: raw.bcdUSB, bcdDevice: raw.bcdDevice };
        // The type is not known yet: the 0x8080 probe uses the legacy vendor read.
        const io = new Pl2303Requests(control, intf.interfaceNumber, 'HX');
        const detection = await detectPl2303Type(descriptor, (reg) => io.vendorRead(reg));
        io.type = detection.type;
        const quirks = { ...detection.quirks };
        // An HXD whose GET_LINE stalls is a clone: no BREAK, and GET_LINE replaced by a cache.
        if (detection.type === 'HXD') quirks.noBreakGetLine = await isPl2303Clone(() => io.getLine());
        const adapter: Pl2303Adapter = Object.freeze({
          type: detection.type,
          info: pl2303TypeInfo(detection.type),
          quirks: Object.freeze(quirks),
          statusIndex: idInfo.statusIndex0 ? 0 : PL2303_STATUS_INDEX,
          descriptor: Object.freeze(descriptor),
          endpoints,
        });
        log.debug({ adapter: intf.name, type: adapter.type, quirks }, 'PL2303 detected');
        await startup(io);
        requestsOf.set(adapter, io);
        return adapter;
      } catch (err) {
        return reportProbeError(intf, err);
      }
    },

    endpoints: (a) => a.endpoints,

    capabilities: (a) => ({
      dataBits: [5, 6, 7, 8],
      flowControl: a.info.autoXonXoff ? ['none', 'rts-cts', 'xon-xoff'] : ['none', 'rts-cts'],
      break: a.info.breakSupported && !a.quirks.noBreakGetLine,
      txFifoSize: TX_FIFO,
      txEmptyStatus: false,
    }),

    newPortState: (a) => ({
      requests: requestsOf.get(a)!,
      line: undefined,
      settings: null,
      control: 0,
      breakOn: false,
      status: 0,
      statusSeen: false,
      statusWaiters: [],
      pendingErrors: 0,
    }),

    async open(c, settings) {
      const { adapter, state: st } = c;
      plan(adapter, settings); // refuse what the chip cannot do before touching it
      st.requests = requestsOf.get(adapter)!.forPort(c.port);
      st.pendingErrors = 0;
      st.statusSeen = false;
      const usb = c.port.serial.intf.usb;
      let applied: AppliedSettings | undefined;
      // pl2303_open's steps in order: reset (per type), line settings; the generic layer then
      // starts the interrupt endpoint before the bulk one, so a status never trails its data.
      for (const step of openSequence(adapter.type)) {
        switch (step.op) {
          case 'clear-halt': {
            const ep = step.endpoint === 'bulk-out' ? adapter.endpoints.bulkOut : adapter.endpoints.bulkIn;
            await usb.clearHalt(ep.direction, ep.number);
            break;
          }
          case 'write':
            await c.control.serialize(() => st.requests.vendorWrite(step.reg, step.value));
            break;
          case 'read':
            await c.control.serialize(() => st.requests.vendorRead(step.reg));
            break;
          case 'set-line':
            applied = await apply(c, settings, true);
            break;
          case 'start-interrupt-in':
          case 'start-bulk-in':
            break;
        }
      }
      return applied ?? apply(c, settings, true);
    },

    setSettings: (c, settings) => apply(c, settings, false),

    async setLines(c, lines) {
      const st = c.state;
      await c.control.serialize(async () => {
        let control = st.control;
        if (lines.dtr !== undefined) control = lines.dtr ? control | PL2303_CONTROL_DTR : control & ~PL2303_CONTROL_DTR;
        if (lines.rts !== undefined) control = lines.rts ? control | PL2303_CONTROL_RTS : control & ~PL2303_CONTROL_RTS;
        await st.requests.setControl(control);
        st.control = control;
      });
    },

    async setBreak(c, on) {
      await c.control.serialize(async () => {
        await c.state.requests.setBreak(on);
        c.state.breakOn = on;
      });
    },

    async getModemLines(c) {
      const st = c.state;
      if (!st.statusSeen) {
        // The chip's first notification after open carries its lines; wait briefly for it.
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          st.statusWaiters.push(resolve);
          timer = setTimeout(resolve, INITIAL_STATUS_MS);
        });
        clearTimeout(timer);
      }
      return modemLines(st.status);
    },

    async purge(c, what) {
      await c.control.serialize(async () => {
        for (const step of purgeSteps(c.adapter.type, { write: what.tx, read: what.rx })) await c.state.requests.vendorWrite(step.reg, step.value);
      });
    },

    async close(c, { hupcl }) {
      const st = c.state;
      await c.control.serialize(async () => {
        // Hang up (HUPCL) and release a break, as Linux's close does.
        if (hupcl && st.control !== 0) {
          st.control = 0;
          await st.requests.setControl(0).catch((err: unknown) => log.debug({ err, port: c.port.name }, 'dropping DTR/RTS failed'));
        }
        if (st.breakOn) {
          st.breakOn = false;
          await st.requests.setBreak(false).catch((err: unknown) => log.debug({ err, port: c.port.name }, 'break off failed'));
        }
      });
      for (const w of st.statusWaiters.splice(0)) w();
    },

    parseInterrupt(c, data, sink) {
      const st = c.state;
      if (data.length < c.adapter.statusIndex + 1) return; // too short: ignored, as Linux does
      const raw = data[c.adapter.statusIndex]!;
      st.status = raw;
      st.statusSeen = true;
      st.pendingErrors |= raw & PL2303_STATUS_TRANSIENT_MASK;
      for (const w of st.statusWaiters.splice(0)) w();
      sink.modem(modemLines(raw));
      if (raw & PL2303_STATUS_TRANSIENT_MASK) log.debug({ port: c.port.name, status: hex8(raw) }, 'line error reported');
    },

    parseBulkIn(c, data, sink) {
      sink.data(data, takeErrors(c.state));
    },
  };
}

/** pl2303_startup's vendor sequence. Like Linux, failures are ignored, but not a disconnect. */
async function startup(io: Pl2303Requests): Promise<void> {
  for (const step of startupSequence(io.type)) {
    try {
      if (step.op === 'read') await io.vendorRead(step.reg);
      else await io.vendorWrite(step.reg, step.value);
    } catch (err) {
      if (transferErrorKind(err) === 'disconnected') throw err;
      log.debug({ err, step }, 'start-up step failed (ignored, as Linux does)');
    }
  }
}

const pl2303 = defineUsbSerialDriver(pl2303Ops);

/** Builds a PL2303 serial driver (each instance keeps its own options). */
export const createPl2303Driver = pl2303.create;
/** The default driver, its driver set, its registration and the adapter accessor (the generic layer's registration tail). */
export const { driver: pl2303Driver, driverSet: pl2303DriverSet, register: registerPl2303, adapterOf: pl2303AdapterOf } = pl2303;
