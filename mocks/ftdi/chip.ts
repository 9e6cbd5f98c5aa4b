// The emulated FTDI UART chip: one MockBehaviour for every generation (SIO to the HP parts),
// with one UART channel per interface. What it does, as the silicon does it:
// - vendor requests: validated (unknown request, wrong direction, wrong channel in wIndex, a
//   divisor the baud generator lacks, values out of range: stall) and applied to the channel;
// - the UART runs at the rate the divisor really gives (ftdiChipBaudFromDivisor), with the data
//   bits, parity, stop bits, break and DTR/RTS it was given, on a UartPort from the mock lab;
// - bulk OUT goes into a bounded TX buffer (the transfer NAKs while it is full) and out of the
//   UART, held back by CTS, DSR or a received XOFF under flow control; the SIO's per-packet
//   header byte is checked and stripped;
// - bytes from the line land in a bounded RX buffer and go to the host in packets of at most
//   wMaxPacketSize with the two status bytes (modem status from the input pins, line status with
//   the errors); a packet goes when it is full, when the latency timer expires (a status-only
//   packet when there is nothing), at once after an event character or a modem-line change;
//   a byte with a line error travels in a packet of its own so the error names exactly it;
// - the RX buffer drives RTS / DTR / XOFF under flow control; when the host does not read, it
//   fills, and on a paced wire the UART overruns.
import type { DeviceDescriptor } from '../descriptors.ts';
import type { ControlReply, ControlSetup, InReply, MockBehaviour, MockDeviceContext, OutReply } from '../emulation.ts';
import { MockLabError } from '../errors.ts';
import { UartPort, type InputPins, type LineErrorKind, type Parity } from '../uart.ts';
import { FtdiDivisorRejected, ftdiChipBaudFromDivisor } from './clock.ts';
import type { FtdiPart } from './parts.ts';
import { FlaggedRing } from './ring.ts';

// The chip's request codes (FTDI AN232B and Linux ftdi_sio.h), kept here so the emulation does
// not share constants with the driver it checks.
const REQ = {
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
} as const;

const REQUEST_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(REQ).map(([k, v]) => [v, k]));
const IN_REQUESTS = new Set<number>([REQ.GET_MODEM_STATUS, REQ.GET_LATENCY_TIMER, REQ.READ_PINS, REQ.READ_EEPROM]);

// Modem status byte (first status byte): bit 0 is always set.
const MSR_BASE = 0x01;
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
// Line status byte (second status byte).
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_PE = 0x04;
const LSR_FE = 0x08;
const LSR_BI = 0x10;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

/** What a paced line may deliver in one timer tick (12 Mbaud for 50 ms). */
const PACED_BURST = 65536;

/** Bytes handed to the UART at once under flow control. */
const FLOW_CHUNK = 16;

const LSR_OF: Readonly<Record<LineErrorKind, number>> = { overrun: LSR_OE, parity: LSR_PE, framing: LSR_FE, break: LSR_BI };
const PARITIES: readonly Parity[] = ['none', 'odd', 'even', 'mark', 'space'];
const STOP_BITS = [1, 1.5, 2] as const;

export type FtdiFlowMode = 'none' | 'rts-cts' | 'dtr-dsr' | 'xon-xoff';

/** What one channel has been told, readable by tests. */
export interface FtdiChannelState {
  /** The rate the baud generator runs at, from the divisor. */
  baudRate: number;
  /** The divisor in effect (SIO: the table code). */
  divisor: number;
  dataBits: 7 | 8;
  parity: Parity;
  stopBits: 1 | 1.5 | 2;
  break: boolean;
  /** DTR / RTS as the host set them (under flow control the chip may drive the pin itself). */
  dtr: boolean;
  rts: boolean;
  flow: FtdiFlowMode;
  xon: number;
  xoff: number;
  latencyMs: number;
  eventChar: { char: number; enabled: boolean };
  errorChar: { char: number; enabled: boolean };
  bitMode: { mode: number; mask: number };
}

