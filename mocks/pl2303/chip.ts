// An emulated PL2303, the far side of a MockUsbDevice: the vendor register file as each type
// answers it, the class requests (line coding stored and read back, control lines, break), the
// baud field decoded the chip's way (baud-decode.ts, not the driver's encoder), a UART from the
// mock lab, interrupt notifications on modem-line changes and line errors, and the hardware flow
// control the flow-control register selects.
//
// Modelling choices (the parts' exact behaviour here is not documented; unverified):
// - non-HXN parts answer vendor reads of 0x80-0xff (register n read at n | 0x80), 0x8484, 0x8383
//   and the HX status 0x8080; a read of a write address (0x00-0x7f) stalls, so a driver that
//   reads the wrong address in a read-modify-write fails loudly;
// - HXN answers only its own requests (0x81 read, 0x80 write); the legacy 0x01 request stalls,
//   which is what tells it from TA/TB;
// - a received byte with a line error is held back until the notification reporting it has been
//   taken from the interrupt endpoint, and then starts a bulk IN transfer of its own (an open
//   transfer is ended with a zero-length packet first): "the error applies to the next bulk read";
// - a bulk IN transfer that stopped on a full packet is ended with a zero-length packet once the
//   line has been idle for `idleZlpMs`;
// - a receive overrun (a byte arriving at a full FIFO) is reported in a notification when it
//   happens, not on the next byte stored; the bulk data after it waits until that notification
//   has been taken, as with the other line errors;
// - the interrupt IN endpoint holds one status report, not a history: a change marks a report
//   due, and the report the host takes carries the UART status as it is when taken (the modem
//   lines' present levels, with the error bits latched since the last report). While nobody polls
//   (the port closed: Linux submits pl2303's interrupt URB only in pl2303_open), changes wait in
//   that one report, so the first poll after a reopen learns the present lines. Linux's pl2303
//   answers TIOCMGET from priv->line_status, which only the interrupt callback updates (pl2303_open
//   reads no status), and usb-serial-for-android's ProlificSerialDriver takes the one packet it
//   reads after open as the "initial CTS / DSR / CD / RI status": both rely on the report being
//   the present state, which a queue of old reports would break (its head is the oldest change);
// - SET_CONTROL (the host raising or dropping DTR/RTS, as every open does) marks a report due with
//   the current input lines: ProlificSerialDriver reads such an initial status packet after open;
// - automatic XON/XOFF stops and restarts transmission when XOFF/XON arrive (seen when the host
//   reads them); the characters stay in the data stream.
import type { Pl2303Type } from '../../drivers/pl2303/types.ts';
import type { ControlReply, ControlSetup, InReply, MockBehaviour, MockDeviceContext, OutReply } from '../emulation.ts';
import { UartPort, type InputPins, type LineSettings, type UartPortOptions } from '../uart.ts';
import { pl2303ChipBaud, Pl2303BaudRejected } from './baud-decode.ts';

/** Endpoint addresses of the HX layout. */
export const PL2303_EP_INTERRUPT_IN = 0x81;
export const PL2303_EP_BULK_OUT = 0x02;
export const PL2303_EP_BULK_IN = 0x83;

// UART status bits, as the chip reports them at offset 8 of a notification.
const ST_DCD = 0x01;
const ST_DSR = 0x02;
const ST_BREAK = 0x04;
const ST_RING = 0x08;
const ST_FRAMING = 0x10;
const ST_PARITY = 0x20;
const ST_OVERRUN = 0x40;
const ST_CTS = 0x80;
/** The error bits: events latched until a report carries them (the others are levels). */
const ST_TRANSIENT = ST_BREAK | ST_FRAMING | ST_PARITY | ST_OVERRUN;

const XON = 0x11;
const XOFF = 0x13;

/** Power-on line coding: 9600 8N1. */
// GET_LINE before any SET_LINE: 9600 baud, 1 stop bit, no parity, and 0 data bits (real chips
// report no data-bit count until the host sets one).
const POWER_ON_LINE = Uint8Array.of(0x80, 0x25, 0x00, 0x00, 0x00, 0x00, 0x00);

/** Values the non-HXN parts give for the start-up reads (stand-ins: the real values are undocumented). */
const SPECIAL_READS: ReadonlyMap<number, number> = new Map([
  [0x8484, 0x02],
  [0x8383, 0x00],
  [0x8080, 0x00], // HX status: answering at all is what matters
]);

