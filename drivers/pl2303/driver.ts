// The PL2303 usb-serial driver (Linux: drivers/usb/serial/pl2303.c): type detection and the
// vendor start-up at attach, then per port the open sequence, line settings, signals, flow
// control, purge, the interrupt endpoint (modem lines and line errors) and a steady bulk read.
// The chip knowledge is in types.ts, baud.ts and registers.ts; this file does the I/O.
import { childLog } from '../../src/log.ts';
import { InPipeline } from '../../src/serial/pipeline.ts';
import {
  SerialSettingsError,
  type AppliedSettings,
  type LineError,
  type ModemLines,
  type OutputSignals,
  type SerialSettings,
} from '../../src/serial/settings.ts';
import type { SerialDriverSpec } from '../../src/serial/driver.ts';
import type { PortOperations, PortSink } from '../../src/serial/port-ops.ts';
import type { UsbSerial, UsbSerialPort } from '../../src/serial/port.ts';
import type { UsbEndpointInfo, UsbInterface } from '../../src/usb/device.ts';
import { readDeviceDescriptor } from '../../src/usb/descriptors.ts';
import { transferErrorKind } from '../../src/usb/host.ts';
import type { UsbDeviceId } from '../../src/usb/ids.ts';
import {
  encodePl2303Baud,
  encodePl2303LineCoding,
  Pl2303BaudError,
  PL2303_LINE_CODING_LENGTH,
  samePl2303LineCoding,
} from './baud.ts';
import { PL2303_ID_TABLE, pl2303IdInfo } from './ids.ts';
import {
  applyRegisterMask,
  breakSetup,
  decodePl2303StatusByte,
  flowControlUpdate,
  getLineSetup,
  openSequence,
  purgeSteps,
  PL2303_CONTROL_DTR,
  PL2303_CONTROL_RTS,
  PL2303_STATUS,
  PL2303_STATUS_INDEX,
  PL2303_STATUS_MSR_MASK,
  PL2303_STATUS_TRANSIENT_MASK,
  setControlSetup,
  setLineSetup,
  startupSequence,
  toWebUsbSetup,
  vendorReadSetup,
  vendorWriteSetup,
  type Pl2303ControlSetup,
  type Pl2303FlowControl,
} from './registers.ts';
import {
  detectPl2303Type,
  isPl2303Clone,
  pl2303AutoXonXoff,
  pl2303TypeInfo,
  Pl2303StallError,
  type Pl2303Descriptor,
  type Pl2303Quirks,
  type Pl2303Type,
  type Pl2303TypeInfo,
} from './types.ts';

const log = childLog('drivers.pl2303');

/** Linux's driver name. */
export const PL2303_DRIVER_NAME = 'pl2303';

// ---------------------------------------------------------------------------------------------
// Errors

/** A control request the chip did not complete (stalls are Pl2303StallError). */
export class Pl2303TransferError extends Error {
  override readonly name = 'Pl2303TransferError';
  constructor(
    readonly request: string,
    readonly status: USBTransferStatus | 'short',
    detail: string,
  ) {
    super(`PL2303 ${request} failed: ${detail}`);
  }
}

/** The interface lacks an endpoint the driver needs. */
export class Pl2303EndpointError extends Error {
  override readonly name = 'Pl2303EndpointError';
  constructor(
    readonly interfaceName: string,
    readonly missing: string,
    hint = '',
  ) {
    super(`PL2303 on ${interfaceName}: required ${missing} endpoint missing${hint}`);
  }
}

/** GET_LINE read back something other than what SET_LINE sent: the chip did not take the settings. */
export class Pl2303LineSettingsError extends Error {
  override readonly name = 'Pl2303LineSettingsError';
  constructor(
    readonly sent: Uint8Array,
    readonly readBack: Uint8Array,
  ) {
    super(`PL2303 did not take the line settings: sent [${hex(sent)}], GET_LINE reads [${hex(readBack)}]`);
  }
}

// ---------------------------------------------------------------------------------------------
// Adapter and port state

export interface Pl2303Endpoints {
  readonly interruptIn: UsbEndpointInfo;
  readonly bulkIn: UsbEndpointInfo;
  readonly bulkOut: UsbEndpointInfo;
}