export interface FtdiChannelStats {
  /** Packets sent on bulk IN, and how many of them carried no data. */
  packetsIn: number;
  statusPackets: number;
  bytesToHost: number;
  bytesFromHost: number;
  /** Bytes from the line dropped because the RX buffer was full (paced lines). */
  lostInChip: number;
}

/** A vendor request the chip refused, and why (the host only sees a stall). */
export interface FtdiStallRecord {
  readonly request: string;
  readonly bRequest: number;
  readonly wValue: number;
  readonly wIndex: number;
  readonly reason: string;
}

export class FtdiEmulationError extends MockLabError {
  override name = 'FtdiEmulationError';
}

function defaultState(part: FtdiPart): FtdiChannelState {
  return {
    baudRate: 9600,
    divisor: part.generation === 'sio' ? 5 : 312.5,
    dataBits: 8,
    parity: 'none',
    stopBits: 1,
    break: false,
    dtr: false,
    rts: false,
    flow: 'none',
    xon: 0x11,
    xoff: 0x13,
    latencyMs: part.fixedLatencyMs ?? 16,
    eventChar: { char: 0x0d, enabled: false },
    errorChar: { char: 0x00, enabled: false },
    bitMode: { mode: 0, mask: 0 },
  };
}

/** One UART channel of the chip (channel A is index 0, wIndex 1). */
export class FtdiEmulatedChannel {
  readonly uart: UartPort;
  state: FtdiChannelState;
  readonly stats: FtdiChannelStats = { packetsIn: 0, statusPackets: 0, bytesToHost: 0, bytesFromHost: 0, lostInChip: 0 };
  /** @internal */ readonly ring: FlaggedRing;
  /** @internal bytes from the host, waiting for the UART */ txChunks: Uint8Array[] = [];
  /** @internal bytes in the TX buffer, including those the UART is sending */ txQueued = 0;
  /** @internal */ txBusy = false;
  /** @internal */ txEpoch = 0;
  /** @internal */ txWaiters: (() => void)[] = [];
  /** @internal bytes were lost; the next byte stored carries the overrun bit */ overrunPending = false;
  /** @internal the far end sent XOFF */ xoffReceived = false;
  /** @internal the RX buffer is nearly full: flow control holds the far end */ rxHeld = false;
  /** @internal */ lastSent = 0;
  /** @internal send a packet at the next IN token, whatever the latency timer says */ flushNow = false;
  /** @internal */ cancelTimer: (() => void) | undefined;

  constructor(
    readonly index: number,
    readonly part: FtdiPart,
    readonly interfaceNumber: number,
    /** Bulk IN endpoint address, e.g. 0x81. */
    readonly inEndpoint: number,
    readonly outEndpoint: number,
    /** wMaxPacketSize of the bulk endpoints. */
    readonly packetSize: number,
    pacing: boolean,
  ) {
    // Unpaced, the sender waits for room, so the UART's FIFO is small and the ring holds the
    // rest: together, the part's RX buffer. Paced, bytes arrive in bursts (one timer tick's
    // worth, more when the event loop is late); the UART's FIFO is only there to take a burst,
    // the chip empties it at once into the ring (the part's RX buffer), and what does not fit
    // there is lost: an overrun, decided by the chip's buffer and not by timer jitter.
    const uartFifo = pacing ? PACED_BURST : Math.min(64, part.rxBuffer >> 2);
    this.uart = new UartPort({ name: `${part.chip}:${String.fromCharCode(65 + index)}`, pacing, rxFifoSize: uartFifo });
    this.ring = new FlaggedRing(Math.max(pacing ? part.rxBuffer : part.rxBuffer - uartFifo, packetSize));
    this.state = defaultState(part);
  }

  /** wIndex channel number: 1 for channel A. */
  get channel(): number {
    return this.index + 1;
  }

  /** Bytes received from the line that the host has not read yet. */
  get rxBuffered(): number {
    return this.ring.count + this.uart.rxAvailable;
  }

  /** Bytes lost because the chip's buffers were full (the UART's FIFO and the RX buffer). */
  get overruns(): number {
    return this.stats.lostInChip + this.uart.stats.overruns;
  }

  /** Bytes the host wrote that have not gone out of the UART yet. */
  get txBuffered(): number {
    return this.txQueued;
  }