export type Pl2303ChipFlow = 'none' | 'rts-cts' | 'xon-xoff';

export interface Pl2303ChipOptions {
  type: Pl2303Type;
  /** An HXD clone: GET_LINE and BREAK stall. */
  clone?: boolean;
  /** The UART (name, pacing, RX FIFO size, initial settings). */
  uart?: UartPortOptions;
  /** Idle time after a full bulk IN packet before a zero-length packet ends the transfer (ms, default 1). */
  idleZlpMs?: number;
  /** Put the status byte at offset 0 of the notification (the Siemens phone cables). */
  statusIndex0?: boolean;
}

export interface Pl2303ChipStats {
  /** Status reports the host took from the interrupt endpoint. */
  notifications: number;
  /** Changes that found a report already due and were folded into it. */
  notificationsMerged: number;
  bulkInPackets: number;
  bulkOutBytes: number;
  zeroLengthPackets: number;
  purges: { tx: number; rx: number };
}

/** One request the chip refused (stalled), for tests to inspect. */
export interface Pl2303ChipRefusal {
  readonly bmRequestType: number;
  readonly bRequest: number;
  readonly wValue: number;
  readonly wIndex: number;
  readonly reason: string;
}

interface Held {
  data: Uint8Array;
  /** Status error bits per byte (0 = clean). */
  flags: Uint8Array;
  at: number;
}

export class Pl2303Chip implements MockBehaviour {
  readonly type: Pl2303Type;
  readonly clone: boolean;
  readonly uart: UartPort;
  /** The register file: address -> byte (non-HXN: 0x00-0x7f and 0x0404; HXN: its own addresses). */
  readonly registers = new Map<number, number>();
  readonly stats: Pl2303ChipStats = {
    notifications: 0,
    notificationsMerged: 0,
    bulkInPackets: 0,
    bulkOutBytes: 0,
    zeroLengthPackets: 0,
    purges: { tx: 0, rx: 0 },
  };
  /** Requests the chip stalled, oldest first (expected ones too, e.g. HXN's answer to 0x8080). */
  readonly refusals: Pl2303ChipRefusal[] = [];
  /** Baud fields the chip could not run (a real chip falls back to 9600 for odd plain rates). */
  readonly rejectedBauds: Pl2303BaudRejected[] = [];

  private ctx: MockDeviceContext | null = null;
  private line = POWER_ON_LINE.slice();
  private hostRts = false;
  private hostDtr = false;
  private breakOn = false;
  private flowMode: Pl2303ChipFlow = 'none';
  private xoffed = false;
  private rxHigh = false;
  /** The status report due on the interrupt endpoint (null: none; the endpoint NAKs). */
  private report: number | null = null;
  /** Sequence number of the due report; every report gets the next one. */
  private notifySeq = 0;
  /** Sequence number of the last report the host took. */
  private takenSeq = 0;
  /** Sequence number of the notification reporting the errored byte at the head of `held`. */
  private errorSeq = 0;
  /** Sequence number of the notification reporting an overrun not yet taken by the host. */
  private overrunSeq = 0;
  /** The UART's overrun count already reported. */
  private overrunsSeen = 0;
  /** An overrun was notified and the UART has not yet marked the next stored byte with it. */
  private overrunUnflagged = false;
  private held: Held | null = null;
  private lastInFull = false;
  private zlpDue = false;
  private cancelZlpTimer: (() => void) | null = null;
  private txEpoch = 0;
  private power = 0;
  private gateWaiters: (() => void)[] = [];
  private readonly idleZlpMs: number;
  private readonly statusIndex: number;

  constructor(options: Pl2303ChipOptions) {
    this.type = options.type;
    this.clone = options.clone ?? false;
    if (this.clone && this.type !== 'HXD') throw new TypeError('only an HXD has clones that stall GET_LINE');
    this.uart = new UartPort({ name: `pl2303-${this.type.toLowerCase()}`, ...options.uart });
    this.idleZlpMs = options.idleZlpMs ?? 1;
    this.statusIndex = options.statusIndex0 ? 0 : 8;
    this.powerOnRegisters();
    this.uart.onRx(() => {
      if (this.uart.stats.overruns !== this.overrunsSeen) {
        this.overrunsSeen = this.uart.stats.overruns;
        if (!this.overrunUnflagged) {
          this.overrunUnflagged = true;
          this.overrunSeq = this.notify(this.modemBits(this.uart.inputs) | ST_OVERRUN);
        }
      }
      this.updateRts();
      this.ctx?.inReady(PL2303_EP_BULK_IN);
    });
    this.uart.onInputsChange((inputs) => {
      this.notify(this.modemBits(inputs));
      this.wakeGate();
    });
  }

