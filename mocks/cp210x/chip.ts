// An emulated CP210x: one UART per interface, the vendor requests of AN571 as each port answers
// them (wIndex = the port's interface number), the baud value run as the part computes it
// (baud.ts), modem handshake, the flow-control structure, special characters, purge, comm status,
// and line errors and modem changes inserted into the bulk IN stream after the escape character
// once EMBED_EVENTS has set one.
//
// Modelling choices (not documented by the vendor; unverified):
// - while IFC_ENABLE(0) holds, the port's UART is off: bulk OUT waits (NAK) and received bytes are
//   dropped; configuration requests are still taken;
// - a SET_BAUDRATE value the part cannot run stalls and keeps the old rate;
// - XON/XOFF received under auto-transmit stop and restart TX and stay in the data stream;
// - a bulk IN transfer that stopped on a full packet is ended by a zero-length packet after 1 ms idle.
import type { ControlReply, ControlSetup, InReply, MockBehaviour, MockDeviceContext, OutReply } from '../device.ts';
import { UartPort, type InputPins, type LineSettings, type UartPortOptions } from '../uart.ts';
import { cp210xChipBaud, Cp210xChipBaudRejected } from './baud.ts';
import type { Cp210xPartInfo, Cp210xPortModel } from './parts.ts';

export const CP210X_REQ = Object.freeze({
  IFC_ENABLE: 0x00, SET_LINE_CTL: 0x03, GET_LINE_CTL: 0x04, SET_BREAK: 0x05, SET_MHS: 0x07, GET_MDMSTS: 0x08,
  GET_CHARS: 0x0e, GET_COMM_STATUS: 0x10, PURGE: 0x12, SET_FLOW: 0x13, GET_FLOW: 0x14, EMBED_EVENTS: 0x15,
  SET_CHARS: 0x19, GET_BAUDRATE: 0x1d, SET_BAUDRATE: 0x1e, VENDOR_SPECIFIC: 0xff,
} as const);

// ulErrors bits (AN571 GET_COMM_STATUS).
const ERR_BREAK = 0x01;
const ERR_FRAMING = 0x02;
const ERR_OVERRUN = 0x04;
const ERR_PARITY = 0x10;
// LSR bits of an inserted event.
const LSR_OVERRUN = 0x02;
const LSR_PARITY = 0x04;
const LSR_FRAME = 0x08;
const LSR_BREAK = 0x10;

export interface Cp210xChipRefusal {
  readonly bmRequestType: number;
  readonly bRequest: number;
  readonly wValue: number;
  readonly wIndex: number;
  readonly reason: string;
}

export interface Cp210xChipOptions {
  uart?: UartPortOptions;
  /**
   * A counterfeit CP2102: GET_PARTNUM asked for 2 bytes answers 1 (genuine parts answer 2; the
   * second byte here is a stand-in 0), and EMBED_EVENTS stalls. Linux's `cp2102_determine_quirks`
   * uses the short answer to stay out of event mode.
   */
  counterfeit?: boolean;
}

/** The flow structure of SET_FLOW / GET_FLOW, decoded. */
export interface Cp210xFlow {
  dtrMode: number;
  ctsHandshake: boolean;
  dsrHandshake: boolean;
  autoTransmit: boolean;
  autoReceive: boolean;
  rtsMode: number;
  xonLimit: number;
  xoffLimit: number;
}