  /**
   * Bytes arriving from the line, with errors on chosen bytes. They arrive as fast as the chip
   * takes them: what does not fit in its buffers is lost, and the next byte stored is flagged
   * overrun.
   */
  injectRx(data: ArrayLike<number>, errors: readonly { offset: number; kind: LineErrorKind }[] = []): void {
    const bytes = Uint8Array.from(data);
    for (const e of errors) {
      if (!(e.offset >= 0 && e.offset < bytes.length)) throw new FtdiEmulationError(`error offset ${e.offset} is outside the ${bytes.length} bytes`);
    }
    // In pieces the size of the UART's FIFO: the chip empties it into its buffer between pieces.
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, Math.max(1, this.uart.rxSpace));
      const errs = errors.filter((e) => e.offset >= at && e.offset < at + n).map((e) => ({ offset: e.offset - at, kind: e.kind }));
      this.uart.injectRx(bytes.subarray(at, at + n), errs);
      at += n;
    }
  }

  /** One byte received with a line error (a break is a NUL byte). */
  injectLineError(kind: LineErrorKind, byte = 0): void {
    this.uart.injectRx([kind === 'break' ? 0 : byte], [{ offset: 0, kind }]);
  }

  /** The far end sends a break (one NUL with the break flag, as a UART reports it). */
  injectBreak(): void {
    this.injectLineError('break');
  }

  /** Drives input pins (RI always; CTS/DSR/DCD only while no wire drives them). */
  setInputs(pins: Partial<InputPins>): void {
    this.uart.setInputs(pins);
  }

  /** The modem status byte the chip reports now. */
  modemStatus(): number {
    const i = this.uart.inputsNow;
    return MSR_BASE | (i.cts ? MSR_CTS : 0) | (i.dsr ? MSR_DSR : 0) | (i.ri ? MSR_RI : 0) | (i.dcd ? MSR_DCD : 0);
  }

  /** THRE / TEMT of the line status byte. */
  txStatus(): number {
    const holdingEmpty = this.txChunks.length === 0;
    const empty = this.txQueued === 0 && this.uart.txPending === 0;
    return (holdingEmpty ? LSR_THRE : 0) | (empty ? LSR_TEMT : 0);
  }
}

export interface FtdiChipEmulationOptions {
  /** Pace the UARTs at their baud rate (default false: bytes cross as fast as FIFOs drain). */
  pacing?: boolean;
}

/**
 * The chip behind a MockUsbDevice. Channels are built from the descriptor's first
 * configuration: one per interface with a bulk IN and a bulk OUT endpoint.
 */
export class FtdiChipEmulation implements MockBehaviour {
  readonly channels: readonly FtdiEmulatedChannel[];
  /** Vendor requests refused since power-on, newest last. */
  readonly stalls: FtdiStallRecord[] = [];
  private ctx: MockDeviceContext | undefined;
  /** Bumped at every power loss and bus reset: waits started before give up. */
  private power = 0;
  private readonly byIn = new Map<number, FtdiEmulatedChannel>();
  private readonly byOut = new Map<number, FtdiEmulatedChannel>();

  constructor(
    readonly part: FtdiPart,
    descriptor: DeviceDescriptor,
    options: FtdiChipEmulationOptions = {},
  ) {
    const config = descriptor.configurations[0];
    const channels: FtdiEmulatedChannel[] = [];
    const interfaces = [...(config?.interfaces ?? [])].sort((a, b) => a.bInterfaceNumber - b.bInterfaceNumber);
    for (const iface of interfaces) {
      const alt = iface.alternates[0];
      const bulkIn = alt?.endpoints.find((e) => e.type === 'bulk' && e.bEndpointAddress & 0x80);
      const bulkOut = alt?.endpoints.find((e) => e.type === 'bulk' && !(e.bEndpointAddress & 0x80));
      if (!bulkIn || !bulkOut) continue;
      const size = bulkIn.wMaxPacketSize & 0x7ff;
      const ch = new FtdiEmulatedChannel(channels.length, part, iface.bInterfaceNumber, bulkIn.bEndpointAddress, bulkOut.bEndpointAddress, size, options.pacing ?? false);
      channels.push(ch);
      this.byIn.set(ch.inEndpoint, ch);
      this.byOut.set(ch.outEndpoint, ch);
    }
    if (channels.length === 0) {
      throw new FtdiEmulationError(`${part.chip}: the descriptor has no interface with a bulk IN and a bulk OUT endpoint`);
    }
    this.channels = channels;
    for (const ch of channels) {
      ch.uart.onRx(() => this.absorb(ch));
      ch.uart.onInputsChange(() => {
        // A modem-line change sends the buffer (and the new status) at once, and may free TX.
        ch.flushNow = true;
        this.ctx?.inReady(ch.inEndpoint);
        this.pumpTx(ch);
      });
    }
  }

