// ftdi_sio: the usb-serial driver for FTDI UART chips, following Linux's drivers/usb/serial/
// ftdi_sio.c. One port per interface (Linux binds each interface of an FT2232/FT4232 on its
// own); the channel every request carries in wIndex comes from the interface number.
//
// Open sends what Linux sends (RESET, SET_DATA, SET_BAUD_RATE, SET_FLOW_CTRL, then DTR and RTS
// up in one MODEM_CTRL), then keeps several bulk IN transfers in flight. Every settings change
// is encoded (and refused, with a typed error) before anything goes to the chip.
import { childLog } from '../../src/log.ts';
import type { SerialDriverSpec } from '../../src/serial/driver.ts';
import { InPipeline } from '../../src/serial/pipeline.ts';
import type { PortOperations, PortSink } from '../../src/serial/port-ops.ts';
import { PortDisconnectedError, UsbSerialPort, type UsbSerial } from '../../src/serial/port.ts';
import { registerUsbSerialDrivers, type UsbSerialRegistration } from '../../src/serial/register.ts';
import {
  SerialSettingsError,
  type AppliedSettings,
  type LineError,
  type ModemLines,
  type OutputSignals,
  type SerialSettings,
} from '../../src/serial/settings.ts';
import type { UsbBus } from '../../src/usb/bus.ts';
import { readDeviceDescriptor } from '../../src/usb/descriptors.ts';
import type { UsbEndpointInfo } from '../../src/usb/device.ts';
import { transferErrorKind } from '../../src/usb/host.ts';
import { usbDevice, type UsbDeviceId } from '../../src/usb/ids.ts';
import { FtdiBaudError } from './baud.ts';
import { detectFtdiChip, ftdiChannel, ftdiChipInfo, type FtdiChip, type FtdiChipInfo } from './chips.ts';
import {
  FTDI_REQUEST,
  FTDI_SET_DATA_BREAK,
  FtdiRequestError,
  encodeErrorChar,
  encodeEventChar,
  encodeFlowControl,
  encodeGetLatencyTimer,
  encodeGetModemStatus,
  encodeModemCtrl,
  encodePurge,
  encodeReset,
  encodeSetBaudRate,
  encodeSetLatencyTimer,
  ftdiSetDataValue,
  type FtdiControlInSetup,
  type FtdiControlSetup,
  type FtdiFlowControl,
  type FtdiLineSettings,
} from './requests.ts';
import { parseFtdiBulkIn, parseFtdiLineStatus, parseFtdiModemStatus, type FtdiLineError, type FtdiLineStatus, type FtdiModemStatus } from './status.ts';

const log = childLog('drivers.ftdi');

// ---- IDs ----------------------------------------------------------------------------------

export const FTDI_VID = 0x0403;

/** The product IDs the driver binds by default (Linux ftdi_sio_ids.h). */
export const FTDI_PIDS = Object.freeze({
  /** FT232AM, FT232BM, FT232R */
  FT232: 0x6001,
  /** FT2232C/D, FT2232H */
  FT2232: 0x6010,
  FT4232H: 0x6011,
  FT232H: 0x6014,
  /** FT-X series (FT230X, FT231X, ...) */
  FTX: 0x6015,
  FT2233HP: 0x6040,
  FT4233HP: 0x6041,
  FT2232HP: 0x6042,
  FT4232HP: 0x6043,
  FT233HP: 0x6044,
  FT232HP: 0x6045,
  FT4232HA: 0x6048,
  /** The original SIO (FT8U100AX) */
  SIO: 0x8372,
  /** FT232RL */
  FT232RL: 0xfbfa,
  /** Counterfeit chips whose PID a vendor driver zeroed */
  ZEROED: 0x0000,
});

export const FTDI_IDS: readonly UsbDeviceId[] = Object.freeze(Object.values(FTDI_PIDS).map((pid) => usbDevice(FTDI_VID, pid)));

// ---- errors -------------------------------------------------------------------------------

