// An emulated CDC-ACM function (USB CDC PSTN120): SET/GET_LINE_CODING run the UART at the rate
// and framing the host sets, SET_CONTROL_LINE_STATE drives DTR/RTS, SEND_BREAK (only when the
// board reports the capability) holds the line low for wValue ms or until SEND_BREAK(0), and
// SERIAL_STATE notifications report DCD/DSR and, once each, ring, break, framing, parity and
// overrun. A notification longer than the interrupt endpoint's packet goes out in pieces.
//
// Modelling choices (device-specific in reality; unverified):
// - a break received from the line is reported in SERIAL_STATE only; its NUL is not put into the
//   data stream (Linux inserts its own); bytes with framing/parity errors and after an overrun
//   are passed on, and the error goes out in a notification;
// - 16 data bits (allowed by the spec) stall: the emulated UART carries 5-8;
// - the Pico's reset interface records its vendor requests and acks them;
// - a bulk IN transfer that stopped on a full packet is ended by a zero-length packet after 1 ms idle;
// - a board whose firmware sends no SERIAL_STATE (the Uno's, boards.ts) never notifies: its input
//   lines and line errors stay on the board; the option `serialState` overrides the board's
//   (a firmware of one's own on the same board).
import type { ControlReply, ControlSetup, InReply, MockBehaviour, MockDeviceContext, OutReply } from '../device.ts';
import { UartPort, type InputPins, type LineSettings, type UartPortOptions } from '../uart.ts';
import type { CdcAcmBoardInfo } from './boards.ts';

export interface CdcAcmChipRefusal {
  readonly bmRequestType: number;
  readonly bRequest: number;
  readonly wValue: number;
  readonly wIndex: number;
  readonly reason: string;
}

export interface CdcAcmChipOptions {
  uart?: UartPortOptions;
  /** Send SERIAL_STATE notifications (default: what the board's firmware does). */
  serialState?: boolean;
}

const STATE_DCD = 0x01;
const STATE_DSR = 0x02;
const STATE_BREAK = 0x04;
const STATE_RING = 0x08;
const STATE_FRAMING = 0x10;
const STATE_PARITY = 0x20;
const STATE_OVERRUN = 0x40;

export class CdcAcmChip implements MockBehaviour {
  readonly uart: UartPort;
  readonly refusals: CdcAcmChipRefusal[] = [];
  readonly resetRequests: { bRequest: number; wValue: number }[] = [];
  readonly stats = { notifications: 0, breaks: 0 };
  private ctx: MockDeviceContext | null = null;
  private line = Uint8Array.of(0x80, 0x25, 0, 0, 0, 0, 8);
  private dtr = false;
  private rts = false;
  private breakOn = false;
  private cancelBreak: (() => void) | null = null;
  /** Notifications not yet sent, each its own transfer (a short or zero-length packet ends it). */
  private notes: number[][] = [];
  private out: number[] = [];
  private lastFull = false;
  private zlpDue = false;
  private zlpTimer: (() => void) | null = null;
  /** Whether this function sends SERIAL_STATE notifications. */
  readonly serialState: boolean;

  constructor(readonly board: CdcAcmBoardInfo, options: CdcAcmChipOptions = {}) {
    this.serialState = options.serialState ?? board.serialState;
    this.uart = new UartPort({ name: `cdc-acm-${board.board}`, ...options.uart });
    this.uart.onRx(() => this.ctx?.inReady(board.bulkIn));
    this.uart.onInputsChange((i, changed) => this.notify(this.lines(i) | (changed.includes('ri') && i.ri ? STATE_RING : 0)));
  }

  get lineCoding(): Uint8Array {
    return this.line.slice();
  }

  get lineSettings(): Readonly<LineSettings> {
    return this.uart.settings;
  }

  get controlLines(): { dtr: boolean; rts: boolean; brk: boolean } {
    return { dtr: this.dtr, rts: this.rts, brk: this.breakOn };
  }

  bind(ctx: MockDeviceContext): void {
    this.ctx = ctx;
  }

  plugged(): void {
    this.notify(this.lines(this.uart.inputs));
  }

  unplugged(): void {
    this.cancelBreak = null;
    this.zlpTimer = null;
    this.notes = [];
    this.out = [];
    this.dtr = this.rts = this.breakOn = this.lastFull = this.zlpDue = false;
    this.line = Uint8Array.of(0x80, 0x25, 0, 0, 0, 0, 8);
    this.uart.reset();
    this.uart.setSettings({ baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });
  }