/** What the driver keeps per adapter (UsbSerial.driverData). */
export interface Pl2303Adapter {
  readonly type: Pl2303Type;
  readonly info: Pl2303TypeInfo;
  readonly quirks: Readonly<Pl2303Quirks>;
  /** Offset of the UART status byte in a notification (8, or 0 for the Siemens cables). */
  readonly statusIndex: number;
  readonly descriptor: Readonly<Pl2303Descriptor>;
  readonly endpoints: Pl2303Endpoints;
}

/** The adapter state of a bound PL2303, or undefined if it is not one (or not attached yet). */
export function pl2303AdapterOf(serial: UsbSerial): Pl2303Adapter | undefined {
  const d = serial.driverData;
  return d && typeof d === 'object' && 'endpoints' in d && 'type' in d ? (d as Pl2303Adapter) : undefined;
}

interface PortState {
  sink: PortSink | null;
  pipeline: InPipeline | null;
  interruptRunning: boolean;
  interruptDone: Promise<void> | null;
  /** The last SET_LINE payload the chip took (also the clone's line-settings cache). */
  line: Uint8Array | undefined;
  settings: SerialSettings | null;
  control: number;
  breakOn: boolean;
  /** Last UART status byte from the interrupt endpoint. */
  status: number;
  /** Error bits (0x74) waiting for the next bulk data. */
  pendingErrors: number;
  failed: boolean;
}

export interface Pl2303DriverOptions {
  /** Bytes per bulk IN transfer (a multiple of the packet size); default 4096. */
  readTransferSize?: number;
  /** Bytes per bulk OUT transfer; default 16384. */
  writeTransferSize?: number;
  /** Called when probe or attach refuses a device (endpoints, detection, start-up); the probe fails with it. */
  onProbeError?(intf: UsbInterface, error: unknown): void;
}

const DEFAULT_READ_SIZE = 4096;
const DEFAULT_WRITE_SIZE = 16384;

// ---------------------------------------------------------------------------------------------
// Control transfers

