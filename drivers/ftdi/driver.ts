// ftdi_sio: the usb-serial driver for FTDI UART chips (Linux: drivers/usb/serial/ftdi_sio.c), as
// a chip ops table over the generic usb-serial layer. One port per interface (Linux binds each
// interface of an FT2232/FT4232 on its own); the channel every request carries in wIndex comes
// from the interface number.
//
// Open sends what Linux sends (RESET, SET_DATA, SET_BAUD_RATE, SET_FLOW_CTRL; the generic layer
// then reads and raises DTR and RTS in one MODEM_CTRL). Every settings change is encoded (and
// refused, with a typed error) before anything goes to the chip. Each bulk IN packet starts with
// two status bytes: modem lines and line errors come from there, and drain reads the
// transmitter-empty bit (TEMT) as ftdi_tx_empty does.
import { childLog, defineUsbSerialDriver, readDeviceDescriptor, SerialSettingsError, transferErrorKind, type AppliedSettings, type ChipPort, type ControlFailure, type LineError, type ModemLines, type SerialSettings, type UsbEndpointInfo, type UsbSerialChipOps, type UsbSerialControl, type UsbSerialPort } from '../../src/serial/driver-api.ts';
import { FtdiBaudError } from './baud.ts';
import { detectFtdiChip, ftdiChannel, ftdiChipInfo, type FtdiChip, type FtdiChipInfo } from './chips.ts';
import { FtdiControlError, FtdiProbeError } from './errors.ts';
import { FTDI_IDS } from './ids.ts';
import {
  FTDI_REQUEST,
  FTDI_SET_DATA_BREAK,
  FtdiRequestError,
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
import { FTDI_LINE_STATUS, parseFtdiBulkIn, parseFtdiModemStatus, type FtdiLineError, type FtdiModemStatus } from './status.ts';

const log = childLog('drivers.ftdi');

export const FTDI_DRIVER_NAME = 'ftdi_sio';

/** Bulk IN transfer size, in packets: several per transfer and several transfers in flight. */
const PACKETS_PER_TRANSFER = 16;

/** What the driver keeps per bound interface. */
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
  /** Transmit FIFO bytes (datasheet figures). */
  readonly txFifo: number;
  /** Latency timer in ms as last read or set (fixed 16 on AM, 40 on SIO). */
  latencyMs: number;
}

/** Per-port state while bound. */
interface FtdiPortState {
  /** SET_DATA value of the line settings, without the break bit. */
  setData: number;
  brk: boolean;
  /** Modem status bits (0xf0) last reported to the port. */
  modem: number | undefined;
}

type Chip = ChipPort<FtdiAdapter, FtdiPortState>;

// ---- control transfers --------------------------------------------------------------------

function requestName(code: number): string {
  return Object.entries(FTDI_REQUEST).find(([, v]) => v === code)?.[0] ?? `0x${code.toString(16)}`;
}

function failure(a: FtdiAdapter, setup: FtdiControlSetup) {
  return (f: ControlFailure) =>
    new FtdiControlError(a.chip, requestName(setup.request), setup, f.status === 'short' ? `${f.got} of ${f.wanted} bytes` : f.status);
}

/** A vendor request; with `port`, a gone device rejects with its PortDisconnectedError. */
export function ftdiOut(control: UsbSerialControl, a: FtdiAdapter, setup: FtdiControlSetup, port?: UsbSerialPort): Promise<void> {
  return control.out(setup, { what: requestName(setup.request), port, fail: failure(a, setup) });
}

export async function ftdiIn(control: UsbSerialControl, a: FtdiAdapter, setup: FtdiControlInSetup, port?: UsbSerialPort): Promise<Uint8Array> {
  return control.in(setup, setup.length, { what: requestName(setup.request), port, fail: failure(a, setup) });
}

const out = (c: Chip, setup: FtdiControlSetup) => ftdiOut(c.control, c.adapter, setup, c.port);

// ---- settings -----------------------------------------------------------------------------

interface Plan {
  readonly setData: number;
  readonly baud: ReturnType<typeof encodeSetBaudRate>;
  readonly flow: FtdiControlSetup;
  readonly applied: AppliedSettings;
}