/** One port (interface) of the chip. */
export class Cp210xEmulatedPort {
  readonly uart: UartPort;
  enabled = false;
  lineCtl = 0x0800;
  baudValue = 9600;
  /** The 16 bytes of the flow structure (power-on: DTR and RTS modes 0, limits 0x80). */
  flowBytes = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0);
  chars = Uint8Array.of(0, 0, 0, 0, 0x11, 0x13);
  escape = 0;
  breakOn = false;
  errors = 0;
  purges = { tx: 0, rx: 0 };
  /** Encoded bytes waiting for the bulk IN endpoint. */
  out: number[] = [];
  lastFull = false;
  zlpDue = false;
  cancelZlp: (() => void) | null = null;
  xoffed = false;
  txEpoch = 0;
  gate: (() => void)[] = [];
  dtr = false;
  rts = false;

  constructor(readonly index: number, readonly model: Cp210xPortModel, uart: UartPortOptions | undefined) {
    this.uart = new UartPort({ name: `cp210x-${index}`, ...uart });
  }

  get flow(): Cp210xFlow {
    const v = new DataView(this.flowBytes.buffer);
    const hs = v.getUint32(0, true);
    const fr = v.getUint32(4, true);
    return { dtrMode: hs & 3, ctsHandshake: !!(hs & 0x08), dsrHandshake: !!(hs & 0x10), autoTransmit: !!(fr & 1), autoReceive: !!(fr & 2), rtsMode: (fr >> 6) & 3, xonLimit: v.getUint32(8, true), xoffLimit: v.getUint32(12, true) };
  }

  get lineSettings(): Readonly<LineSettings> {
    return this.uart.settings;
  }

  txAllowed(): boolean {
    if (!this.enabled) return false;
    const f = this.flow;
    if (f.ctsHandshake && !this.uart.inputs.cts) return false;
    if (f.autoTransmit && this.xoffed) return false;
    return true;
  }

  wake(): void {
    for (const w of this.gate.splice(0)) w();
  }

  /** DTR/RTS pins from the modes: 0 off, 1 on, 2 handshake (RTS drops when the RX FIFO is nearly full). */
  updatePins(): void {
    const f = this.flow;
    const dtr = f.dtrMode === 2 ? true : this.dtr;
    let rts = this.rts;
    if (f.rtsMode === 2) rts = this.uart.rxAvailable < this.uart.rxFifoSize - Math.max(1, this.uart.rxFifoSize >> 3);
    const o = this.uart.outputs;
    if (o.dtr !== dtr || o.rts !== rts) this.uart.setOutputs({ dtr, rts });
  }
}

export class Cp210xChip implements MockBehaviour {
  readonly ports: readonly Cp210xEmulatedPort[];
  readonly refusals: Cp210xChipRefusal[] = [];
  readonly rejectedBauds: Cp210xChipBaudRejected[] = [];
  private ctx: MockDeviceContext | null = null;
  private power = 0;

  readonly counterfeit: boolean;

  constructor(readonly part: Cp210xPartInfo, options: Cp210xChipOptions = {}) {
    this.counterfeit = options.counterfeit ?? false;
    this.ports = part.ports.map((m, n) => new Cp210xEmulatedPort(n, m, options.uart));
    for (const p of this.ports) {
      p.uart.onRx(() => {
        if (!p.enabled) p.uart.flushRx();
        p.updatePins();
        this.ctx?.inReady(p.model.bulkIn);
      });
      p.uart.onInputsChange((inputs, changed) => {
        if (p.escape && p.enabled) {
          p.out.push(p.escape, 0x03, this.msr(p, inputs, changed));
          this.ctx?.inReady(p.model.bulkIn);
        }
        p.wake();
      });
    }
  }

  port(n = 0): Cp210xEmulatedPort {
    const p = this.ports[n];
    if (!p) throw new RangeError(`${this.part.part} has ports 0..${this.ports.length - 1}`);
    return p;
  }

  uart(n = 0): UartPort {
    return this.port(n).uart;
  }

  // ---- MockBehaviour ----

  bind(ctx: MockDeviceContext): void {
    this.ctx = ctx;
  }

  plugged(): void {
    this.power++;
  }

  unplugged(): void {
    this.power++;
    for (const p of this.ports) {
      p.enabled = false;
      p.escape = 0;
      p.out = [];
      p.breakOn = p.dtr = p.rts = p.xoffed = p.lastFull = p.zlpDue = false;
      p.cancelZlp = null;
      p.errors = 0;
      p.lineCtl = 0x0800;
      p.baudValue = 9600;
      p.uart.reset();
      p.uart.setSettings({ baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });
      p.wake();
    }
  }