  get chip(): FtdiPart['chip'] {
    return this.part.chip;
  }

  channel(index = 0): FtdiEmulatedChannel {
    const ch = this.channels[index];
    if (!ch) throw new FtdiEmulationError(`${this.part.chip} has no channel ${index} (it has ${this.channels.length})`);
    return ch;
  }

  // ---- MockBehaviour ----

  bind(ctx: MockDeviceContext): void {
    this.ctx = ctx;
  }

  plugged(): void {
    this.powerOn();
  }

  unplugged(): void {
    this.powerOn(); // everything the chip held is lost with the power
    for (const ch of this.channels) ch.uart.reset();
  }

  reset(): void {
    this.powerOn();
  }

  onControl(setup: ControlSetup, _data: Uint8Array | undefined): ControlReply {
    if (setup.requestType !== 'vendor') return undefined;
    const r = setup.bRequest;
    const name = REQUEST_NAMES[r];
    if (name === undefined) return this.stall(setup, `unknown vendor request 0x${r.toString(16)}`);
    const wantIn = IN_REQUESTS.has(r);
    if ((setup.direction === 'in') !== wantIn) {
      return this.stall(setup, `${name} is a device-to-${wantIn ? 'host' : 'device'} request, sent the other way`);
    }
    if (r === REQ.SET_BAUD_RATE) return this.setBaudRate(setup);
    if (r === REQ.READ_EEPROM) {
      // A blank EEPROM (the emulation keeps no image): every word reads 0xffff.
      return setup.wIndex > 0xff ? this.stall(setup, `EEPROM word address ${setup.wIndex} is beyond the part`) : new Uint8Array([0xff, 0xff]);
    }
    const sel = this.select(setup.wIndex & 0xff);
    if (typeof sel === 'string') return this.stall(setup, sel);
    const ch = sel;
    const v = setup.wValue;
    const s = ch.state;
    switch (r) {
      case REQ.RESET:
        if (v === 0) {
          this.purgeRx(ch);
          this.purgeTx(ch);
          s.flow = 'none';
          s.dtr = false;
          s.rts = false;
          s.eventChar = { ...s.eventChar, enabled: false };
          s.errorChar = { ...s.errorChar, enabled: false };
          ch.xoffReceived = false;
          this.applyOutputs(ch);
        } else if (v === 1) {
          this.purgeTx(ch); // the host's unsent output (the chip's receive side from USB)
        } else if (v === 2) {
          this.purgeRx(ch); // what came from the line and the host has not read
        } else {
          return this.stall(setup, `RESET wValue ${v}: 0 resets, 1 and 2 purge`);
        }
        return 'ack';
      case REQ.MODEM_CTRL: {
        const mask = v >> 8;
        if (mask & 1) s.dtr = (v & 1) !== 0;
        if (mask & 2) s.rts = (v & 2) !== 0;
        this.applyOutputs(ch);
        return 'ack';
      }
      case REQ.SET_FLOW_CTRL: {
        const mode = setup.wIndex >> 8;
        const flow: FtdiFlowMode | undefined = ({ 0: 'none', 1: 'rts-cts', 2: 'dtr-dsr', 4: 'xon-xoff' } as const)[mode as 0 | 1 | 2 | 4];
        if (!flow) return this.stall(setup, `flow control bits 0x${mode.toString(16)}: one of 0 (none), 1 (RTS/CTS), 2 (DTR/DSR), 4 (XON/XOFF)`);
        s.flow = flow;
        if (flow === 'xon-xoff') {
          s.xon = v & 0xff;
          s.xoff = v >> 8;
        }
        ch.xoffReceived = false;
        ch.rxHeld = false;
        this.applyOutputs(ch);
        this.updateRxFlow(ch);
        this.pumpTx(ch);
        return 'ack';
      }
      case REQ.SET_DATA: {
        const bits = v & 0xff;
        const parity = (v >> 8) & 7;
        const stop = (v >> 11) & 7;
        if (bits !== 7 && bits !== 8) return this.stall(setup, `${bits} data bits: the UART does 7 or 8`);
        if (parity > 4) return this.stall(setup, `parity code ${parity}: 0..4 (none, odd, even, mark, space)`);
        if (stop > 2) return this.stall(setup, `stop bits code ${stop}: 0..2 (1, 1.5, 2)`);
        if (v & 0x8000) return this.stall(setup, 'SET_DATA bit 15 is reserved');
        s.dataBits = bits;
        s.parity = PARITIES[parity]!;
        s.stopBits = STOP_BITS[stop]!;
        const brk = (v & 0x4000) !== 0;
        ch.uart.setSettings({ dataBits: bits, parity: s.parity, stopBits: s.stopBits });
        if (brk !== s.break) {
          s.break = brk;
          this.applyOutputs(ch);
          if (!brk) this.pumpTx(ch);
        }
        return 'ack';
      }
      case REQ.GET_MODEM_STATUS: {
        const lsr = ch.txStatus() | (ch.rxBuffered > 0 ? LSR_DR : 0);
        // The SIO answers with the modem status byte only.
        return this.part.generation === 'sio' ? new Uint8Array([ch.modemStatus()]) : new Uint8Array([ch.modemStatus(), lsr]);
      }
      case REQ.SET_EVENT_CHAR:
      case REQ.SET_ERROR_CHAR: {
        if (v > 0x1ff) return this.stall(setup, `wValue 0x${v.toString(16)}: the character in bits 0..7, enable in bit 8`);
        const c = { char: v & 0xff, enabled: (v & 0x100) !== 0 };
        if (r === REQ.SET_EVENT_CHAR) s.eventChar = c;
        else s.errorChar = c;
        return 'ack';
      }
      case REQ.SET_LATENCY_TIMER:
        if (!this.part.latencyTimer) return this.stall(setup, `${this.part.chip} has a fixed ${s.latencyMs} ms timeout, no latency timer`);
        if (v < 1 || v > 255) return this.stall(setup, `latency ${v} ms: 1..255`);
        s.latencyMs = v;
        this.rearm(ch);
        return 'ack';
      case REQ.GET_LATENCY_TIMER:
        if (!this.part.latencyTimer) return this.stall(setup, `${this.part.chip} has no latency timer`);
        return new Uint8Array([s.latencyMs]);
      case REQ.SET_BITMODE:
        // Recorded only: the emulation runs the UART whatever the mode (mode 0 is UART anyway).
        s.bitMode = { mode: v >> 8, mask: v & 0xff };
        return 'ack';
      case REQ.READ_PINS: {
        // UART pin levels, D0..D7 = TXD RXD RTS# CTS# DTR# DSR# DCD# RI# (handshake lines are active low).
        const o = ch.uart.outputs;
        const i = ch.uart.inputs;
        const low = (on: boolean, bit: number) => (on ? 0 : 1 << bit);
        return new Uint8Array([
          (o.brk ? 0 : 1) | (ch.uart.rxLineBreak ? 0 : 2) | low(o.rts, 2) | low(i.cts, 3) | low(o.dtr, 4) | low(i.dsr, 5) | low(i.dcd, 6) | low(i.ri, 7),
        ]);
      }
      default:
        return this.stall(setup, `${name} is not emulated`);
    }
  }