function flowOf(s: SerialSettings): FtdiFlowControl {
  return s.flowControl === 'xon-xoff' ? { type: 'xon-xoff', xon: s.xon, xoff: s.xoff } : { type: s.flowControl };
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
  // ftdi_sio reports the requested rate back through termios (change_speed does not re-encode it).
  return { setData: ftdiSetDataValue(line), baud, flow, applied: { ...s, actualBaudRate: baud.baud.actual, reportedBaudRate: s.baudRate } };
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
  const found: LineError[] = [];
  for (const e of errors) {
    if (e.position < from || e.position >= to) continue;
    if (e.length === 0) found.push({ kind: e.kind, position: e.position - from });
    else for (let k = 0; k < e.length; k++) found.push({ kind: e.kind, position: e.position - from + k });
  }
  return found;
}

/** The SIO's bulk OUT: every packet starts with (length << 2) | 1. */
export function frameSioOut(data: Uint8Array, packetSize = 64): Uint8Array {
  const per = Math.min(63, packetSize - 1);
  const packets = Math.ceil(data.length / per);
  const framed = new Uint8Array(data.length + packets);
  let o = 0;
  for (let at = 0; at < data.length; at += per) {
    const n = Math.min(per, data.length - at);
    framed[o++] = (n << 2) | 1;
    framed.set(data.subarray(at, at + n), o);
    o += n;
  }
  return framed;
}

/** Transmit FIFO sizes from the datasheets. */
function txFifoOf(info: FtdiChipInfo): number {
  if (info.clock === 'h') return info.channels === 4 ? 2048 : info.channels === 2 ? 4096 : 1024;
  return info.chip === 'FT-X' ? 512 : 128;
}

// ---- identification -----------------------------------------------------------------------

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

// ---- the ops table ------------------------------------------------------------------------