/** The chip refused (stalled) a request, or answered it wrongly. */
export class FtdiControlError extends Error {
  override readonly name = 'FtdiControlError';
  constructor(
    readonly chip: FtdiChip,
    readonly request: string,
    readonly setup: { request: number; value: number; index: number },
    readonly status: string,
  ) {
    super(`${chip}: ${request} (wValue 0x${hex(setup.value)}, wIndex 0x${hex(setup.index)}) answered ${status}`);
  }
}

/** The chip has no such feature (e.g. the latency timer of the SIO and the FT232AM). */
export class FtdiUnsupportedError extends Error {
  override readonly name = 'FtdiUnsupportedError';
}

/** The interface is not one the driver can drive (no bulk endpoints, not an FTDI port). */
export class FtdiProbeError extends Error {
  override readonly name = 'FtdiProbeError';
}

/** ftdiPort() of a port that ftdi_sio does not drive. */
export class FtdiPortError extends Error {
  override readonly name = 'FtdiPortError';
}

/** The read side failed other than by the device going away (endpoint kept stalling). */
export class FtdiReadError extends Error {
  override readonly name = 'FtdiReadError';
}

function hex(n: number): string {
  return n.toString(16).padStart(4, '0');
}

// ---- per-interface state ------------------------------------------------------------------

/** Bulk IN transfer size, in packets: several per transfer and several transfers in flight. */
const PACKETS_PER_TRANSFER = 16;
/** Attempts to restart reading after a stall or error before giving up. */
const READ_RESTARTS = 3;

interface OpenState {
  readonly sink: PortSink;
  pipeline: InPipeline | null;
  /** SET_DATA value of the line settings, without the break bit. */
  setData: number;
  brk: boolean;
  /** Modem status bits (0xf0) last reported to the port. */
  modem: number | undefined;
  restarts: number;
}

/** What the driver keeps per bound interface (UsbSerial.driverData). */
export interface FtdiAdapter {
  readonly chip: FtdiChip;
  readonly info: FtdiChipInfo;
  /** wIndex channel: 1 + interface number on channelised chips, else 0. */
  readonly channel: number;
  readonly interfaceNumber: number;
  readonly inEndpoint: UsbEndpointInfo;
  readonly outEndpoint: UsbEndpointInfo;
  /** Bulk IN max packet size: every chunk of this size starts with the two status bytes. */
  readonly maxPacketSize: number;
  /** Latency timer in ms as last read or set (fixed 16 on AM, 40 on SIO). */
  latencyMs: number;
  /** @internal */ usb: USBDevice;
  /** @internal */ serial: UsbSerial;
  /** @internal */ open: OpenState | undefined;
  /** @internal open raised DTR/RTS: close drops them again */ raised: boolean;
}

function adapterOf(serial: UsbSerial): FtdiAdapter {
  const a = serial.driverData as FtdiAdapter | undefined;
  if (!a || typeof a !== 'object' || !('chip' in a)) throw new FtdiPortError(`${serial.intf.name} is not bound to ftdi_sio`);
  return a;
}

function portAdapter(port: UsbSerialPort): FtdiAdapter {
  return adapterOf(port.serial);
}

// ---- control transfers --------------------------------------------------------------------

function requestName(code: number): string {
  return Object.entries(FTDI_REQUEST).find(([, v]) => v === code)?.[0] ?? `0x${code.toString(16)}`;
}

/** A NotFoundError (device gone) becomes the port's PortDisconnectedError. */
function gone(err: unknown, port: UsbSerialPort | undefined): unknown {
  return port && transferErrorKind(err) === 'disconnected' ? new PortDisconnectedError(port.name) : err;
}

async function controlOut(a: FtdiAdapter, setup: FtdiControlSetup, port?: UsbSerialPort): Promise<void> {
  let r: USBOutTransferResult;
  try {
    r = await a.usb.controlTransferOut({ requestType: setup.requestType, recipient: setup.recipient, request: setup.request, value: setup.value, index: setup.index });
  } catch (err) {
    throw gone(err, port);
  }
  if (r.status !== 'ok') throw new FtdiControlError(a.chip, requestName(setup.request), setup, r.status);
}