  onOut(endpointAddress: number, data: Uint8Array): OutReply | Promise<OutReply> {
    const ch = this.byOut.get(endpointAddress);
    if (!ch) return 'stall';
    let payload = data;
    if (this.part.generation === 'sio') {
      // Every packet starts with (length << 2) | 1.
      const parts: Uint8Array[] = [];
      for (let at = 0; at < data.length; at += ch.packetSize) {
        const pkt = data.subarray(at, at + ch.packetSize);
        const hdr = pkt[0]!;
        if ((hdr & 3) !== 1 || hdr >> 2 !== pkt.length - 1) {
          this.ctx?.log.debug({ header: hdr, length: pkt.length }, 'SIO: bad OUT packet header');
          return 'stall';
        }
        parts.push(pkt.subarray(1));
      }
      payload = concat(parts);
    }
    ch.stats.bytesFromHost += payload.length;
    return this.acceptTx(ch, payload, endpointAddress);
  }

  onIn(endpointAddress: number, maxBytes: number): InReply {
    const ch = this.byIn.get(endpointAddress);
    if (!ch) return 'stall';
    if (maxBytes < 2) return undefined; // no room for the status bytes
    const now = this.ctx?.now() ?? performance.now();
    const payloadMax = maxBytes - 2;
    const count = ch.ring.count;
    const s = ch.state;
    if (!(ch.flushNow || count >= payloadMax || now - ch.lastSent >= s.latencyMs)) {
      this.arm(ch, now);
      return undefined;
    }
    let n = Math.min(count, payloadMax);
    let lsr = 0;
    let cut = false;
    if (n > 0) {
      // A byte with an error goes alone, so the error bits in the header name exactly it.
      const k = ch.ring.firstFlagged(n);
      if (k === 0) {
        lsr = ch.ring.flagAt(0);
        cut = n > 1 || ch.ring.count > 1;
        n = 1;
      } else if (k > 0) {
        n = k;
        cut = true;
      }
    }
    const pkt = new Uint8Array(2 + n);
    pkt[0] = ch.modemStatus();
    pkt[1] = lsr | ch.txStatus();
    ch.ring.take(n, pkt, 2);
    ch.lastSent = now;
    ch.flushNow = cut; // the bytes after an error follow at once
    ch.stats.packetsIn++;
    if (n === 0) ch.stats.statusPackets++;
    ch.stats.bytesToHost += n;
    this.absorb(ch);
    return pkt;
  }