/** Control I/O of one adapter; multi-request sequences run one at a time through `serialize`. */
class ControlIo {
  private tail: Promise<unknown> = Promise.resolve();
  constructor(
    readonly intf: UsbInterface,
    /** Request set: HXN uses its own vendor bRequests. Detection runs with the legacy set. */
    public type: Pl2303Type,
  ) {}

  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  async controlIn(setup: Pl2303ControlSetup, what: string): Promise<Uint8Array> {
    const w = toWebUsbSetup(setup);
    const r = await this.intf.usb.controlTransferIn(w.params, w.length);
    if (r.status === 'stall') throw new Pl2303StallError(what);
    if (r.status !== 'ok' || !r.data) throw new Pl2303TransferError(what, r.status, `status ${r.status}`);
    const bytes = new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength).slice();
    if (bytes.length < setup.wLength) {
      throw new Pl2303TransferError(what, 'short', `${bytes.length} of ${setup.wLength} bytes`);
    }
    return bytes;
  }

  async controlOut(setup: Pl2303ControlSetup, what: string, data?: Uint8Array): Promise<void> {
    const w = toWebUsbSetup(setup);
    const r = await this.intf.usb.controlTransferOut(w.params, data as Uint8Array<ArrayBuffer> | undefined);
    if (r.status === 'stall') throw new Pl2303StallError(what);
    if (r.status !== 'ok') throw new Pl2303TransferError(what, r.status, `status ${r.status}`);
  }

  async vendorRead(reg: number): Promise<number> {
    const b = await this.controlIn(vendorReadSetup(this.type, reg), `vendor read [${hex16(reg)}]`);
    return b[0];
  }

  vendorWrite(reg: number, value: number): Promise<void> {
    return this.controlOut(vendorWriteSetup(this.type, reg, value), `vendor write [${hex16(reg)}] = ${hex8(value)}`);
  }

  // Class requests go to the interface (wIndex): 0 on every single-interface PL2303, as Linux sends.
  private toInterface(s: Pl2303ControlSetup): Pl2303ControlSetup {
    return { ...s, wIndex: this.intf.interfaceNumber };
  }

  getLine(): Promise<Uint8Array> {
    return this.controlIn(this.toInterface(getLineSetup()), 'GET_LINE');
  }

  setLine(bytes: Uint8Array): Promise<void> {
    return this.controlOut(this.toInterface(setLineSetup()), 'SET_LINE', bytes);
  }

  setControl(control: number): Promise<void> {
    const lines = { dtr: !!(control & PL2303_CONTROL_DTR), rts: !!(control & PL2303_CONTROL_RTS) };
    return this.controlOut(this.toInterface(setControlSetup(lines)), `SET_CONTROL ${hex8(control)}`);
  }

  setBreak(on: boolean): Promise<void> {
    return this.controlOut(this.toInterface(breakSetup(on)), `BREAK ${on ? 'on' : 'off'}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The driver

/** Builds the PL2303 serial driver (each instance keeps its own per-port state). */
export function createPl2303Driver(options: Pl2303DriverOptions = {}): SerialDriverSpec {
  const readSize = options.readTransferSize ?? DEFAULT_READ_SIZE;
  const writeSize = options.writeTransferSize ?? DEFAULT_WRITE_SIZE;
  const ios = new WeakMap<UsbSerial, ControlIo>();
  const ports = new WeakMap<UsbSerialPort, PortState>();

  const adapterOf = (serial: UsbSerial): Pl2303Adapter => {
    const a = pl2303AdapterOf(serial);
    if (!a) throw new Error(`PL2303 adapter ${serial.intf.name} is not attached`);
    return a;
  };
  const ioOf = (serial: UsbSerial): ControlIo => {
    const io = ios.get(serial);
    if (!io) throw new Error(`PL2303 adapter ${serial.intf.name} is not attached`);
    return io;
  };
  const stateOf = (port: UsbSerialPort): PortState => {
    let st = ports.get(port);
    if (!st) {
      st = {
        sink: null,
        pipeline: null,
        interruptRunning: false,
        interruptDone: null,
        line: undefined,
        settings: null,
        control: 0,
        breakOn: false,
        status: 0,
        pendingErrors: 0,
        failed: false,
      };
      ports.set(port, st);
    }
    return st;
  };

  // ---- attach: detection and start-up ----

  async function attach(serial: UsbSerial): Promise<number> {
    const intf = serial.intf;
    try {
      const endpoints = findEndpoints(intf, pl2303IdInfo(serial.id));
      const raw = intf.usbDevice.rawDescriptor ?? (await readDeviceDescriptor(intf.usb));
      const descriptor: Pl2303Descriptor = {
        bDeviceClass: raw.bDeviceClass,
        bMaxPacketSize0: raw.bMaxPacketSize0,
        bcdUSB: raw.bcdUSB,
        bcdDevice: raw.bcdDevice,
      };
      // The type is not known yet: the 0x8080 probe uses the legacy vendor read.
      const io = new ControlIo(intf, 'HX');
      const detection = await detectPl2303Type(descriptor, (reg) => io.vendorRead(reg));
      io.type = detection.type;
      const quirks = { ...detection.quirks };
      // An HXD whose GET_LINE stalls is a clone: no BREAK, and GET_LINE replaced by a cache.
      if (detection.type === 'HXD') quirks.noBreakGetLine = await isPl2303Clone(() => io.getLine());
      const idInfo = pl2303IdInfo(serial.id);
      const adapter: Pl2303Adapter = Object.freeze({
        type: detection.type,
        info: pl2303TypeInfo(detection.type),
        quirks: Object.freeze(quirks),
        statusIndex: idInfo.statusIndex0 ? 0 : PL2303_STATUS_INDEX,
        descriptor: Object.freeze(descriptor),
        endpoints,
      });
      log.debug({ adapter: intf.name, type: adapter.type, quirks }, 'PL2303 detected');
      await startup(io, adapter.type);
      serial.driverData = adapter;
      ios.set(serial, io);
      return 1;
    } catch (err) {
      options.onProbeError?.(intf, err);
      throw err;
    }
  }

  /** pl2303_startup's vendor sequence. Like Linux, failures are ignored, but not a disconnect. */
  async function startup(io: ControlIo, type: Pl2303Type): Promise<void> {
    for (const step of startupSequence(type)) {
      try {
        if (step.op === 'read') await io.vendorRead(step.reg);
        else await io.vendorWrite(step.reg, step.value);
      } catch (err) {
        if (transferErrorKind(err) === 'disconnected') throw err;
        log.debug({ err, adapter: io.intf.name, step }, 'start-up step failed (ignored, as Linux does)');
      }
    }
  }

  // ---- settings ----

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
        flow = 'none';
        break;
      case 'rts-cts':
        flow = 'rts-cts';
        break;
      case 'xon-xoff':
        if (!adapter.info.autoXonXoff) {
          throw new SerialSettingsError('flowControl', `PL2303 ${type} has no automatic XON/XOFF flow control; use 'none' or 'rts-cts'`);
        }
        if (!pl2303AutoXonXoff(type, { startChar: s.xon, stopChar: s.xoff })) {
          throw new SerialSettingsError(
            s.xon !== 0x11 ? 'xon' : 'xoff',
            `PL2303 ${type} does XON/XOFF only with XON 0x11 and XOFF 0x13 (asked: ${hex8(s.xon)} / ${hex8(s.xoff)})`,
          );
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
   * Sends what changed: SET_LINE (always on open, else only when the 7 bytes differ from the
   * last ones, as some chips lose data on a re-set) with a GET_LINE read-back, and the
   * flow-control register by read-modify-write (on open, or when the mode changed).
   */
  async function apply(port: UsbSerialPort, s: SerialSettings, initial: boolean): Promise<AppliedSettings> {
    const serial = port.serial;
    const adapter = adapterOf(serial);
    const io = ioOf(serial);
    const st = stateOf(port);
    const p = plan(adapter, s);
    await io.serialize(async () => {
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
        log.debug({ port: port.name }, 'line settings unchanged: SET_LINE skipped');
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

  // ---- reading ----

  function fail(port: UsbSerialPort, st: PortState, error: unknown): void {
    if (st.failed) return;
    st.failed = true;
    st.interruptRunning = false;
    void st.pipeline?.stop();
    log.debug({ port: port.name, err: error }, 'PL2303 read side failed');
    st.sink?.failed(error);
  }

  function handleStatus(port: UsbSerialPort, st: PortState, adapter: Pl2303Adapter, data: DataView): void {
    if (data.byteLength < adapter.statusIndex + 1) return; // too short: ignored, as Linux does
    const raw = data.getUint8(adapter.statusIndex);
    st.status = raw;
    st.pendingErrors |= raw & PL2303_STATUS_TRANSIENT_MASK;
    st.sink?.modem(modemLines(raw));
    if (raw & PL2303_STATUS_TRANSIENT_MASK) log.debug({ port: port.name, status: hex8(raw) }, 'line error reported');
  }

  /** The errors the last status reported, for the first byte of the bulk data that follows it. */
  function takeErrors(st: PortState): LineError[] {
    const bits = st.pendingErrors;
    if (!bits) return [];
    st.pendingErrors = 0;
    const out: LineError[] = [];
    // Overrun is not tied to a character; break beats parity beats framing (pl2303.c's order).
    if (bits & PL2303_STATUS.OVERRUN) out.push({ kind: 'overrun', position: 0 });
    if (bits & PL2303_STATUS.BREAK) out.push({ kind: 'break', position: 0 });
    else if (bits & PL2303_STATUS.PARITY) out.push({ kind: 'parity', position: 0 });
    else if (bits & PL2303_STATUS.FRAMING) out.push({ kind: 'framing', position: 0 });
    return out;
  }

  async function readInterrupt(port: UsbSerialPort, st: PortState, adapter: Pl2303Adapter): Promise<void> {
    const usb = port.serial.intf.usb;
    const ep = adapter.endpoints.interruptIn;
    while (st.interruptRunning) {
      let r: USBInTransferResult;
      try {
        r = await usb.transferIn(ep.number, ep.packetSize);
      } catch (err) {
        if (!st.interruptRunning) return;
        const kind = transferErrorKind(err);
        if (kind === 'timeout') continue;
        if (kind === 'aborted') return;
        fail(port, st, err);
        return;
      }
      if (!st.interruptRunning) return;
      if (r.status === 'ok' && r.data) {
        handleStatus(port, st, adapter, r.data);
      } else if (r.status === 'stall') {
        try {
          await usb.clearHalt('in', ep.number);
        } catch (err) {
          fail(port, st, err);
          return;
        }
      } else {
        log.debug({ port: port.name, status: r.status }, 'interrupt transfer failed; resubmitting');
      }
    }
  }

  function startInterrupt(port: UsbSerialPort, st: PortState, adapter: Pl2303Adapter): void {
    st.interruptRunning = true;
    st.interruptDone = readInterrupt(port, st, adapter);
  }

  function startBulk(port: UsbSerialPort, st: PortState, adapter: Pl2303Adapter): void {
    const intf = port.serial.intf;
    const bulkIn = adapter.endpoints.bulkIn;
    const size = Math.max(bulkIn.packetSize, Math.floor(readSize / bulkIn.packetSize) * bulkIn.packetSize);
    const pipeline: InPipeline = new InPipeline({
      device: intf.usb,
      endpoint: bulkIn.number,
      transferSize: size,
      inFlight: intf.usbDevice.host.maxTransfersInFlight,
      onData: (dv) => {
        const data = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
        st.sink?.data(data, takeErrors(st));
      },
      onStop: (reason) => {
        if (reason.kind === 'stall') {
          // A halted bulk IN: clear it and carry on; if that fails, the port is lost.
          intf.usb.clearHalt('in', bulkIn.number).then(
            () => {
              if (st.pipeline === pipeline && !st.failed) pipeline.start();
            },
            (err: unknown) => fail(port, st, err),
          );
          return;
        }
        fail(port, st, reason.error ?? new Error(`bulk IN stopped: ${reason.kind}`));
      },
    });
    st.pipeline = pipeline;
    pipeline.start();
  }

  /** Ends every read in flight. WebUSB cannot cancel a transfer; releasing the interface does. */
  async function stopReading(port: UsbSerialPort, st: PortState): Promise<void> {
    const intf = port.serial.intf;
    st.interruptRunning = false;
    const pipeline = st.pipeline;
    st.pipeline = null;
    const stopped = pipeline?.stop() ?? Promise.resolve();
    const interruptReading = st.interruptDone !== null;
    const interrupt = st.interruptDone ?? Promise.resolve();
    st.interruptDone = null;
    if (!intf.usbDevice.gone && ((pipeline?.inFlight ?? 0) > 0 || interruptReading)) {
      // Under the device's serialisation, so the bus's own release cannot interleave with this
      // release + re-claim; re-claim only while the bus still holds the interface for us (a close
      // racing an unbind must not leave it claimed with no driver: the stress harness, seed 0x22).
      await intf.usbDevice.serialize(async () => {
        if (!intf.claimed) return;
        try {
          await intf.usb.releaseInterface(intf.interfaceNumber);
        } catch (err) {
          log.debug({ err, port: port.name }, 'release to cancel reads failed');
        }
        if (!intf.usbDevice.gone && intf.claimed && !port.gone) {
          try {
            await intf.usb.claimInterface(intf.interfaceNumber);
          } catch (err) {
            log.warn({ err, port: port.name }, 'could not claim the interface again after cancelling reads');
          }
        }
      });
    }
    await Promise.all([stopped, interrupt.catch(() => undefined)]);
  }

  // ---- port operations ----

  const port: PortOperations = {
    async open(p, settings, sink) {
      const serial = p.serial;
      const adapter = adapterOf(serial);
      const io = ioOf(serial);
      const st = stateOf(p);
      plan(adapter, settings); // refuse what the chip cannot do before touching it
      st.sink = sink;
      st.failed = false;
      st.pendingErrors = 0;
      const usb = serial.intf.usb;
      let applied: AppliedSettings | undefined;
      // pl2303_open's steps in order: reset (per type), line settings, then the interrupt
      // endpoint before the bulk one, so a status never trails the data it describes.
      for (const step of openSequence(adapter.type)) {
        switch (step.op) {
          case 'clear-halt': {
            const ep = step.endpoint === 'bulk-out' ? adapter.endpoints.bulkOut : adapter.endpoints.bulkIn;
            await usb.clearHalt(ep.direction, ep.number);
            break;
          }
          case 'write':
            await io.serialize(() => io.vendorWrite(step.reg, step.value));
            break;
          case 'read':
            await io.serialize(() => io.vendorRead(step.reg));
            break;
          case 'set-line':
            applied = await apply(p, settings, true);
            break;
          case 'start-interrupt-in':
            startInterrupt(p, st, adapter);
            break;
          case 'start-bulk-in':
            startBulk(p, st, adapter);
            break;
        }
      }
      if (!applied) applied = await apply(p, settings, true);
      // The tty layer raises DTR and RTS once the port is open (Linux: dtr_rts(1)).
      st.control = PL2303_CONTROL_DTR | PL2303_CONTROL_RTS;
      await io.serialize(() => io.setControl(st.control));
      sink.modem(modemLines(st.status));
      return applied;
    },

    async close(p) {
      const st = stateOf(p);
      const serial = p.serial;
      const io = ios.get(serial);
      if (io && !serial.gone) {
        await io.serialize(async () => {
          // Hang up (HUPCL) and release a break, as Linux's close does.
          if (st.control !== 0) {
            st.control = 0;
            await io.setControl(0).catch((err: unknown) => log.debug({ err, port: p.name }, 'dropping DTR/RTS failed'));
          }
          if (st.breakOn) {
            st.breakOn = false;
            await io.setBreak(false).catch((err: unknown) => log.debug({ err, port: p.name }, 'break off failed'));
          }
        });
      }
      await stopReading(p, st);
      st.sink = null;
    },

    setSettings(p, settings) {
      return apply(p, settings, false);
    },

    async setSignals(p, signals: OutputSignals) {
      const serial = p.serial;
      const adapter = adapterOf(serial);
      const io = ioOf(serial);
      const st = stateOf(p);
      if (signals.brk !== undefined && (adapter.quirks.noBreakGetLine || !adapter.info.breakSupported)) {
        throw new SerialSettingsError('signals', `this PL2303 ${adapter.type}${adapter.quirks.noBreakGetLine ? ' clone' : ''} cannot send a break`);
      }
      await io.serialize(async () => {
        let control = st.control;
        if (signals.dtr !== undefined) control = signals.dtr ? control | PL2303_CONTROL_DTR : control & ~PL2303_CONTROL_DTR;
        if (signals.rts !== undefined) control = signals.rts ? control | PL2303_CONTROL_RTS : control & ~PL2303_CONTROL_RTS;
        if (signals.dtr !== undefined || signals.rts !== undefined) {
          await io.setControl(control);
          st.control = control;
        }
        if (signals.brk !== undefined) {
          await io.setBreak(signals.brk);
          st.breakOn = signals.brk;
        }
      });
    },

    async getModemLines(p) {
      return modemLines(stateOf(p).status);
    },

    async purge(p, what) {
      const serial = p.serial;
      const adapter = adapterOf(serial);
      const io = ioOf(serial);
      await io.serialize(async () => {
        for (const step of purgeSteps(adapter.type, { write: what.tx, read: what.rx })) await io.vendorWrite(step.reg, step.value);
      });
    },

    async write(p, data) {
      const serial = p.serial;
      const adapter = adapterOf(serial);
      const ep = adapter.endpoints.bulkOut;
      const usb = serial.intf.usb;
      let at = 0;
      while (at < data.length) {
        const chunk = data.subarray(at, at + writeSize);
        const r = await usb.transferOut(ep.number, chunk as Uint8Array<ArrayBuffer>);
        if (r.status === 'stall') {
          await usb.clearHalt('out', ep.number);
          throw new Pl2303StallError(`bulk OUT after ${at + r.bytesWritten} bytes`);
        }
        if (r.status !== 'ok') throw new Pl2303TransferError('bulk OUT', r.status, `status ${r.status} after ${at + r.bytesWritten} bytes`);
        at += r.bytesWritten;
        if (r.bytesWritten === 0 && chunk.length > 0) throw new Pl2303TransferError('bulk OUT', 'short', 'the chip took no bytes');
      }
    },

    pauseReading(p) {
      stateOf(p).pipeline?.pause();
    },

    resumeReading(p) {
      stateOf(p).pipeline?.resume();
    },
  };

  return {
    name: PL2303_DRIVER_NAME,
    description: 'Prolific PL2303 USB to serial adaptor driver',
    idTable: PL2303_ID_TABLE,
    numPorts: 1,
    probe(serial: UsbSerial, id: UsbDeviceId | null) {
      // Checked before any I/O: a PL2303 interface has interrupt IN, bulk IN and bulk OUT.
      try {
        findEndpoints(serial.intf, pl2303IdInfo(id));
      } catch (err) {
        options.onProbeError?.(serial.intf, err);
        throw err;
      }
    },
    attach,
    async disconnect(serial: UsbSerial) {
      // The ports were marked gone before this; stop their reads (unbind: the device is still there).
      for (const p of serial.ports) {
        const st = ports.get(p);
        if (!st) continue;
        st.sink = null;
        await stopReading(p, st);
      }
    },
    release(serial: UsbSerial) {
      ios.delete(serial);
    },
    port,
  };
}

/** The default driver instance. */
export const pl2303Driver: SerialDriverSpec = createPl2303Driver();

// ---------------------------------------------------------------------------------------------
// Helpers

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

function modemLines(raw: number): ModemLines {
  const s = decodePl2303StatusByte(raw & PL2303_STATUS_MSR_MASK);
  return { cts: s.modem.cts, dsr: s.modem.dsr, ri: s.modem.ring, dcd: s.modem.dcd };
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
function hex8(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}
function hex16(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