async function controlIn(a: FtdiAdapter, setup: FtdiControlInSetup, port?: UsbSerialPort): Promise<DataView> {
  let r: USBInTransferResult;
  try {
    r = await a.usb.controlTransferIn(
      { requestType: setup.requestType, recipient: setup.recipient, request: setup.request, value: setup.value, index: setup.index },
      setup.length,
    );
  } catch (err) {
    throw gone(err, port);
  }
  if (r.status !== 'ok' || !r.data) throw new FtdiControlError(a.chip, requestName(setup.request), setup, r.status);
  if (r.data.byteLength < setup.length) {
    throw new FtdiControlError(a.chip, requestName(setup.request), setup, `${r.data.byteLength} of ${setup.length} bytes`);
  }
  return r.data;
}

// ---- settings -----------------------------------------------------------------------------

interface Plan {
  readonly line: FtdiLineSettings;
  readonly setData: number;
  readonly baud: ReturnType<typeof encodeSetBaudRate>;
  readonly flow: FtdiControlSetup;
  readonly applied: AppliedSettings;
}

function flowOf(s: SerialSettings): FtdiFlowControl {
  switch (s.flowControl) {
    case 'xon-xoff':
      return { type: 'xon-xoff', xon: s.xon, xoff: s.xoff };
    case 'rts-cts':
    case 'dtr-dsr':
    case 'none':
      return { type: s.flowControl };
  }
}

/** Encodes every request the settings need, or refuses them before anything is sent. */
function plan(a: FtdiAdapter, s: SerialSettings): Plan {
  if (s.dataBits !== 7 && s.dataBits !== 8) {
    throw new SerialSettingsError('dataBits', `${a.chip} UARTs do 7 or 8 data bits, not ${s.dataBits}`);
  }
  let baud: Plan['baud'];
  try {
    baud = encodeSetBaudRate(a.chip, s.baudRate, a.channel);
  } catch (err) {
    if (err instanceof FtdiBaudError) throw new SerialSettingsError('baudRate', err.message, { cause: err });
    throw err;
  }
  const line: FtdiLineSettings = { dataBits: s.dataBits, parity: s.parity, stopBits: s.stopBits };
  let flow: FtdiControlSetup;
  try {
    flow = encodeFlowControl(flowOf(s), a.channel);
  } catch (err) {
    if (err instanceof FtdiRequestError) throw new SerialSettingsError('xoff', err.message, { cause: err });
    throw err;
  }
  return { line, setData: ftdiSetDataValue(line), baud, flow, applied: { ...s, actualBaudRate: baud.baud.actual, reportedBaudRate: s.baudRate } };
}

function setDataSetup(a: FtdiAdapter, value: number): FtdiControlSetup {
  return { requestType: 'vendor', recipient: 'device', request: FTDI_REQUEST.SET_DATA, value, index: a.channel };
}

// ---- reading ------------------------------------------------------------------------------

function linesOf(m: FtdiModemStatus): ModemLines {
  return { cts: m.cts, dsr: m.dsr, ri: m.ri, dcd: m.dcd };
}

/** FTDI line errors (ranges) as the port's per-byte errors, within [from, to) of the payload. */
function lineErrors(errors: readonly FtdiLineError[], from: number, to: number): LineError[] {
  const out: LineError[] = [];
  for (const e of errors) {
    if (e.position < from || e.position >= to) continue;
    if (e.length === 0) out.push({ kind: e.kind, position: e.position - from });
    else for (let k = 0; k < e.length; k++) out.push({ kind: e.kind, position: e.position - from + k });
  }
  return out;
}