  // ---- internals ----

  private stall(setup: ControlSetup, reason: string): 'stall' {
    const rec = { request: REQUEST_NAMES[setup.bRequest] ?? `0x${setup.bRequest.toString(16)}`, bRequest: setup.bRequest, wValue: setup.wValue, wIndex: setup.wIndex, reason };
    this.stalls.push(rec);
    if (this.stalls.length > 1000) this.stalls.shift();
    this.ctx?.log.debug(rec, 'FTDI request stalled');
    return 'stall';
  }

  /** The channel a request's wIndex low byte names, or why none. */
  private select(sel: number): FtdiEmulatedChannel | string {
    const p = this.part;
    if (!p.channelSelector) {
      // These take 0 (Linux) and 1 (libftdi's INTERFACE_A) for their only channel.
      return sel <= 1 ? this.channels[0]! : `channel ${sel} in wIndex: ${p.chip} has one channel (0 or 1)`;
    }
    const n = sel === 0 && p.zeroSelector ? 1 : sel;
    const ch = this.channels[n - 1];
    if (n < 1 || !ch) return `channel ${sel} in wIndex: ${p.chip} has channels 1..${this.channels.length}`;
    return ch;
  }

  private setBaudRate(setup: ControlSetup): ControlReply {
    let decoded;
    try {
      decoded = ftdiChipBaudFromDivisor(this.part.chip, setup.wValue, setup.wIndex);
    } catch (err) {
      if (err instanceof FtdiDivisorRejected) return this.stall(setup, err.reason);
      throw err;
    }
    const ch = this.channels[this.part.channelSelector ? decoded.channel - 1 : 0];
    if (!ch) return this.stall(setup, `channel ${decoded.channel}: this ${this.part.chip} has ${this.channels.length}`);
    ch.state.baudRate = decoded.baud;
    ch.state.divisor = decoded.divisor;
    ch.uart.setSettings({ baudRate: decoded.baud });
    return 'ack';
  }