  // ---- what tests look at ----

  /** The 7 bytes GET_LINE answers (what SET_LINE stored last). */
  get lineCoding(): Uint8Array {
    return this.line.slice();
  }

  /** The UART's line settings (baud as the chip decoded it). */
  get lineSettings(): Readonly<LineSettings> {
    return this.uart.settings;
  }

  /** The flow control the register file selects. */
  get flowControl(): Pl2303ChipFlow {
    return this.flowMode;
  }

  get controlLines(): { dtr: boolean; rts: boolean; brk: boolean } {
    return { dtr: this.hostDtr, rts: this.hostRts, brk: this.breakOn };
  }

  /** Status reports waiting for the host: 0 or 1 (the endpoint holds one). */
  get pendingNotifications(): number {
    return this.report === null ? 0 : 1;
  }

  /** Whether transmission is held by flow control right now. */
  get txHeld(): boolean {
    return !this.txAllowed();
  }

  // ---- MockBehaviour ----

  bind(ctx: MockDeviceContext): void {
    this.ctx = ctx;
  }

  plugged(): void {
    this.power++;
    this.powerOnRegisters();
    // The first poll of the interrupt endpoint learns the lines as they are.
    this.notify(this.modemBits(this.uart.inputs));
  }

  unplugged(): void {
    this.power++;
    this.cancelZlp();
    this.report = null;
    this.takenSeq = this.notifySeq;
    this.held = null;
    this.lastInFull = false;
    this.zlpDue = false;
    this.hostDtr = this.hostRts = this.breakOn = false;
    this.xoffed = false;
    this.rxHigh = false;
    this.uart.reset();
    this.overrunSeq = 0;
    this.overrunsSeen = this.uart.stats.overruns;
    this.overrunUnflagged = false;
    this.wakeGate();
  }

  onControl(setup: ControlSetup, data: Uint8Array | undefined): ControlReply {
    if (setup.requestType === 'vendor' && setup.recipient === 'device') return this.vendor(setup, data);
    if (setup.requestType === 'class' && setup.recipient === 'interface' && (setup.wIndex & 0xff) === 0) return this.classRequest(setup, data);
    if (setup.requestType === 'standard') return undefined; // descriptors etc.: the base answers
    return this.refuse(setup, 'not a request this chip knows');
  }

  async onOut(endpointAddress: number, data: Uint8Array): Promise<OutReply> {
    if (endpointAddress !== PL2303_EP_BULK_OUT) return 'stall';
    this.stats.bulkOutBytes += data.length;
    const epoch = this.txEpoch;
    const power = this.power;
    if (this.flowMode === 'none') {
      await this.uart.write(data);
      return;
    }
    // Under flow control the chip sends a few bytes at a time, so a stop takes effect soon.
    for (let at = 0; at < data.length; ) {
      while (!this.txAllowed()) {
        await new Promise<void>((r) => this.gateWaiters.push(r));
        if (epoch !== this.txEpoch || power !== this.power) return; // purged or unplugged: dropped
      }
      if (epoch !== this.txEpoch || power !== this.power) return;
      const n = Math.min(16, data.length - at);
      await this.uart.write(data.subarray(at, at + n));
      at += n;
    }
  }

  onIn(endpointAddress: number, maxBytes: number): InReply {
    if (endpointAddress === PL2303_EP_INTERRUPT_IN) return this.nextNotification(maxBytes);
    if (endpointAddress === PL2303_EP_BULK_IN) return this.nextBulkPacket(maxBytes);
    return 'stall';
  }

  // ---- vendor requests ----

