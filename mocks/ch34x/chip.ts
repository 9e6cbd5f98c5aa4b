// An emulated CH340/CH341: the vendor requests Linux's ch341.c uses (device recipient), a register
// file, the prescaler/divisor pair run as the chip decodes it (baud.ts), the LCR (framing taken
// from it on versions 0x30 and up; older chips keep 8N1), modem control active-low, the interrupt
// status packet, and break through register 0x05 with the LCR TX-enable bit.
//
// Modelling choices (the chip is undocumented; unverified):
// - a version above 0x27 without the 0x80 flag in register 0x12 holds received data until 32
//   bytes (a full packet) are in, as Linux's comment describes;
// - a WRITE_REG whose baud pair the chip cannot run stalls and keeps the old registers;
// - the quirky part has no register 0x05: any READ_REG/WRITE_REG naming it stalls;
// - received bytes with line errors are passed on as received (the chip has no error path);
// - changes of the modem inputs not yet reported merge into one packet with the multiple-change bit;
// - a bulk IN transfer that stopped on a full packet is ended by a zero-length packet once the chip
//   has had nothing to send for 1 ms. Linux's ch341 reads 512-byte transfers (bulk_in_size), which
//   complete only on a short packet or when full, so a chip that merely paused after a full
//   packet would leave those bytes in the host's transfer until more came.
import type { ControlReply, ControlSetup, InReply, MockBehaviour, MockDeviceContext, OutReply } from '../device.ts';
import { UartPort, type InputPins, type LineSettings, type UartPortOptions } from '../uart.ts';
import { ch34xChipBaud, Ch34xChipBaudRejected } from './baud.ts';
import { CH34X_EP_BULK_IN, CH34X_EP_BULK_OUT, CH34X_EP_INTERRUPT_IN, type Ch34xPartInfo } from './parts.ts';

export interface Ch34xChipRefusal {
  readonly bRequest: number;
  readonly wValue: number;
  readonly wIndex: number;
  readonly reason: string;
}

export interface Ch34xChipOptions {
  uart?: UartPortOptions;
}

const PARITY = ['odd', 'even', 'mark', 'space'] as const;

export class Ch34xChip implements MockBehaviour {
  readonly uart: UartPort;
  readonly refusals: Ch34xChipRefusal[] = [];
  readonly rejectedBauds: Ch34xChipBaudRejected[] = [];
  readonly registers = new Map<number, number>();
  readonly stats = { serialInits: 0, interruptPackets: 0, zeroLengthPackets: 0 };
  private ctx: MockDeviceContext | null = null;
  private dtr = false;
  private rts = false;
  private pendingStatus: { mult: boolean } | null = null;
  private gate: (() => void)[] = [];
  private power = 0;
  /** The last bulk IN packet was a full one: the transfer it went into may still be open. */
  private lastFull = false;
  private zlpDue = false;
  private cancelZlp: (() => void) | null = null;

  constructor(readonly part: Ch34xPartInfo, options: Ch34xChipOptions = {}) {
    this.uart = new UartPort({ name: `ch34x-${part.part.toLowerCase()}`, ...options.uart });
    this.powerOn();
    this.uart.onRx(() => {
      if (!(this.reg(0x18) & 0x80)) this.uart.flushRx(); // receiver off
      this.ctx?.inReady(CH34X_EP_BULK_IN);
    });
    this.uart.onInputsChange(() => this.statusChanged());
  }

  get version(): number {
    return this.part.version;
  }

  get lineSettings(): Readonly<LineSettings> {
    return this.uart.settings;
  }

  get controlLines(): { dtr: boolean; rts: boolean; brk: boolean } {
    return { dtr: this.dtr, rts: this.rts, brk: this.uart.outputs.brk };
  }

  // ---- MockBehaviour ----

  bind(ctx: MockDeviceContext): void {
    this.ctx = ctx;
  }

  plugged(): void {
    this.power++;
    this.powerOn();
  }

  unplugged(): void {
    this.power++;
    this.uart.reset();
    this.dtr = this.rts = false;
    this.pendingStatus = null;
    this.cancelZlp?.();
    this.cancelZlp = null;
    this.lastFull = this.zlpDue = false;
    this.wake();
  }

  onControl(s: ControlSetup, data: Uint8Array | undefined): ControlReply {
    if (s.requestType === 'standard') return undefined;
    if (s.requestType !== 'vendor' || s.recipient !== 'device') return this.refuse(s, 'CH34x takes vendor requests to the device');
    if (s.direction === 'out' && data && data.length > 0) return this.refuse(s, 'CH34x requests have no OUT data stage');
    const dirIs = (d: 'in' | 'out') => s.direction === d;
    switch (s.bRequest) {
      case 0x5f: // READ_VERSION
        if (!dirIs('in') || s.wLength < 2) return this.refuse(s, 'READ_VERSION is an IN request of 2 bytes');
        return Uint8Array.of(this.part.version, 0x00);
      case 0xa1: // SERIAL_INIT
        if (!dirIs('out')) return this.refuse(s, 'SERIAL_INIT is OUT');
        this.stats.serialInits++;
        this.powerOn();
        return 'ack';
      case 0x95: {
        // READ_REG: two registers, [regA, regB]
        if (!dirIs('in') || s.wLength < 2) return this.refuse(s, 'READ_REG is an IN request of 2 bytes');
        const a = s.wValue & 0xff;
        const b = s.wValue >> 8;
        if (this.part.quirky && (a === 0x05 || b === 0x05)) return this.refuse(s, 'this part has no register 0x05');
        return Uint8Array.of(this.readReg(a), this.readReg(b));
      }
      case 0x9a: // WRITE_REG
        if (!dirIs('out')) return this.refuse(s, 'WRITE_REG is OUT');
        return this.writeRegs(s);
      case 0xa4: // MODEM_CTRL, active low
        if (!dirIs('out')) return this.refuse(s, 'MODEM_CTRL is OUT');
        this.dtr = !(s.wValue & 0x20);
        this.rts = !(s.wValue & 0x40);
        this.uart.setOutputs({ dtr: this.dtr, rts: this.rts });
        return 'ack';
      default:
        return this.refuse(s, `unknown request 0x${s.bRequest.toString(16)}`);
    }
  }