  private powerOn(): void {
    this.power++;
    for (const ch of this.channels) {
      ch.state = defaultState(this.part);
      ch.cancelTimer?.();
      ch.cancelTimer = undefined;
      this.purgeRx(ch);
      this.purgeTx(ch);
      ch.xoffReceived = false;
      ch.lastSent = 0;
      ch.uart.setSettings({ baudRate: ch.state.baudRate, dataBits: 8, parity: 'none', stopBits: 1 });
      this.applyOutputs(ch);
    }
  }

  /** Output pins: the host's DTR/RTS, except the one flow control drives from the RX buffer. */
  private applyOutputs(ch: FtdiEmulatedChannel): void {
    const s = ch.state;
    const rts = s.flow === 'rts-cts' ? !ch.rxHeld : s.rts;
    const dtr = s.flow === 'dtr-dsr' ? !ch.rxHeld : s.dtr;
    ch.uart.setOutputs({ dtr, rts, brk: s.break });
  }

  private txAllowed(ch: FtdiEmulatedChannel): boolean {
    const s = ch.state;
    if (s.break) return false;
    switch (s.flow) {
      case 'rts-cts':
        return ch.uart.inputs.cts;
      case 'dtr-dsr':
        return ch.uart.inputs.dsr;
      case 'xon-xoff':
        return !ch.xoffReceived;
      default:
        return true;
    }
  }

  /** Takes OUT data into the TX buffer as room appears; resolves when all of it is in. */
  private async acceptTx(ch: FtdiEmulatedChannel, payload: Uint8Array, endpointAddress: number): Promise<OutReply> {
    const power = this.power;
    const cap = this.part.txBuffer;
    let at = 0;
    while (at < payload.length) {
      if (power !== this.power) return; // the device lost power: the transfer already failed
      // The host cancelled the transfer: its remaining packets never arrive (a cancelled URB
      // sends nothing more; what the FIFO already holds stays until sent or purged).
      if (this.ctx && this.ctx.device.pendingOn(endpointAddress) === 0) return;
      const room = cap - ch.txQueued;
      if (room <= 0) {
        await new Promise<void>((r) => ch.txWaiters.push(r));
        continue;
      }
      const n = Math.min(room, payload.length - at);
      ch.txChunks.push(payload.subarray(at, at + n)); // the OUT data is the chip's (MockBehaviour.onOut)
      ch.txQueued += n;
      at += n;
      this.pumpTx(ch);
    }
  }

  /** Moves the TX buffer to the UART while flow control allows. */
  private pumpTx(ch: FtdiEmulatedChannel): void {
    if (ch.txBusy || ch.txChunks.length === 0 || !this.txAllowed(ch)) return;
    // Under flow control a few bytes at a time, so a stop request takes effect within them
    // (the RX side holds the far end while it still has room for more than this).
    const limit = ch.state.flow === 'none' ? Infinity : FLOW_CHUNK;
    const take: Uint8Array[] = [];
    let n = 0;
    while (ch.txChunks.length > 0 && n < limit) {
      const c = ch.txChunks[0]!;
      const k = Math.min(c.length, limit - n);
      take.push(k === c.length ? c : c.subarray(0, k));
      if (k === c.length) ch.txChunks.shift();
      else ch.txChunks[0] = c.subarray(k);
      n += k;
    }
    const bytes = concat(take);
    ch.txBusy = true;
    const epoch = ch.txEpoch;
    void ch.uart.write(bytes).then(() => {
      if (epoch !== ch.txEpoch) return; // purged meanwhile
      ch.txBusy = false;
      ch.txQueued -= bytes.length;
      for (const w of ch.txWaiters.splice(0)) w();
      if (ch.txQueued === 0) this.ctx?.inReady(ch.inEndpoint); // TEMT changes the next status
      this.pumpTx(ch);
    });
  }