const ftdiOps: UsbSerialChipOps<FtdiAdapter, FtdiPortState> = {
  name: FTDI_DRIVER_NAME,
  description: 'FTDI USB Serial Device',
  idTable: FTDI_IDS,
  readTransferSize: (a) => PACKETS_PER_TRANSFER * a.maxPacketSize,
  // With no more reads submitted, those in flight end at the chip's next status packets (one
  // latency period per transfer); past this bound they are cancelled.
  readSettleMs: (a) => 1000 + 2 * PACKETS_PER_TRANSFER * a.latencyMs,

  describe: (a) => a.chip,

  probe(intf) {
    if (!intf.endpoint('in', 'bulk') || !intf.endpoint('out', 'bulk')) {
      throw new FtdiProbeError(`${intf.name} has no bulk IN and OUT endpoints; not an FTDI UART interface`);
    }
  },

  async attach({ intf }) {
    const dev = intf.usbDevice;
    const inEndpoint = intf.endpoint('in', 'bulk')!;
    const outEndpoint = intf.endpoint('out', 'bulk')!;
    let iSerialNumber = dev.rawDescriptor?.iSerialNumber;
    let readable: boolean | undefined;
    if (dev.bcdDevice === 0x200) {
      // FT232BM with iSerialNumber 0 reports the AM's 0x200; only the BM has a latency timer.
      if (iSerialNumber === undefined) iSerialNumber = (await readDeviceDescriptor(intf.usb)).iSerialNumber;
      if (iSerialNumber === 0) readable = await latencyReadable(intf.usb);
    }
    const chip = detectFtdiChip({ bcdDevice: dev.bcdDevice, iSerialNumber, numInterfaces: dev.interfaces.length }, { latencyTimerReadable: readable });
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
      txFifo: txFifoOf(info),
      latencyMs: info.clock === 'sio' ? 40 : 16,
    };
    log.debug({ intf: intf.name, chip, channel: adapter.channel, maxPacketSize: adapter.maxPacketSize }, 'FTDI chip detected');
    return adapter;
  },

  endpoints: (a) => ({ bulkIn: { ...a.inEndpoint, packetSize: a.maxPacketSize }, bulkOut: a.outEndpoint }),

  capabilities: (a) => ({
    dataBits: [7, 8],
    flowControl: ['none', 'rts-cts', 'dtr-dsr', 'xon-xoff'],
    break: true,
    txFifoSize: a.txFifo,
    // The SIO's GET_MODEM_STATUS has no line status byte, so no TEMT.
    txEmptyStatus: a.info.clock !== 'sio',
  }),

  newPortState: () => ({ setData: ftdiSetDataValue({ dataBits: 8, parity: 'none', stopBits: 1 }), brk: false, modem: undefined }),

  async portProbe({ adapter: a, control, port }) {
    if (!a.info.hasLatencyTimer) return;
    // As Linux's port probe: read the latency timer (16 ms if that fails) and write it back.
    try {
      a.latencyMs = (await ftdiIn(control, a, encodeGetLatencyTimer(a.channel)))[0]!;
    } catch (err) {
      if (transferErrorKind(err) === 'disconnected') throw err;
      a.latencyMs = 16;
    }
    try {
      await ftdiOut(control, a, encodeSetLatencyTimer(a.latencyMs || 16, a.channel));
    } catch (err) {
      if (transferErrorKind(err) === 'disconnected') throw err;
      log.warn({ err, port: port.name }, 'could not write the latency timer');
    }
  },

  async open(c, settings) {
    const a = c.adapter;
    const p = plan(a, settings);
    await out(c, encodeReset(a.channel));
    await out(c, setDataSetup(a, p.setData));
    await out(c, p.baud);
    await out(c, p.flow);
    c.state.setData = p.setData;
    c.state.brk = false;
    c.state.modem = undefined;
    return p.applied;
  },

  async setSettings(c, settings) {
    const a = c.adapter;
    const p = plan(a, settings);
    await out(c, setDataSetup(a, p.setData | (c.state.brk ? FTDI_SET_DATA_BREAK : 0)));
    await out(c, p.baud);
    await out(c, p.flow);
    c.state.setData = p.setData;
    return p.applied;
  },

  setLines: (c, lines) => out(c, encodeModemCtrl({ dtr: lines.dtr, rts: lines.rts }, c.adapter.channel)),

  async setBreak(c, on) {
    await out(c, setDataSetup(c.adapter, c.state.setData | (on ? FTDI_SET_DATA_BREAK : 0)));
    c.state.brk = on;
  },

  async getModemLines(c) {
    const data = await ftdiIn(c.control, c.adapter, encodeGetModemStatus(c.adapter.channel, c.adapter.info.clock === 'sio'), c.port);
    return linesOf(parseFtdiModemStatus(data[0]!));
  },

  async purge(c, what) {
    // libftdi's tcioflush order: output first, then input.
    if (what.tx) await out(c, encodePurge('output', c.adapter.channel));
    if (what.rx) await out(c, encodePurge('input', c.adapter.channel));
  },

  async close(c, { hupcl }) {
    c.state.brk = false;
    if (!hupcl) return;
    // Linux's ftdi_dtr_rts(0) when HUPCL: flow control off, then DTR and RTS down.
    await out(c, encodeFlowControl({ type: 'none' }, c.adapter.channel));
    await out(c, encodeModemCtrl({ dtr: false, rts: false }, c.adapter.channel));
  },

  parseBulkIn(c, data, sink) {
    const a = c.adapter;
    const parsed = parseFtdiBulkIn(data, a.maxPacketSize);
    if (parsed.malformed > 0) log.debug({ port: c.port.name, malformed: parsed.malformed }, 'bulk IN chunks too short for the status bytes');
    const payload = parsed.payload;
    // Data and modem changes in the order the packets carried them.
    let from = 0;
    for (const change of parsed.modemChanges) {
      if (change.position > from) {
        sink.data(payload.subarray(from, change.position), lineErrors(parsed.errors, from, change.position));
        from = change.position;
      }
      const bits = change.modem.raw & 0xf0;
      if (bits !== c.state.modem) {
        c.state.modem = bits;
        sink.modem(linesOf(change.modem));
      }
    }
    if (from < payload.length) sink.data(from === 0 ? payload : payload.subarray(from), lineErrors(parsed.errors, from, payload.length));
  },

  frameOut: (c, data) => (c.adapter.info.clock === 'sio' ? frameSioOut(data, c.adapter.outEndpoint.packetSize) : data),

  async txEmpty(c) {
    // ftdi_tx_empty: GET_MODEM_STATUS, transmitter empty in the line status byte.
    const data = await ftdiIn(c.control, c.adapter, encodeGetModemStatus(c.adapter.channel, false), c.port);
    return (data[1]! & FTDI_LINE_STATUS.TEMT) !== 0;
  },
};

const ftdi = defineUsbSerialDriver(() => ftdiOps);

/** The default driver, its driver set, its registration and the adapter accessor (the generic layer's registration tail). */
export const { driver: ftdiDriver, driverSet: ftdiDriverSet, register: registerFtdi, adapterOf: ftdiAdapterOf } = ftdi;
/** The same driver under the name the earlier API used. */
export const ftdiSerialDriver = ftdiDriver;
/** A bound ftdi_sio port as the chip ops see it (for the FTDI-only controls in port-control.ts). */
export const ftdiChipOf = ftdi.chipOf;