  private vendor(s: ControlSetup, data: Uint8Array | undefined): ControlReply {
    const hxn = this.type === 'HXN';
    const read = s.direction === 'in';
    if (hxn) {
      if (read && s.bRequest === 0x81) return Uint8Array.of(this.registers.get(s.wValue) ?? 0);
      if (!read && s.bRequest === 0x80) return this.writeRegister(s.wValue, s.wIndex & 0xff);
      return this.refuse(s, s.bRequest === 0x01 ? 'HXN does not know the legacy vendor request' : 'unknown vendor request');
    }
    if (s.bRequest !== 0x01) return this.refuse(s, 'unknown vendor request (0x80/0x81 are HXN requests)');
    if (read) {
      if (s.wLength < 1) return this.refuse(s, 'a vendor read returns 1 byte');
      const special = SPECIAL_READS.get(s.wValue);
      if (special !== undefined) return Uint8Array.of(special);
      if (s.wValue >= 0x80 && s.wValue <= 0xff) return Uint8Array.of(this.registers.get(s.wValue & 0x7f) ?? 0);
      return this.refuse(s, `address 0x${hex(s.wValue, 4)} is not readable (register n is read at n | 0x80)`);
    }
    if (data && data.length > 0) return this.refuse(s, 'a vendor write has no data stage');
    if (s.wValue === 0x0404) {
      this.registers.set(0x0404, s.wIndex & 0xff);
      return 'ack';
    }
    if (s.wValue <= 0x7f) return this.writeRegister(s.wValue, s.wIndex & 0xff);
    return this.refuse(s, `address 0x${hex(s.wValue, 4)} is not writable`);
  }

  private writeRegister(reg: number, value: number): ControlReply {
    if (this.type === 'HXN') {
      if (reg === 0x07) {
        // Pipe reset: 0x01 the downstream pipe (host to chip), 0x02 upstream (chip to host). Self-clearing.
        if (value & 0x01) this.purgeTx();
        if (value & 0x02) this.purgeRx();
        return 'ack';
      }
      this.registers.set(reg, value);
      if (reg === 0x0a) this.updateFlow();
      return 'ack';
    }
    this.registers.set(reg, value);
    if (reg === 0x08) this.purgeTx();
    else if (reg === 0x09) this.purgeRx();
    else if (reg === 0x00) this.updateFlow();
    return 'ack';
  }

  private powerOnRegisters(): void {
    this.registers.clear();
    if (this.type === 'HXN') this.registers.set(0x0a, 0x1c); // flow control off
    this.line = POWER_ON_LINE.slice();
    this.uart.setSettings({ baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });
    this.flowMode = 'none';
  }

  private updateFlow(): void {
    let mode: Pl2303ChipFlow = 'none';
    if (this.type === 'HXN') {
      const v = (this.registers.get(0x0a) ?? 0x1c) & 0x1c;
      if (v === 0x18) mode = 'rts-cts';
      else if (v === 0x0c) mode = 'xon-xoff';
    } else {
      const v = (this.registers.get(0x00) ?? 0) & 0xf0;
      // The legacy H takes 0x40 for RTS/CTS and has no XON/XOFF; the others take 0x60 and 0xc0.
      if (this.type === 'H') mode = v === 0x40 ? 'rts-cts' : 'none';
      else if (v === 0x60) mode = 'rts-cts';
      else if (v === 0xc0) mode = 'xon-xoff';
    }
    if (mode !== this.flowMode) {
      this.flowMode = mode;
      this.xoffed = false;
      this.updateRts();
      this.wakeGate();
    }
  }

  // ---- class requests ----

  private classRequest(s: ControlSetup, data: Uint8Array | undefined): ControlReply {
    switch (s.bRequest) {
      case 0x20: // SET_LINE
        if (s.direction !== 'out' || !data || data.length !== 7) return this.refuse(s, 'SET_LINE carries 7 bytes');
        return this.setLine(s, data);
      case 0x21: // GET_LINE
        if (s.direction !== 'in') return this.refuse(s, 'GET_LINE is an IN request');
        if (this.clone) return this.refuse(s, 'this HXD clone stalls GET_LINE');
        return this.line.slice();
      case 0x22: // SET_CONTROL
        this.hostDtr = !!(s.wValue & 0x01);
        this.hostRts = !!(s.wValue & 0x02);
        this.uart.setOutputs({ dtr: this.hostDtr });
        this.updateRts(true);
        this.notify(this.modemBits(this.uart.inputs));
        return 'ack';
      case 0x23: // BREAK
        if (this.clone) return this.refuse(s, 'this HXD clone stalls BREAK');
        if (s.wValue !== 0xffff && s.wValue !== 0) return this.refuse(s, 'BREAK takes 0xffff or 0');
        this.breakOn = s.wValue === 0xffff;
        this.uart.setOutputs({ brk: this.breakOn });
        return 'ack';
      default:
        return this.refuse(s, 'unknown class request');
    }
  }