function deliver(a: FtdiAdapter, o: OpenState, view: DataView): void {
  o.restarts = 0;
  const parsed = parseFtdiBulkIn(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), a.maxPacketSize);
  if (parsed.malformed > 0) log.debug({ port: a.serial.intf.name, malformed: parsed.malformed }, 'bulk IN chunks too short for the status bytes');
  const payload = parsed.payload;
  // Data and modem changes in the order the packets carried them.
  let from = 0;
  for (const change of parsed.modemChanges) {
    if (change.position > from) {
      o.sink.data(payload.subarray(from, change.position), lineErrors(parsed.errors, from, change.position));
      from = change.position;
    }
    const bits = change.modem.raw & 0xf0;
    if (bits !== o.modem) {
      o.modem = bits;
      o.sink.modem(linesOf(change.modem));
    }
  }
  if (from < payload.length) {
    o.sink.data(from === 0 ? payload : payload.subarray(from), lineErrors(parsed.errors, from, payload.length));
  }
}

function startReading(a: FtdiAdapter, o: OpenState): void {
  const pipeline = new InPipeline({
    device: a.usb,
    endpoint: a.inEndpoint.number,
    transferSize: PACKETS_PER_TRANSFER * a.maxPacketSize,
    inFlight: a.serial.usbDevice.host.maxTransfersInFlight,
    onData: (view) => {
      if (a.open === o) deliver(a, o, view);
    },
    onStop: (reason) => void readStopped(a, o, pipeline, reason),
  });
  o.pipeline = pipeline;
  pipeline.start();
}

async function readStopped(
  a: FtdiAdapter,
  o: OpenState,
  pipeline: InPipeline,
  reason: { kind: 'disconnected' | 'stall' | 'error'; error?: unknown },
): Promise<void> {
  if (reason.kind === 'disconnected') {
    o.sink.failed(reason.error ?? new Error('device disconnected'));
    return;
  }
  // A stalled or failing endpoint: clear the halt and read again, a few times.
  log.warn({ port: a.serial.intf.name, reason: reason.kind, err: reason.error }, 'bulk IN stopped; restarting');
  await pipeline.stop();
  if (a.open !== o || o.pipeline !== pipeline) return;
  if (o.restarts++ >= READ_RESTARTS) {
    o.pipeline = null;
    o.sink.failed(new FtdiReadError(`${a.chip}: bulk IN endpoint 0x${a.inEndpoint.address.toString(16)} keeps failing (${reason.kind})`));
    return;
  }
  try {
    if (reason.kind === 'stall') await a.usb.clearHalt('in', a.inEndpoint.number);
  } catch (err) {
    if (transferErrorKind(err) === 'disconnected') return o.sink.failed(err);
    log.warn({ err, port: a.serial.intf.name }, 'clearHalt failed');
  }
  if (a.open === o && o.pipeline === pipeline) startReading(a, o);
}

/**
 * Stops reading and waits until no IN transfer is in flight. WebUSB cannot cancel a transfer,
 * so this waits for the chip's next status packets (one latency period per transfer); the bound
 * only guards against a chip that never answers (the interface release then aborts them).
 */
async function stopReading(a: FtdiAdapter): Promise<void> {
  const o = a.open;
  const p = o?.pipeline;
  if (!o || !p) return;
  o.pipeline = null;
  const bound = 1000 + 2 * PACKETS_PER_TRANSFER * a.latencyMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), bound);
    timer.unref?.();
  });
  const outcome = await Promise.race([p.stop().then(() => 'stopped' as const), late]);
  clearTimeout(timer);
  if (outcome === 'late') log.warn({ port: a.serial.intf.name, inFlight: p.inFlight }, `IN transfers still pending after ${bound} ms`);
}

// ---- writing ------------------------------------------------------------------------------

/** The SIO's bulk OUT: every packet starts with (length << 2) | 1. */
export function frameSioOut(data: Uint8Array, packetSize = 64): Uint8Array {
  const per = Math.min(63, packetSize - 1);
  const packets = Math.ceil(data.length / per);
  const out = new Uint8Array(data.length + packets);
  let o = 0;
  for (let at = 0; at < data.length; at += per) {
    const n = Math.min(per, data.length - at);
    out[o++] = (n << 2) | 1;
    out.set(data.subarray(at, at + n), o);
    o += n;
  }
  return out;
}