  onControl(s: ControlSetup, data: Uint8Array | undefined): ControlReply {
    if (s.requestType === 'standard') return undefined;
    if (s.requestType !== 'vendor') return this.refuse(s, 'CP210x takes vendor requests only');
    if (s.bRequest === CP210X_REQ.VENDOR_SPECIFIC) return this.vendorSpecific(s);
    if (s.recipient !== 'interface') return this.refuse(s, 'port requests go to an interface');
    const p = this.ports[s.wIndex];
    if (!p) return this.refuse(s, `no interface ${s.wIndex} on ${this.part.part}`);
    const want = (dir: 'in' | 'out', len: number): string | null =>
      s.direction !== dir ? `request 0x${s.bRequest.toString(16)} is ${dir.toUpperCase()}` : dir === 'out' && (data?.length ?? 0) !== len ? `request 0x${s.bRequest.toString(16)} carries ${len} bytes` : null;
    let why: string | null;
    switch (s.bRequest) {
      case CP210X_REQ.IFC_ENABLE:
        if ((why = want('out', 0))) return this.refuse(s, why);
        if (s.wValue > 1) return this.refuse(s, 'IFC_ENABLE takes 0 or 1');
        p.enabled = s.wValue === 1;
        if (!p.enabled) {
          p.escape = 0; // disabling ends event mode
          p.uart.flushRx();
        }
        p.wake();
        return 'ack';
      case CP210X_REQ.SET_LINE_CTL:
        if ((why = want('out', 0))) return this.refuse(s, why);
        return this.setLineCtl(s, p);
      case CP210X_REQ.GET_LINE_CTL:
        if ((why = want('in', 2))) return this.refuse(s, why);
        return Uint8Array.of(p.lineCtl & 0xff, p.lineCtl >> 8);
      case CP210X_REQ.SET_BREAK:
        if ((why = want('out', 0))) return this.refuse(s, why);
        if (s.wValue > 1) return this.refuse(s, 'SET_BREAK takes 0 or 1');
        p.breakOn = s.wValue === 1;
        p.uart.setOutputs({ brk: p.breakOn });
        return 'ack';
      case CP210X_REQ.SET_MHS: {
        if ((why = want('out', 0))) return this.refuse(s, why);
        if (s.wValue & ~0x0303) return this.refuse(s, `SET_MHS has bits 0-1 and 8-9 only, got 0x${s.wValue.toString(16)}`);
        const f = p.flow;
        if (s.wValue & 0x100 && f.dtrMode !== 2) p.dtr = !!(s.wValue & 0x01);
        if (s.wValue & 0x200 && f.rtsMode !== 2) p.rts = !!(s.wValue & 0x02);
        p.updatePins();
        return 'ack';
      }
      case CP210X_REQ.GET_MDMSTS: {
        if ((why = want('in', 1))) return this.refuse(s, why);
        const o = p.uart.outputs;
        const i = p.uart.inputs;
        return Uint8Array.of((o.dtr ? 0x01 : 0) | (o.rts ? 0x02 : 0) | (i.cts ? 0x10 : 0) | (i.dsr ? 0x20 : 0) | (i.ri ? 0x40 : 0) | (i.dcd ? 0x80 : 0));
      }
      case CP210X_REQ.GET_CHARS:
        if ((why = want('in', 6))) return this.refuse(s, why);
        return p.chars.slice();
      case CP210X_REQ.SET_CHARS:
        if ((why = want('out', 6))) return this.refuse(s, why);
        p.chars = data!.slice();
        return 'ack';
      case CP210X_REQ.GET_COMM_STATUS: {
        if ((why = want('in', 19))) return this.refuse(s, why);
        const b = new Uint8Array(19);
        const v = new DataView(b.buffer);
        v.setUint32(0, p.errors, true);
        p.errors = 0; // reading clears the error bits
        const f = p.flow;
        v.setUint32(4, (f.ctsHandshake && !p.uart.inputs.cts ? 0x01 : 0) | (f.autoTransmit && p.xoffed ? 0x08 : 0), true);
        v.setUint32(8, p.uart.rxAvailable + p.out.length, true);
        v.setUint32(12, p.uart.txPending, true);
        return b;
      }
      case CP210X_REQ.PURGE:
        if ((why = want('out', 0))) return this.refuse(s, why);
        if (s.wValue & ~0x0f) return this.refuse(s, 'PURGE takes bits 0-3');
        if (s.wValue & 0x05) {
          p.purges.tx++;
          p.txEpoch++;
          p.uart.flushTx();
          p.wake();
        }
        if (s.wValue & 0x0a) {
          p.purges.rx++;
          p.uart.flushRx();
          p.out = [];
          p.updatePins();
        }
        return 'ack';
      case CP210X_REQ.SET_FLOW: {
        if ((why = want('out', 16))) return this.refuse(s, why);
        const old = p.flowBytes;
        p.flowBytes = data!.slice();
        const f = p.flow;
        if (f.dtrMode === 3 || f.rtsMode === 3) {
          p.flowBytes = old;
          return this.refuse(s, 'DTR/RTS mode 3 does not exist');
        }
        if (f.dtrMode !== 2) p.dtr = f.dtrMode === 1;
        if (f.rtsMode !== 2) p.rts = f.rtsMode === 1;
        if (!f.autoTransmit) p.xoffed = false;
        p.updatePins();
        p.wake();
        return 'ack';
      }
      case CP210X_REQ.GET_FLOW:
        if ((why = want('in', 16))) return this.refuse(s, why);
        return p.flowBytes.slice();
      case CP210X_REQ.EMBED_EVENTS:
        if ((why = want('out', 0))) return this.refuse(s, why);
        if (s.wValue > 0xff) return this.refuse(s, 'EMBED_EVENTS takes an escape byte');
        if (this.counterfeit) return this.refuse(s, 'this counterfeit part has no event insertion');
        p.escape = s.wValue;
        return 'ack';
      case CP210X_REQ.GET_BAUDRATE: {
        if ((why = want('in', 4))) return this.refuse(s, why);
        const b = new Uint8Array(4);
        new DataView(b.buffer).setUint32(0, p.baudValue, true);
        return b;
      }
      case CP210X_REQ.SET_BAUDRATE: {
        if ((why = want('out', 4))) return this.refuse(s, why);
        const value = new DataView(data!.buffer, data!.byteOffset, 4).getUint32(0, true);
        try {
          const rate = cp210xChipBaud(p.model, value);
          p.baudValue = value;
          p.uart.setSettings({ baudRate: rate });
          return 'ack';
        } catch (err) {
          if (!(err instanceof Cp210xChipBaudRejected)) throw err;
          this.rejectedBauds.push(err);
          return this.refuse(s, err.message);
        }
      }
      default:
        return this.refuse(s, `unknown request 0x${s.bRequest.toString(16)}`);
    }
  }