  private purgeTx(ch: FtdiEmulatedChannel): void {
    ch.txEpoch++;
    ch.txChunks = [];
    ch.txQueued = 0;
    ch.txBusy = false;
    ch.uart.flushTx();
    for (const w of ch.txWaiters.splice(0)) w();
  }

  private purgeRx(ch: FtdiEmulatedChannel): void {
    ch.ring.clear();
    ch.overrunPending = false;
    ch.uart.flushRx();
    ch.flushNow = false;
    this.updateRxFlow(ch);
  }

  /** Pulls received bytes from the UART into the RX buffer, applying the special characters. */
  private absorb(ch: FtdiEmulatedChannel): void {
    const u = ch.uart;
    const s = ch.state;
    const inspect = s.flow === 'xon-xoff' || s.eventChar.enabled || s.errorChar.enabled;
    // A paced sender does not wait for room: take everything, lose what does not fit.
    const eager = (u.drivenBy ?? u).pacing;
    let xoffChange = false;
    while (u.rxAvailable > 0) {
      const room = ch.ring.space;
      if (room === 0 && !eager) break;
      // Clean bytes the ring has room for go straight across, with no chunk built.
      if (!inspect && !eager && !ch.overrunPending && u.takeClean(room, ch.ring) >= 0) continue;
      const chunk = u.read(eager ? Infinity : room);
      if (!inspect && chunk.errors.length === 0 && !ch.overrunPending && chunk.data.length <= room) {
        ch.ring.pushClean(chunk.data);
        continue;
      }
      const flags = new Uint8Array(chunk.data.length);
      for (const e of chunk.errors) flags[e.offset] |= LSR_OF[e.kind];
      for (let i = 0; i < chunk.data.length; i++) {
        let b = chunk.data[i]!;
        let f = flags[i]!;
        if (s.flow === 'xon-xoff' && !f && (b === s.xon || b === s.xoff)) {
          // In-band flow control: the chip acts on it and keeps it out of the data.
          ch.xoffReceived = b === s.xoff;
          xoffChange = true;
          continue;
        }
        if (ch.ring.space === 0) {
          ch.stats.lostInChip++;
          ch.overrunPending = true;
          continue;
        }
        if (ch.overrunPending) {
          f |= LSR_OE;
          ch.overrunPending = false;
        }
        if (f & (LSR_PE | LSR_FE) && s.errorChar.enabled) b = s.errorChar.char;
        if (s.eventChar.enabled && !(f & ~LSR_OE) && b === s.eventChar.char) ch.flushNow = true;
        ch.ring.push(b, f);
      }
    }
    this.updateRxFlow(ch);
    if (xoffChange) this.pumpTx(ch);
    if (ch.ring.count > 0 || ch.flushNow) this.ctx?.inReady(ch.inEndpoint);
  }

  /** Flow control on the receive side: hold the far end while the RX buffer is nearly full. */
  private updateRxFlow(ch: FtdiEmulatedChannel): void {
    const margin = Math.max(2 * FLOW_CHUNK, ch.ring.capacity >> 3);
    const free = ch.ring.space;
    let held = ch.rxHeld;
    if (!held && free < margin) held = true;
    else if (held && free >= 2 * margin) held = false;
    if (held === ch.rxHeld) return;
    ch.rxHeld = held;
    const s = ch.state;
    if (s.flow === 'xon-xoff') void ch.uart.write([held ? s.xoff : s.xon]);
    else if (s.flow === 'rts-cts' || s.flow === 'dtr-dsr') this.applyOutputs(ch);
  }

  /** Wakes the IN endpoint when the latency timer runs out. */
  private arm(ch: FtdiEmulatedChannel, now: number): void {
    if (ch.cancelTimer || !this.ctx) return;
    const ctx = this.ctx;
    ch.cancelTimer = ctx.after(Math.max(1, ch.lastSent + ch.state.latencyMs - now), () => {
      ch.cancelTimer = undefined;
      ctx.inReady(ch.inEndpoint);
    });
  }

  private rearm(ch: FtdiEmulatedChannel): void {
    ch.cancelTimer?.();
    ch.cancelTimer = undefined;
    this.ctx?.inReady(ch.inEndpoint);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