// ---- the port operations ------------------------------------------------------------------

export const ftdiPortOperations: PortOperations = {
  async open(port, settings, sink) {
    const a = portAdapter(port);
    const p = plan(a, settings);
    await controlOut(a, encodeReset(a.channel), port);
    await controlOut(a, setDataSetup(a, p.setData), port);
    await controlOut(a, p.baud, port);
    await controlOut(a, p.flow, port);
    await controlOut(a, encodeModemCtrl({ dtr: true, rts: true }, a.channel), port);
    a.raised = true;
    const o: OpenState = { sink, pipeline: null, setData: p.setData, brk: false, modem: undefined, restarts: 0 };
    a.open = o;
    startReading(a, o);
    return p.applied;
  },

  async close(port) {
    const a = portAdapter(port);
    await stopReading(a);
    a.open = undefined;
    // Nothing to undo after an open refused before it raised the lines (a bad setting).
    if (port.serial.gone || !a.raised) return;
    a.raised = false;
    // Linux's dtr_rts(0) on close: flow control off, then DTR and RTS down.
    try {
      await controlOut(a, encodeFlowControl({ type: 'none' }, a.channel), port);
      await controlOut(a, encodeModemCtrl({ dtr: false, rts: false }, a.channel), port);
    } catch (err) {
      if (!(err instanceof PortDisconnectedError)) throw err;
    }
  },

  async setSettings(port, settings) {
    const a = portAdapter(port);
    const p = plan(a, settings);
    const o = a.open;
    await controlOut(a, setDataSetup(a, p.setData | (o?.brk ? FTDI_SET_DATA_BREAK : 0)), port);
    await controlOut(a, p.baud, port);
    await controlOut(a, p.flow, port);
    if (o) o.setData = p.setData;
    return p.applied;
  },

  async setSignals(port, signals: OutputSignals) {
    const a = portAdapter(port);
    if (signals.dtr !== undefined || signals.rts !== undefined) {
      await controlOut(a, encodeModemCtrl({ dtr: signals.dtr, rts: signals.rts }, a.channel), port);
    }
    if (signals.brk !== undefined) {
      const o = a.open;
      const base = o?.setData ?? ftdiSetDataValue({ dataBits: 8, parity: 'none', stopBits: 1 });
      await controlOut(a, setDataSetup(a, base | (signals.brk ? FTDI_SET_DATA_BREAK : 0)), port);
      if (o) o.brk = signals.brk;
    }
  },

  async getModemLines(port) {
    const a = portAdapter(port);
    const data = await controlIn(a, encodeGetModemStatus(a.channel, a.info.clock === 'sio'), port);
    return linesOf(parseFtdiModemStatus(data.getUint8(0)));
  },

  async purge(port, what) {
    const a = portAdapter(port);
    // libftdi's tcioflush order: output first, then input.
    if (what.tx) await controlOut(a, encodePurge('output', a.channel), port);
    if (what.rx) await controlOut(a, encodePurge('input', a.channel), port);
  },

  async write(port, data) {
    const a = portAdapter(port);
    const bytes = a.info.clock === 'sio' ? frameSioOut(data, a.outEndpoint.packetSize) : data;
    let at = 0;
    while (at < bytes.length) {
      // PortOperations hands any Uint8Array; WebUSB types want an ArrayBuffer-backed one.
      const r = await a.usb.transferOut(a.outEndpoint.number, (at === 0 ? bytes : bytes.subarray(at)) as Uint8Array<ArrayBuffer>);
      if (r.status === 'stall') {
        await a.usb.clearHalt('out', a.outEndpoint.number).catch(() => undefined);
        throw new FtdiControlError(a.chip, 'bulk OUT', { request: 0, value: 0, index: a.outEndpoint.address }, 'stall');
      }
      if (r.bytesWritten === 0) throw new FtdiControlError(a.chip, 'bulk OUT', { request: 0, value: 0, index: a.outEndpoint.address }, 'no bytes taken');
      at += r.bytesWritten;
    }
  },

  pauseReading(port) {
    portAdapter(port).open?.pipeline?.pause();
  },

  resumeReading(port) {
    portAdapter(port).open?.pipeline?.resume();
  },
};