  private setLine(s: ControlSetup, data: Uint8Array): ControlReply {
    const stop = ([1, 1.5, 2] as const)[data[4]];
    const parity = (['none', 'odd', 'even', 'mark', 'space'] as const)[data[5]];
    const bits = data[6];
    if (stop === undefined) return this.refuse(s, `stop-bit code ${data[4]}`);
    if (parity === undefined) return this.refuse(s, `parity code ${data[5]}`);
    if (bits !== 5 && bits !== 6 && bits !== 7 && bits !== 8) return this.refuse(s, `${bits} data bits`);
    this.line = data.slice();
    let baudRate = this.uart.settings.baudRate;
    try {
      baudRate = pl2303ChipBaud(this.type, data.subarray(0, 4));
    } catch (err) {
      if (!(err instanceof Pl2303BaudRejected)) throw err;
      this.rejectedBauds.push(err);
      this.ctx?.log.warn({ err }, 'emulated PL2303 cannot run this baud field');
      if (err.chipFallback !== undefined) baudRate = err.chipFallback;
    }
    this.uart.setSettings({ baudRate, dataBits: bits, parity, stopBits: stop });
    return 'ack';
  }

  private refuse(s: ControlSetup, reason: string): 'stall' {
    this.refusals.push({ bmRequestType: s.bmRequestType, bRequest: s.bRequest, wValue: s.wValue, wIndex: s.wIndex, reason });
    return 'stall';
  }

  // ---- interrupt endpoint ----

  private modemBits(p: Readonly<InputPins>): number {
    return (p.dcd ? ST_DCD : 0) | (p.dsr ? ST_DSR : 0) | (p.ri ? ST_RING : 0) | (p.cts ? ST_CTS : 0);
  }

  /**
   * Marks a report due with `status` (the present modem bits, plus error bits to report). A report
   * already due takes the new modem bits and keeps its error bits: the host learns the present
   * lines and every error once. Returns the sequence number of the report that will carry it.
   */
  private notify(status: number): number {
    if (this.report !== null) {
      this.report = (this.report & ST_TRANSIENT) | status;
      this.stats.notificationsMerged++;
      return this.notifySeq;
    }
    this.report = status;
    this.notifySeq++;
    this.ctx?.inReady(PL2303_EP_INTERRUPT_IN);
    return this.notifySeq;
  }

  private nextNotification(maxBytes: number): InReply {
    const status = this.report;
    if (status === null) return undefined;
    this.report = null;
    this.takenSeq = this.notifySeq;
    this.stats.notifications++;
    // CDC SERIAL_STATE: bmRequestType 0xA1, bNotification 0x20, wValue 0, wIndex 0, wLength 2, status.
    const n = Uint8Array.of(0xa1, 0x20, 0, 0, 0, 0, 0x02, 0, 0, 0);
    n[this.statusIndex] = status;
    // Held data waits for this: let the bulk endpoint look again.
    this.ctx?.inReady(PL2303_EP_BULK_IN);
    return n.subarray(0, Math.min(n.length, maxBytes));
  }

  // ---- bulk IN ----