  async onOut(ep: number, data: Uint8Array): Promise<OutReply> {
    const p = this.ports.find((x) => x.model.bulkOut === ep);
    if (!p) return 'stall';
    const epoch = p.txEpoch;
    const power = this.power;
    for (let at = 0; at < data.length; ) {
      while (!p.txAllowed()) {
        await new Promise<void>((r) => p.gate.push(r));
        if (epoch !== p.txEpoch || power !== this.power) return;
      }
      const n = p.flow.ctsHandshake || p.flow.autoTransmit ? Math.min(16, data.length - at) : data.length - at;
      await p.uart.write(data.subarray(at, at + n));
      if (epoch !== p.txEpoch || power !== this.power) return;
      at += n;
    }
  }

  onIn(ep: number, max: number): InReply {
    const p = this.ports.find((x) => x.model.bulkIn === ep);
    if (!p) return 'stall';
    if (p.zlpDue) {
      p.zlpDue = p.lastFull = false;
      return new Uint8Array(0);
    }
    if (p.out.length < max && p.uart.rxAvailable > 0) this.fill(p, max);
    if (p.out.length === 0) {
      if (p.lastFull && !p.cancelZlp && this.ctx) {
        p.cancelZlp = this.ctx.after(1, () => {
          p.cancelZlp = null;
          if (p.lastFull && p.out.length === 0 && p.uart.rxAvailable === 0) {
            p.zlpDue = true;
            this.ctx?.inReady(ep);
          }
        });
      }
      return undefined;
    }
    const pkt = Uint8Array.from(p.out.splice(0, max));
    p.lastFull = pkt.length === max;
    p.updatePins();
    return pkt;
  }

  // ---- internals ----

  private vendorSpecific(s: ControlSetup): ControlReply {
    if (s.direction !== 'in') return this.refuse(s, 'this emulation answers VENDOR_SPECIFIC reads only');
    switch (s.wValue) {
      case 0x370b: // GET_PARTNUM
        return this.counterfeit ? Uint8Array.of(this.part.partnum) : Uint8Array.of(this.part.partnum, 0x00);
      case 0x000e: // GET_FW_VER (CP2105/CP2108)
        if (this.part.part === 'CP2105' || this.part.part === 'CP2108') return Uint8Array.from(this.part.firmware ?? []);
        return this.refuse(s, `${this.part.part} has no GET_FW_VER`);
      case 0x0010: // GET_FW_VER_2N
        if (this.part.part === 'CP2102N') return Uint8Array.from(this.part.firmware ?? []);
        return this.refuse(s, 'GET_FW_VER_2N is a CP2102N request');
      // CP2105's pin set-up, which Linux reads at attach (`cp2105_gpioconf_init`): the mode of
      // each interface's shared pins, then the 15-byte dual-port configuration. Modelled as both
      // interfaces in modem mode (0: the pins are the modem lines this emulation runs; Linux then
      // reserves every GPIO), and a configuration of zeros (no LED or RS-485 functions; stand-in
      // values, unverified against a programmed part).
      case 0x3711: // GET_DEVICEMODE
        if (this.part.part !== 'CP2105') return this.refuse(s, 'GET_DEVICEMODE is a CP2105 request');
        return Uint8Array.of(0x00, 0x00);
      case 0x370c: // GET_PORTCONFIG
        if (this.part.part !== 'CP2105') return this.refuse(s, `GET_PORTCONFIG is not emulated on ${this.part.part}`);
        return new Uint8Array(15);
      default:
        return this.refuse(s, `VENDOR_SPECIFIC 0x${s.wValue.toString(16)} is not emulated`);
    }
  }