// ---- probe and the driver -----------------------------------------------------------------

async function latencyReadable(usb: USBDevice): Promise<boolean> {
  try {
    const { requestType, recipient, request, value, index, length } = encodeGetLatencyTimer(0);
    const r = await usb.controlTransferIn({ requestType, recipient, request, value, index }, length);
    return r.status === 'ok' && (r.data?.byteLength ?? 0) === 1;
  } catch (err) {
    if (transferErrorKind(err) === 'disconnected') throw err;
    return false;
  }
}

async function probe(serial: UsbSerial): Promise<void> {
  const intf = serial.intf;
  const dev = serial.usbDevice;
  const inEndpoint = intf.endpoint('in', 'bulk');
  const outEndpoint = intf.endpoint('out', 'bulk');
  if (!inEndpoint || !outEndpoint) throw new FtdiProbeError(`${intf.name} has no bulk IN and OUT endpoints; not an FTDI UART interface`);
  let iSerialNumber = dev.rawDescriptor?.iSerialNumber;
  let readable: boolean | undefined;
  if (dev.bcdDevice === 0x200) {
    // FT232BM with iSerialNumber 0 reports the AM's 0x200; only the BM has a latency timer.
    if (iSerialNumber === undefined) iSerialNumber = (await readDeviceDescriptor(intf.usb)).iSerialNumber;
    if (iSerialNumber === 0) readable = await latencyReadable(intf.usb);
  }
  const chip = detectFtdiChip(
    { bcdDevice: dev.bcdDevice, iSerialNumber, numInterfaces: dev.interfaces.length },
    { latencyTimerReadable: readable },
  );
  const info = ftdiChipInfo(chip);
  const adapter: FtdiAdapter = {
    chip,
    info,
    channel: ftdiChannel(chip, intf.interfaceNumber),
    interfaceNumber: intf.interfaceNumber,
    inEndpoint,
    outEndpoint,
    // Linux treats a wMaxPacketSize of 0 as 64 (badly programmed EEPROMs).
    maxPacketSize: inEndpoint.packetSize || 64,
    latencyMs: info.clock === 'sio' ? 40 : 16,
    usb: intf.usb,
    serial,
    open: undefined,
    raised: false,
  };
  serial.driverData = adapter;
  log.debug({ intf: intf.name, chip, channel: adapter.channel, maxPacketSize: adapter.maxPacketSize }, 'FTDI chip detected');
}

async function portProbe(port: UsbSerialPort): Promise<void> {
  const a = portAdapter(port);
  if (!a.info.hasLatencyTimer) return;
  // As Linux's port probe: read the latency timer (16 ms if that fails) and write it back.
  try {
    a.latencyMs = (await controlIn(a, encodeGetLatencyTimer(a.channel))).getUint8(0);
  } catch (err) {
    if (transferErrorKind(err) === 'disconnected') throw err;
    a.latencyMs = 16;
  }
  try {
    await controlOut(a, encodeSetLatencyTimer(a.latencyMs || 16, a.channel));
  } catch (err) {
    if (transferErrorKind(err) === 'disconnected') throw err;
    log.warn({ err, port: port.name }, 'could not write the latency timer');
  }
}