  private nextBulkPacket(max: number): InReply {
    if (this.zlpDue) return this.zlp();
    if (this.overrunSeq !== 0) {
      // Data after an overrun waits until its notification was taken (while anyone listens).
      const listening = (this.ctx?.device.pendingOn(PL2303_EP_INTERRUPT_IN) ?? 0) > 0;
      if (this.takenSeq < this.overrunSeq && listening) return undefined;
      this.overrunSeq = 0;
    }
    let h = this.held;
    if (!h || h.at >= h.data.length) {
      h = this.held = this.takeFromUart(max);
      if (!h) {
        if (this.lastInFull) this.armZlp();
        return undefined;
      }
    }
    if (h.flags[h.at] !== 0) {
      // A byte with a line error: report it first, then let it start a transfer of its own.
      if (this.errorSeq === 0) {
        this.errorSeq = this.notify(this.modemBits(this.uart.inputs) | h.flags[h.at]);
      }
      if (this.lastInFull) return this.zlp();
      const listening = (this.ctx?.device.pendingOn(PL2303_EP_INTERRUPT_IN) ?? 0) > 0;
      if (this.takenSeq < this.errorSeq && listening) return undefined;
      this.errorSeq = 0;
    }
    let end = h.at + 1;
    while (end < h.data.length && end - h.at < max && h.flags[end] === 0) end++;
    const out = h.data.slice(h.at, end);
    h.at = end;
    if (h.at >= h.data.length) this.held = null;
    this.lastInFull = out.length === max;
    this.stats.bulkInPackets++;
    if (this.flowMode === 'xon-xoff') this.seeFlowChars(out);
    this.updateRts();
    return out;
  }

  private takeFromUart(max: number): Held | null {
    if (this.uart.rxAvailable === 0) return null;
    const chunk = this.uart.read(max);
    const flags = new Uint8Array(chunk.data.length);
    for (const e of chunk.errors) {
      if (e.kind === 'overrun' && this.overrunUnflagged) {
        // The UART marks the first byte after lost ones; the chip reported it when it happened.
        this.overrunUnflagged = false;
        continue;
      }
      flags[e.offset] |= e.kind === 'framing' ? ST_FRAMING : e.kind === 'parity' ? ST_PARITY : e.kind === 'break' ? ST_BREAK : ST_OVERRUN;
    }
    return { data: chunk.data, flags, at: 0 };
  }

  private zlp(): Uint8Array {
    this.zlpDue = false;
    this.lastInFull = false;
    this.stats.zeroLengthPackets++;
    return new Uint8Array(0);
  }

  private armZlp(): void {
    if (this.cancelZlpTimer || !this.ctx) return;
    this.cancelZlpTimer = this.ctx.after(this.idleZlpMs, () => {
      this.cancelZlpTimer = null;
      const idle = this.uart.rxAvailable === 0 && (!this.held || this.held.at >= this.held.data.length);
      if (this.lastInFull && idle) {
        this.zlpDue = true;
        this.ctx?.inReady(PL2303_EP_BULK_IN);
      }
    });
  }

  private cancelZlp(): void {
    this.cancelZlpTimer?.();
    this.cancelZlpTimer = null;
  }

  // ---- flow control and purges ----

  private txAllowed(): boolean {
    if (this.flowMode === 'rts-cts') return this.uart.inputs.cts;
    if (this.flowMode === 'xon-xoff') return !this.xoffed;
    return true;
  }

  private wakeGate(): void {
    for (const w of this.gateWaiters.splice(0)) w();
  }

  private seeFlowChars(bytes: Uint8Array): void {
    for (let i = bytes.length - 1; i >= 0; i--) {
      if (bytes[i] === XOFF || bytes[i] === XON) {
        const off = bytes[i] === XOFF;
        if (off !== this.xoffed) {
          this.xoffed = off;
          if (!off) this.wakeGate();
        }
        return;
      }
    }
  }

  /** RTS out = what the host set, dropped while RTS/CTS is on and the RX FIFO is nearly full. */
  private updateRts(force = false): void {
    const size = this.uart.rxFifoSize;
    const fill = this.uart.rxAvailable;
    if (this.flowMode === 'rts-cts') {
      if (!this.rxHigh && fill >= size - Math.max(1, size >> 3)) this.rxHigh = true;
      else if (this.rxHigh && fill <= size >> 1) this.rxHigh = false;
    } else {
      this.rxHigh = false;
    }
    const rts = this.hostRts && !this.rxHigh;
    if (force || this.uart.outputs.rts !== rts) this.uart.setOutputs({ rts });
  }

  private purgeTx(): void {
    this.stats.purges.tx++;
    this.txEpoch++;
    this.uart.flushTx();
    this.wakeGate();
  }

  private purgeRx(): void {
    this.stats.purges.rx++;
    this.uart.flushRx();
    this.held = null;
    this.errorSeq = 0;
    this.overrunSeq = 0;
    this.overrunsSeen = this.uart.stats.overruns;
    this.overrunUnflagged = false;
    this.updateRts();
  }
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}