  private setLineCtl(s: ControlSetup, p: Cp210xEmulatedPort): ControlReply {
    const stop = ([1, 1.5, 2] as const)[s.wValue & 0x0f];
    const parity = (['none', 'odd', 'even', 'mark', 'space'] as const)[(s.wValue >> 4) & 0x0f];
    const bits = s.wValue >> 8;
    if (stop === undefined) return this.refuse(s, `stop-bit code ${s.wValue & 0x0f}`);
    if (parity === undefined) return this.refuse(s, `parity code ${(s.wValue >> 4) & 0x0f}`);
    if (bits !== 5 && bits !== 6 && bits !== 7 && bits !== 8) return this.refuse(s, `${bits} data bits`);
    if (p.model.eightBitOnly && (bits !== 8 || stop !== 1 || parity === 'mark' || parity === 'space')) {
      return this.refuse(s, 'CP2101 runs 8 data bits, 1 stop bit, no mark/space parity only');
    }
    p.lineCtl = s.wValue;
    p.uart.setSettings({ dataBits: bits, parity, stopBits: stop });
    return 'ack';
  }

  /** Moves received bytes into the outgoing stream, escaping and inserting LSR events in event mode. */
  private fill(p: Cp210xEmulatedPort, max: number): void {
    const chunk = p.uart.read(max);
    const lsrAt = new Map<number, number>();
    for (const e of chunk.errors) {
      const bit = e.kind === 'break' ? LSR_BREAK : e.kind === 'parity' ? LSR_PARITY : e.kind === 'framing' ? LSR_FRAME : LSR_OVERRUN;
      lsrAt.set(e.offset, (lsrAt.get(e.offset) ?? 0) | bit);
      p.errors |= e.kind === 'break' ? ERR_BREAK : e.kind === 'parity' ? ERR_PARITY : e.kind === 'framing' ? ERR_FRAMING : ERR_OVERRUN;
    }
    const f = p.flow;
    chunk.data.forEach((b, k) => {
      if (f.autoTransmit && (b === p.chars[4] || b === p.chars[5])) {
        p.xoffed = b === p.chars[5];
        if (!p.xoffed) p.wake();
      }
      const lsr = lsrAt.get(k);
      if (!p.escape) p.out.push(b);
      else if (lsr !== undefined) p.out.push(p.escape, 0x01, lsr, b);
      else if (b === p.escape) p.out.push(p.escape, 0x00);
      else p.out.push(b);
    });
  }

  /** A 16550-style MSR byte: delta bits 0-3 for what changed, states 4-7. */
  private msr(_p: Cp210xEmulatedPort, i: Readonly<InputPins>, changed: (keyof InputPins)[]): number {
    return (changed.includes('cts') ? 0x01 : 0) | (changed.includes('dsr') ? 0x02 : 0) | (changed.includes('ri') && !i.ri ? 0x04 : 0) | (changed.includes('dcd') ? 0x08 : 0) |
      (i.cts ? 0x10 : 0) | (i.dsr ? 0x20 : 0) | (i.ri ? 0x40 : 0) | (i.dcd ? 0x80 : 0);
  }

  private refuse(s: ControlSetup, reason: string): 'stall' {
    this.refusals.push({ bmRequestType: s.bmRequestType, bRequest: s.bRequest, wValue: s.wValue, wIndex: s.wIndex, reason });
    this.ctx?.log.debug({ bRequest: s.bRequest, reason }, 'emulated CP210x stalls a request');
    return 'stall';
  }
}