/** The ftdi_sio serial driver: register it with registerUsbSerialDrivers (or registerFtdi). */
export const ftdiSerialDriver: SerialDriverSpec = {
  name: 'ftdi_sio',
  description: 'FTDI USB Serial Device',
  idTable: FTDI_IDS,
  numPorts: 1,
  probe,
  attach: () => 1, // one port per interface; each interface of a multi-channel chip binds alone
  portProbe,
  portRemove: (port) => stopReading(portAdapter(port)),
  disconnect: async (serial) => {
    const a = serial.driverData as FtdiAdapter | undefined;
    if (a && 'chip' in a) await stopReading(a);
  },
  release: (serial) => {
    serial.driverData = undefined;
  },
  port: ftdiPortOperations,
};

/** Registers ftdi_sio on a usb bus (default: the default USB subsystem's). */
export function registerFtdi(usbBus?: UsbBus): Promise<UsbSerialRegistration> {
  return registerUsbSerialDrivers([ftdiSerialDriver], 'ftdi_sio', FTDI_IDS, usbBus ? { usbBus } : {});
}

// ---- driver-specific extras ---------------------------------------------------------------

/** What an FTDI port can do beyond the common port API. */
export interface FtdiPortControl {
  readonly chip: FtdiChip;
  /** wIndex channel (1.. on channelised chips, else 0). */
  readonly channel: number;
  readonly interfaceNumber: number;
  readonly maxPacketSize: number;
  /** The latency timer in ms (reads the chip). */
  getLatencyTimer(): Promise<number>;
  /** Sets the latency timer, 1..255 ms (not on SIO or FT232AM). */
  setLatencyTimer(ms: number): Promise<void>;
  /** Event character: the chip sends its buffer as soon as it receives it. null turns it off. */
  setEventChar(char: number | null): Promise<void>;
  /** Error character: put in place of bytes received with a parity or framing error. null turns it off. */
  setErrorChar(char: number | null): Promise<void>;
  /** GET_MODEM_STATUS: both status bytes (the SIO has no line status). */
  getStatus(): Promise<{ modem: FtdiModemStatus; line: FtdiLineStatus | undefined }>;
}

/** The FTDI-specific controls of a port bound to ftdi_sio. */
export function ftdiPort(port: UsbSerialPort): FtdiPortControl {
  if (!(port instanceof UsbSerialPort) || port.serial.type.spec !== ftdiSerialDriver) {
    throw new FtdiPortError(`${String((port as { name?: unknown })?.name)} is not an ftdi_sio port`);
  }
  const a = portAdapter(port);
  const live = (): FtdiAdapter => {
    if (port.gone) throw new PortDisconnectedError(port.name);
    return a;
  };
  const noLatency = () =>
    new FtdiUnsupportedError(`${a.chip} has no latency timer (its receive timeout is fixed at ${a.latencyMs} ms)`);
  return {
    chip: a.chip,
    channel: a.channel,
    interfaceNumber: a.interfaceNumber,
    maxPacketSize: a.maxPacketSize,
    async getLatencyTimer() {
      if (!a.info.hasLatencyTimer) return a.latencyMs;
      const ms = (await controlIn(live(), encodeGetLatencyTimer(a.channel), port)).getUint8(0);
      a.latencyMs = ms;
      return ms;
    },
    async setLatencyTimer(ms) {
      if (!a.info.hasLatencyTimer) throw noLatency();
      let setup: FtdiControlSetup;
      try {
        setup = encodeSetLatencyTimer(ms, a.channel);
      } catch (err) {
        throw new RangeError((err as Error).message);
      }
      await controlOut(live(), setup, port);
      a.latencyMs = ms;
    },
    async setEventChar(char) {
      await controlOut(live(), encodeEventChar(char ?? 0, char !== null, a.channel), port);
    },
    async setErrorChar(char) {
      await controlOut(live(), encodeErrorChar(char ?? 0, char !== null, a.channel), port);
    },
    async getStatus() {
      const sio = a.info.clock === 'sio';
      const data = await controlIn(live(), encodeGetModemStatus(a.channel, sio), port);
      return { modem: parseFtdiModemStatus(data.getUint8(0)), line: sio ? undefined : parseFtdiLineStatus(data.getUint8(1)) };
    },
  };
}