  async onOut(ep: number, data: Uint8Array): Promise<OutReply> {
    if (ep !== CH34X_EP_BULK_OUT) return 'stall';
    const power = this.power;
    while (!(this.reg(0x18) & 0x40)) {
      await new Promise<void>((r) => this.gate.push(r));
      if (power !== this.power) return;
    }
    await this.uart.write(data);
  }

  onIn(ep: number, max: number): InReply {
    if (ep === CH34X_EP_INTERRUPT_IN) {
      const st = this.pendingStatus;
      if (!st) return undefined;
      this.pendingStatus = null;
      this.stats.interruptPackets++;
      return Uint8Array.of(0x08, st.mult ? 0x04 : 0x00, this.statusByte(), 0xee).subarray(0, max);
    }
    if (ep !== CH34X_EP_BULK_IN) return 'stall';
    if (this.zlpDue) {
      this.zlpDue = this.lastFull = false;
      this.stats.zeroLengthPackets++;
      return new Uint8Array(0);
    }
    if (!this.sendable()) {
      if (this.lastFull) this.armZlp();
      return undefined;
    }
    const data = this.uart.read(max).data;
    this.lastFull = data.length === max;
    return data;
  }

  /** Received bytes the chip sends now: a version above 0x27 without the 0x80 flag in register 0x12 holds them until 32 are in. */
  private sendable(): boolean {
    const n = this.uart.rxAvailable;
    return n > 0 && !(this.part.version > 0x27 && !(this.reg(0x12) & 0x80) && n < 32);
  }

  private armZlp(): void {
    if (this.cancelZlp || !this.ctx) return;
    this.cancelZlp = this.ctx.after(1, () => {
      this.cancelZlp = null;
      if (this.lastFull && !this.sendable()) {
        this.zlpDue = true;
        this.ctx?.inReady(CH34X_EP_BULK_IN);
      }
    });
  }

  // ---- registers ----

  private reg(r: number): number {
    return this.registers.get(r) ?? 0;
  }

  private readReg(r: number): number {
    if (r === 0x06) return this.statusByte();
    if (r === 0x07) return 0xee;
    return this.reg(r);
  }

  /** Modem inputs, inverted: a clear bit is an asserted line (CTS 0x01, DSR 0x02, RI 0x04, DCD 0x08). */
  private statusByte(): number {
    const i: Readonly<InputPins> = this.uart.inputs;
    return ~((i.cts ? 0x01 : 0) | (i.dsr ? 0x02 : 0) | (i.ri ? 0x04 : 0) | (i.dcd ? 0x08 : 0)) & 0xff;
  }

  private statusChanged(): void {
    this.pendingStatus = { mult: this.pendingStatus !== null };
    this.ctx?.inReady(CH34X_EP_INTERRUPT_IN);
  }

  private powerOn(): void {
    this.registers.clear();
    if (!this.part.quirky) this.registers.set(0x05, 0x01);
    this.registers.set(0x12, 0x02); // 9600: ps 2, fact 0, divisor 78
    this.registers.set(0x13, 0xb2);
    this.registers.set(0x18, 0xc3);
    this.registers.set(0x25, 0x00);
    this.uart.setSettings({ baudRate: ch34xChipBaud(0x02, 0xb2), dataBits: 8, parity: 'none', stopBits: 1 });
    this.uart.setOutputs({ brk: false });
  }

  private writeRegs(s: ControlSetup): ControlReply {
    const pairs: [number, number][] = [[s.wValue & 0xff, s.wIndex & 0xff], [s.wValue >> 8, s.wIndex >> 8]];
    if (this.part.quirky && pairs.some(([r]) => r === 0x05)) return this.refuse(s, 'this part has no register 0x05');
    const next = new Map(this.registers);
    for (const [r, v] of pairs) next.set(r, v);
    let rate = this.uart.settings.baudRate;
    if (pairs.some(([r]) => r === 0x12 || r === 0x13)) {
      try {
        rate = ch34xChipBaud(next.get(0x12) ?? 0, next.get(0x13) ?? 0, this.part.quirky);
      } catch (err) {
        if (!(err instanceof Ch34xChipBaudRejected)) throw err;
        this.rejectedBauds.push(err);
        return this.refuse(s, err.message);
      }
    }
    for (const [r, v] of pairs) this.registers.set(r, v);
    this.uart.setSettings({ baudRate: rate });
    const lcr = this.reg(0x18);
    if (this.part.version >= 0x30) {
      this.uart.setSettings({
        dataBits: ((lcr & 0x03) + 5) as 5 | 6 | 7 | 8,
        parity: lcr & 0x08 ? PARITY[(lcr >> 4) & 0x03] : 'none',
        stopBits: lcr & 0x04 ? 2 : 1,
      });
    }
    const breaking = this.part.quirky ? false : !(this.reg(0x05) & 0x01);
    if (this.uart.outputs.brk !== breaking) this.uart.setOutputs({ brk: breaking });
    this.wake();
    return 'ack';
  }

  private wake(): void {
    for (const w of this.gate.splice(0)) w();
  }

  private refuse(s: ControlSetup, reason: string): 'stall' {
    this.refusals.push({ bRequest: s.bRequest, wValue: s.wValue, wIndex: s.wIndex, reason });
    return 'stall';
  }
}