  onControl(s: ControlSetup, data: Uint8Array | undefined): ControlReply {
    if (s.requestType === 'standard') return undefined;
    if (s.requestType === 'vendor' && s.recipient === 'interface' && this.board.resetInterface !== null && (s.wIndex & 0xff) === this.board.resetInterface) {
      if (s.bRequest !== 0x01 && s.bRequest !== 0x02) return this.refuse(s, 'the reset interface takes requests 0x01 and 0x02');
      this.resetRequests.push({ bRequest: s.bRequest, wValue: s.wValue });
      return 'ack';
    }
    if (s.requestType !== 'class' || s.recipient !== 'interface') return this.refuse(s, 'not a CDC class request to an interface');
    if ((s.wIndex & 0xff) !== this.board.commInterface) return this.refuse(s, `CDC requests go to interface ${this.board.commInterface}`);
    switch (s.bRequest) {
      case 0x20: // SET_LINE_CODING
        if (s.direction !== 'out' || !data || data.length !== 7) return this.refuse(s, 'SET_LINE_CODING carries 7 bytes');
        return this.setLine(s, data);
      case 0x21:
        if (s.direction !== 'in' || s.wLength < 7) return this.refuse(s, 'GET_LINE_CODING reads 7 bytes');
        return this.line.slice();
      case 0x22: // SET_CONTROL_LINE_STATE
        if (s.direction !== 'out' || (data?.length ?? 0) > 0) return this.refuse(s, 'SET_CONTROL_LINE_STATE has no data stage');
        if (s.wValue & ~0x03) return this.refuse(s, 'SET_CONTROL_LINE_STATE has bits 0-1 only');
        this.dtr = !!(s.wValue & 1);
        this.rts = !!(s.wValue & 2);
        this.uart.setOutputs({ dtr: this.dtr, rts: this.rts });
        return 'ack';
      case 0x23: // SEND_BREAK
        if (!(this.board.capabilities & 0x04)) return this.refuse(s, 'the board does not report the break capability');
        if (s.direction !== 'out') return this.refuse(s, 'SEND_BREAK is OUT');
        this.cancelBreak?.();
        this.cancelBreak = null;
        this.setBreak(s.wValue !== 0);
        if (s.wValue !== 0 && s.wValue !== 0xffff && this.ctx) {
          this.cancelBreak = this.ctx.after(s.wValue, () => {
            this.cancelBreak = null;
            this.setBreak(false);
          });
        }
        return 'ack';
      default:
        return this.refuse(s, `class request 0x${s.bRequest.toString(16)} is not an ACM request`);
    }
  }

  async onOut(ep: number, data: Uint8Array): Promise<OutReply> {
    if (ep !== this.board.bulkOut) return 'stall';
    await this.uart.write(data);
  }

  onIn(ep: number, max: number): InReply {
    if (ep === this.board.notifyEndpoint) {
      // One notification per transfer, in packets of the endpoint's size, as LUFA's
      // CDC_Device_SendControlLineStateChange writes it: two are never packed into one packet.
      const note = this.notes[0];
      if (!note) return undefined;
      const pkt = Uint8Array.from(note.splice(0, Math.min(max, this.board.notifyPacket)));
      if (note.length === 0) this.notes.shift();
      return pkt;
    }
    if (ep !== this.board.bulkIn) return 'stall';
    if (this.zlpDue) {
      this.zlpDue = this.lastFull = false;
      return new Uint8Array(0);
    }
    if (this.out.length < max && this.uart.rxAvailable > 0) this.fill(max);
    if (this.out.length === 0) {
      if (this.lastFull && !this.zlpTimer && this.ctx) {
        this.zlpTimer = this.ctx.after(1, () => {
          this.zlpTimer = null;
          if (this.lastFull && this.out.length === 0 && this.uart.rxAvailable === 0) {
            this.zlpDue = true;
            this.ctx?.inReady(ep);
          }
        });
      }
      return undefined;
    }
    const pkt = Uint8Array.from(this.out.splice(0, max));
    this.lastFull = pkt.length === max;
    return pkt;
  }

  private fill(max: number): void {
    const chunk = this.uart.read(max);
    const drop = new Set<number>();
    let events = 0;
    for (const e of chunk.errors) {
      if (e.kind === 'break') {
        events |= STATE_BREAK;
        drop.add(e.offset);
      } else events |= e.kind === 'framing' ? STATE_FRAMING : e.kind === 'parity' ? STATE_PARITY : STATE_OVERRUN;
    }
    chunk.data.forEach((b, k) => drop.has(k) || this.out.push(b));
    if (events) this.notify(this.lines(this.uart.inputs) | events);
  }

  private setLine(s: ControlSetup, data: Uint8Array): ControlReply {
    const baud = new DataView(data.buffer, data.byteOffset, 7).getUint32(0, true);
    const stop = ([1, 1.5, 2] as const)[data[4]];
    const parity = (['none', 'odd', 'even', 'mark', 'space'] as const)[data[5]];
    const bits = data[6];
    if (baud === 0) return this.refuse(s, 'dwDTERate 0');
    if (stop === undefined) return this.refuse(s, `bCharFormat ${data[4]}`);
    if (parity === undefined) return this.refuse(s, `bParityType ${data[5]}`);
    if (bits !== 5 && bits !== 6 && bits !== 7 && bits !== 8) return this.refuse(s, `bDataBits ${bits}`);
    this.line = data.slice();
    this.uart.setSettings({ baudRate: baud, dataBits: bits, parity, stopBits: stop });
    return 'ack';
  }

  private setBreak(on: boolean): void {
    if (on && !this.breakOn) this.stats.breaks++;
    this.breakOn = on;
    this.uart.setOutputs({ brk: on });
  }

  private lines(i: Readonly<InputPins>): number {
    return (i.dcd ? STATE_DCD : 0) | (i.dsr ? STATE_DSR : 0);
  }

  private notify(state: number): void {
    if (!this.serialState) return;
    const n = this.board.commInterface;
    this.notes.push([0xa1, 0x20, 0, 0, n, 0, 2, 0, state & 0xff, state >> 8]);
    this.stats.notifications++;
    this.ctx?.inReady(this.board.notifyEndpoint);
  }

  private refuse(s: ControlSetup, reason: string): 'stall' {
    this.refusals.push({ bmRequestType: s.bmRequestType, bRequest: s.bRequest, wValue: s.wValue, wIndex: s.wIndex, reason });
    return 'stall';
  }
}
