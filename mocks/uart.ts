// Emulated UART pins and the wires between them. A chip emulation owns a UartPort: it transmits
// bytes at the port's line settings, drives DTR/RTS/break, reads CTS/DSR/DCD/RI, and drains a
// bounded RX FIFO that carries line errors. Wires (a loopback plug, a null-modem cable) connect
// ports; when the two ends disagree on settings, the receiver sees what a real line gives, because
// mismatched frames are simulated bit by bit (sampled mid-bit at the receiver's rate).
import { UartError } from './errors.ts';

export type Parity = 'none' | 'odd' | 'even' | 'mark' | 'space';

export interface LineSettings {
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: Parity;
  stopBits: 1 | 1.5 | 2;
}

export type LineErrorKind = 'framing' | 'parity' | 'break' | 'overrun';

/** A line error attached to the byte at `offset` of a chunk (a break is a 0x00 byte, as Linux's tty shows it). */
export interface RxErrorMark {
  readonly offset: number;
  readonly kind: LineErrorKind;
}

export interface RxChunk {
  readonly data: Uint8Array;
  /** In offset order; an overrun mark sits on the first byte stored after bytes were lost. */
  readonly errors: readonly RxErrorMark[];
}

export interface OutputPins {
  dtr: boolean;
  rts: boolean;
  /** Break: TX held low. */
  brk: boolean;
}

export interface InputPins {
  cts: boolean;
  dsr: boolean;
  dcd: boolean;
  ri: boolean;
}

export interface UartStats {
  txBytes: number;
  rxBytes: number;
  /** Bytes lost because the RX FIFO was full. */
  overruns: number;
  framingErrors: number;
  parityErrors: number;
  breaks: number;
}

export interface UartPortOptions {
  name?: string;
  settings?: Partial<LineSettings>;
  /** RX FIFO capacity in bytes (default 256). */
  rxFifoSize?: number;
  /**
   * Paced: a byte takes (bits per char / baud) seconds to cross and arrives whether or not the
   * receiver has room (a full FIFO overruns). Unpaced (default): bytes cross at once, but only as
   * fast as the receiving FIFO drains, so nothing is lost (what benchmarks want).
   */
  pacing?: boolean;
}

export const DEFAULT_LINE_SETTINGS: Readonly<LineSettings> = Object.freeze({ baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });

const F_FRAMING = 1;
const F_PARITY = 2;
const F_BREAK = 4;
const F_OVERRUN = 8;

/** Bits one character occupies on the line: start + data + parity + stop. */
export function bitsPerChar(s: LineSettings): number {
  return 1 + s.dataBits + (s.parity === 'none' ? 0 : 1) + s.stopBits;
}

function checkSettings(s: LineSettings): LineSettings {
  if (!(s.baudRate > 0) || !Number.isFinite(s.baudRate)) throw new UartError(`baud rate must be > 0, got ${s.baudRate}`);
  if (![5, 6, 7, 8].includes(s.dataBits)) throw new UartError(`data bits must be 5-8, got ${s.dataBits}`);
  if (!['none', 'odd', 'even', 'mark', 'space'].includes(s.parity)) throw new UartError(`unknown parity ${String(s.parity)}`);
  if (![1, 1.5, 2].includes(s.stopBits)) throw new UartError(`stop bits must be 1, 1.5 or 2, got ${s.stopBits}`);
  return s;
}

function parityBit(value: number, dataBits: number, parity: Parity): number {
  let ones = 0;
  for (let k = 0; k < dataBits; k++) ones += (value >> k) & 1;
  switch (parity) {
    case 'even':
      return ones & 1;
    case 'odd':
      return (ones & 1) ^ 1;
    case 'mark':
      return 1;
    default:
      return 0;
  }
}

/** What crosses the line for one write: received bytes, their error flags, arrival times (s from start). */
interface LineOutput {
  bytes: Uint8Array;
  flags: Uint8Array;
  times: Float64Array;
}

/** Frames agree closely enough that every byte arrives intact (the sampler tolerates this drift). */
function compatible(t: LineSettings, r: LineSettings): boolean {
  return t.dataBits === r.dataBits && t.parity === r.parity && Math.abs(t.baudRate - r.baudRate) / r.baudRate <= 0.02;
}

/**
 * Bit-level simulation of `data` sent with settings t and received with settings r: the TX
 * waveform as level segments, and a receiver that waits for a falling edge, checks the start
 * bit at its middle, samples each bit in the middle at its own rate, then checks parity and the
 * first stop bit. A frame that is all zeros with a low stop bit is a break, as UARTs report it.
 */
export function simulateLine(data: Uint8Array, t: LineSettings, r: LineSettings): LineOutput {
  const tb = 1 / t.baudRate;
  const starts: number[] = [];
  const levels: number[] = [];
  let now = 0;
  const emit = (level: number, dur: number) => {
    if (levels.length > 0 && levels[levels.length - 1] === level) {
      now += dur;
      return;
    }
    starts.push(now);
    levels.push(level);
    now += dur;
  };
  for (const byte of data) {
    emit(0, tb);
    for (let k = 0; k < t.dataBits; k++) emit((byte >> k) & 1, tb);
    if (t.parity !== 'none') emit(parityBit(byte, t.dataBits, t.parity), tb);
    emit(1, t.stopBits * tb);
  }
  emit(1, 0); // the idle line after the last frame, high forever
  const levelAt = (time: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= time) lo = mid;
      else hi = mid - 1;
    }
    return levels[lo];
  };
  const rb = 1 / r.baudRate;
  const bytes: number[] = [];
  const flags: number[] = [];
  const times: number[] = [];
  let pos = 0;
  let seg = 0;
  for (;;) {
    while (seg < starts.length && (levels[seg] !== 0 || starts[seg] < pos)) seg++;
    if (seg >= starts.length) break;
    const edge = starts[seg];
    if (levelAt(edge + 0.5 * rb) !== 0) {
      pos = edge + 0.5 * rb; // a glitch, not a start bit
      continue;
    }
    let value = 0;
    for (let k = 0; k < r.dataBits; k++) value |= levelAt(edge + (1.5 + k) * rb) << k;
    let idx = 1 + r.dataBits;
    let f = 0;
    let pb = 0;
    if (r.parity !== 'none') {
      pb = levelAt(edge + (idx + 0.5) * rb);
      idx++;
      if (pb !== parityBit(value, r.dataBits, r.parity)) f |= F_PARITY;
    }
    const stopAt = edge + (idx + 0.5) * rb;
    if (levelAt(stopAt) === 0) {
      f |= F_FRAMING;
      if (value === 0 && pb === 0) f = F_BREAK;
    }
    bytes.push(value);
    flags.push(f);
    times.push(stopAt);
    pos = stopAt;
  }
  return { bytes: Uint8Array.from(bytes), flags: Uint8Array.from(flags), times: Float64Array.from(times) };
}

/**
 * What crosses the line for one write. When both ends agree (the common case) every byte arrives
 * intact one frame after the one before: no flags, and arrival times follow from the frame time,
 * so nothing per byte is built (a benchmark moves megabytes through here).
 */
interface Crossing {
  bytes: Uint8Array;
  /** Per-byte error flags; null: all clean. */
  flags: Uint8Array | null;
  /** Per-byte arrival (s from start); null: byte i arrives at (i + 1) * frame. */
  times: Float64Array | null;
  frame: number;
}

function lineOutput(data: Uint8Array, t: LineSettings, r: LineSettings | undefined): Crossing {
  const frame = bitsPerChar(t) / t.baudRate;
  if (r && !compatible(t, r)) return { ...simulateLine(data, t, r), frame };
  if (t.dataBits === 8) return { bytes: data, flags: null, times: null, frame };
  const mask = (1 << t.dataBits) - 1;
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) bytes[i] = data[i]! & mask;
  return { bytes, flags: null, times: null, frame };
}

const arrival = (o: Crossing, i: number): number => (o.times ? o.times[i]! : (i + 1) * o.frame);

/** A connection between ports; detach() unplugs it. */
export interface Wire {
  readonly kind: 'loopback' | 'null-modem';
  readonly ends: readonly UartPort[];
  readonly attached: boolean;
  detach(): void;
}

interface TxJob {
  data: Uint8Array;
  done: () => void;
  /** Unpaced: what crosses (fixed when the job starts: its bytes keep the settings they left with), where to, how far. */
  crossing?: Crossing;
  target?: UartPort | null;
  crossed?: number;
}

/** One side of a serial line: a chip's UART pins, or the far device in a test. */
export class UartPort {
  readonly name: string;
  pacing: boolean;
  readonly stats: UartStats = { txBytes: 0, rxBytes: 0, overruns: 0, framingErrors: 0, parityErrors: 0, breaks: 0 };

  private line: LineSettings;
  private readonly out: OutputPins = { dtr: false, rts: false, brk: false };
  private readonly inp: InputPins = { cts: false, dsr: false, dcd: false, ri: false };
  private readonly rxData: Uint8Array;
  private readonly rxFlags: Uint8Array;
  private rxHead = 0;
  private rxCount = 0;
  /** Bytes in the RX FIFO whose flags are not 0 (lets the clean case skip a scan). */
  private rxFlagged = 0;
  private overrunPending = false;
  private lineBreakIn = false;
  private readonly rxListeners = new Set<(port: UartPort) => void>();
  private readonly breakListeners = new Set<(on: boolean) => void>();
  private readonly pinListeners = new Set<(inputs: InputPins, changed: (keyof InputPins)[]) => void>();
  private drainWaiters: (() => void)[] = [];
  private txQueue: TxJob[] = [];
  private txRunning = false;
  private txEpoch = 0;
  private txLineFreeAt = 0;
  private txInFlight = 0;
  private txTimer: ReturnType<typeof setTimeout> | undefined;
  private txWake: (() => void) | undefined;

  /** @internal Where TX goes and whose outputs drive our inputs (set by wires). */
  txTarget: UartPort | null = null;
  /** @internal */
  drivenBy: UartPort | null = null;
  /** @internal */
  wired: Wire | null = null;

  constructor(options: UartPortOptions = {}) {
    this.name = options.name ?? 'uart';
    this.pacing = options.pacing ?? false;
    this.line = checkSettings({ ...DEFAULT_LINE_SETTINGS, ...options.settings });
    const size = options.rxFifoSize ?? 256;
    if (!Number.isInteger(size) || size < 1) throw new UartError(`rxFifoSize must be a positive integer, got ${size}`);
    this.rxData = new Uint8Array(size);
    this.rxFlags = new Uint8Array(size);
  }

  // ---- settings and pins ----

  get settings(): Readonly<LineSettings> {
    return { ...this.line };
  }

  /** Changes line settings; bytes already on their way keep the settings they left with. */
  setSettings(s: Partial<LineSettings>): void {
    this.line = checkSettings({ ...this.line, ...s });
  }

  get outputs(): Readonly<OutputPins> {
    return { ...this.out };
  }

  setOutputs(pins: Partial<OutputPins>): void {
    const wasBrk = this.out.brk;
    if (pins.dtr !== undefined) this.out.dtr = pins.dtr;
    if (pins.rts !== undefined) this.out.rts = pins.rts;
    if (pins.brk !== undefined) this.out.brk = pins.brk;
    if (this.out.brk !== wasBrk && this.txTarget) this.txTarget.breakLine(this.out.brk);
    for (const p of this.drivenPorts()) p.recomputeInputs();
  }

  get inputs(): Readonly<InputPins> {
    return { ...this.inp };
  }

  /** @internal The input pins as they are, not a copy (for a chip reading them per packet). */
  get inputsNow(): Readonly<InputPins> {
    return this.inp;
  }

  /** Drives input pins from outside (a test playing the far end). Pins a wire drives (CTS/DSR/DCD) are refused while wired. */
  setInputs(pins: Partial<InputPins>): void {
    if (this.drivenBy && (pins.cts !== undefined || pins.dsr !== undefined || pins.dcd !== undefined)) {
      throw new UartError(`${this.name}: CTS/DSR/DCD are driven by a wire; detach it first`);
    }
    this.updateInputs({ ...this.inp, ...pins });
  }

  /** The line into RX is held low (the far end sends break). */
  get rxLineBreak(): boolean {
    return this.lineBreakIn;
  }

  /** Called when the line into RX starts or stops being held low (after the break's NUL is stored). */
  onBreakChange(listener: (on: boolean) => void): () => void {
    this.breakListeners.add(listener);
    return () => this.breakListeners.delete(listener);
  }

  onInputsChange(listener: (inputs: InputPins, changed: (keyof InputPins)[]) => void): () => void {
    this.pinListeners.add(listener);
    return () => this.pinListeners.delete(listener);
  }

  // ---- TX ----

  /** Transmits bytes; resolves once they are on the wire (see the pacing option). */
  write(data: ArrayLike<number>): Promise<void> {
    // A copy: the caller may reuse its buffer once this returns.
    const bytes = new Uint8Array(data); // a block copy for typed arrays
    return new Promise((done) => {
      this.txQueue.push({ data: bytes, done });
      this.txInFlight += bytes.length;
      void this.runTx();
    });
  }

  /** Bytes written and not yet on the wire. */
  get txPending(): number {
    return this.txInFlight;
  }

  /** Drops everything not yet transmitted (a TX purge); those writes resolve. */
  flushTx(): void {
    this.txEpoch++;
    for (const j of this.txQueue.splice(0)) j.done();
    this.txInFlight = 0;
    this.txLineFreeAt = 0;
    if (this.txTimer) clearTimeout(this.txTimer);
    this.txTimer = undefined;
    this.txWake?.();
    // A transmit waiting for room at the far end must notice the purge now.
    this.txTarget?.wakeSenders();
  }

  // ---- RX ----

  get rxFifoSize(): number {
    return this.rxData.length;
  }

  get rxAvailable(): number {
    return this.rxCount;
  }

  /** Takes up to `max` bytes from the RX FIFO with their line errors. */
  read(max = Infinity): RxChunk {
    const n = Math.min(this.rxCount, Math.max(0, Math.floor(max)));
    const data = new Uint8Array(n);
    const errors: RxErrorMark[] = [];
    const size = this.rxData.length;
    const head = this.rxHead;
    const first = Math.min(n, size - head);
    data.set(this.rxData.subarray(head, head + first), 0);
    if (first < n) data.set(this.rxData.subarray(0, n - first), first);
    if (this.rxFlagged > 0) {
      for (let i = 0; i < n; i++) {
        const at = (head + i) % size;
        const f = this.rxFlags[at]!;
        if (!f) continue;
        this.rxFlags[at] = 0; // free slots hold flag 0 (storeClean relies on it)
        this.rxFlagged--;
        if (f & F_OVERRUN) errors.push({ offset: i, kind: 'overrun' });
        if (f & F_BREAK) errors.push({ offset: i, kind: 'break' });
        if (f & F_PARITY) errors.push({ offset: i, kind: 'parity' });
        if (f & F_FRAMING) errors.push({ offset: i, kind: 'framing' });
      }
    }
    this.rxHead = (head + n) % size;
    this.rxCount -= n;
    if (n > 0) this.wakeSenders();
    return { data, errors };
  }

  /**
   * Moves up to `max` bytes from the RX FIFO into `sink` without building a chunk, when none of
   * them carries a line error (the same bytes read() would return with no errors). Returns how
   * many moved, or -1 when the FIFO holds flagged bytes (take them with read()).
   */
  takeClean(max: number, sink: { pushClean(bytes: Uint8Array, from: number, n: number): void }): number {
    if (this.rxFlagged > 0) return -1;
    const n = Math.min(this.rxCount, Math.max(0, Math.floor(max)));
    if (n === 0) return 0;
    const size = this.rxData.length;
    const head = this.rxHead;
    const first = Math.min(n, size - head);
    sink.pushClean(this.rxData, head, first);
    if (first < n) sink.pushClean(this.rxData, 0, n - first);
    this.rxHead = (head + n) % size;
    this.rxCount -= n;
    this.wakeSenders();
    return n;
  }

  /** Empties the RX FIFO (an RX purge). */
  flushRx(): void {
    if (this.rxFlagged > 0) this.rxFlags.fill(0);
    this.rxHead = 0;
    this.rxCount = 0;
    this.rxFlagged = 0;
    this.overrunPending = false;
    this.wakeSenders();
  }

  /** Bytes arriving from outside, as if from the line (a test playing the far end, or line noise). */
  injectRx(data: ArrayLike<number>, errors: readonly { offset: number; kind: LineErrorKind }[] = []): void {
    const bytes = Uint8Array.from(data);
    const flags = new Uint8Array(bytes.length);
    for (const e of errors) {
      if (e.offset < 0 || e.offset >= bytes.length) throw new UartError(`error offset ${e.offset} is outside the data`);
      flags[e.offset] |= { framing: F_FRAMING, parity: F_PARITY, break: F_BREAK, overrun: F_OVERRUN }[e.kind];
    }
    for (let i = 0; i < bytes.length; i++) this.store(bytes[i], flags[i]);
    this.notifyRx();
  }

  /** Called after bytes land in the RX FIFO (synchronously; read() from inside is fine). */
  onRx(listener: (port: UartPort) => void): () => void {
    this.rxListeners.add(listener);
    return () => this.rxListeners.delete(listener);
  }

  get wire(): Wire | null {
    return this.wired;
  }

  /** Power loss: TX and RX emptied, outputs low. Wires stay connected. */
  reset(): void {
    this.flushTx();
    this.flushRx();
    this.lineBreakIn = false;
    this.setOutputs({ dtr: false, rts: false, brk: false });
  }

  // ---- internals ----

  /** @internal Free FIFO space. */
  get rxSpace(): number {
    return this.rxData.length - this.rxCount;
  }

  /** @internal Stores one received byte; false (and an overrun) when the FIFO is full. */
  store(byte: number, flags: number): boolean {
    if (this.rxCount === this.rxData.length) {
      this.stats.overruns++;
      this.overrunPending = true;
      return false;
    }
    const at = (this.rxHead + this.rxCount) % this.rxData.length;
    const f = flags | (this.overrunPending ? F_OVERRUN : 0);
    this.rxData[at] = byte;
    this.rxFlags[at] = f;
    if (f) this.rxFlagged++;
    this.overrunPending = false;
    this.rxCount++;
    this.stats.rxBytes++;
    if (flags & F_FRAMING) this.stats.framingErrors++;
    if (flags & F_PARITY) this.stats.parityErrors++;
    if (flags & F_BREAK) this.stats.breaks++;
    return true;
  }

  /**
   * @internal Stores `bytes[from..from+n)` received clean; the caller checked the room (rxSpace).
   * The same as n store(byte, 0) calls, done as block copies.
   */
  storeClean(bytes: Uint8Array, from: number, n: number): void {
    if (n <= 0) return;
    if (this.overrunPending) {
      // The first byte carries the overrun mark.
      this.store(bytes[from]!, 0);
      from++;
      n--;
    }
    const size = this.rxData.length;
    let at = (this.rxHead + this.rxCount) % size;
    let left = n;
    while (left > 0) {
      const k = Math.min(left, size - at);
      // Free slots hold flag 0 (read and flushRx clear what they take), so only the data moves.
      if (k > 256) this.rxData.set(bytes.subarray(from, from + k), at);
      else for (let j = 0; j < k; j++) this.rxData[at + j] = bytes[from + j]!;
      from += k;
      left -= k;
      at = (at + k) % size;
    }
    this.rxCount += n;
    this.stats.rxBytes += n;
  }

  /** @internal */
  notifyRx(): void {
    const ls = this.rxListeners;
    if (ls.size === 1) {
      // The usual case (the chip's own listener); a listener added from inside runs next time.
      const [only] = ls;
      only!(this);
      return;
    }
    for (const l of [...ls]) l(this);
  }

  /** @internal Resolves when the RX FIFO gains room (or the wiring changes). */
  waitForRoom(): Promise<void> {
    return new Promise((r) => this.drainWaiters.push(r));
  }

  /** @internal */
  wakeSenders(): void {
    if (this.drainWaiters.length === 0) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  /** @internal The far end started or stopped a break. */
  breakLine(on: boolean): void {
    if (on === this.lineBreakIn) return;
    this.lineBreakIn = on;
    if (on) {
      this.store(0, F_BREAK);
      this.notifyRx();
    }
    for (const l of [...this.breakListeners]) l(on);
  }

  /** @internal */
  recomputeInputs(): void {
    const src = this.drivenBy;
    const o = src ? src.out : { dtr: false, rts: false };
    this.updateInputs({ cts: o.rts, dsr: o.dtr, dcd: o.dtr, ri: this.inp.ri });
  }

  private updateInputs(next: InputPins): void {
    const changed = (Object.keys(next) as (keyof InputPins)[]).filter((k) => next[k] !== this.inp[k]);
    if (changed.length === 0) return;
    Object.assign(this.inp, next);
    for (const l of [...this.pinListeners]) l({ ...this.inp }, changed);
  }

  private drivenPorts(): UartPort[] {
    const w = this.wired;
    return w ? w.ends.filter((p) => p.drivenBy === this) : [];
  }

  private async runTx(): Promise<void> {
    if (this.txRunning) return;
    this.txRunning = true;
    try {
      while (this.txQueue.length > 0) {
        const job = this.txQueue[0]!;
        const epoch = this.txEpoch;
        if (job.crossing || !this.pacing) {
          const full = this.crossNow(job, epoch);
          if (full) {
            await full;
            continue; // the same job goes on, unless a purge took it
          }
        } else {
          await this.transmitPaced(job.data, epoch);
        }
        if (epoch !== this.txEpoch) continue; // flushed: flushTx resolved it
        this.txQueue.shift();
        this.txInFlight -= job.data.length;
        job.done();
      }
    } finally {
      this.txRunning = false;
    }
  }

  /**
   * Unpaced: moves as much of the job as the receiving FIFO has room for, at once. Returns a
   * promise to wait on when the receiver is full, undefined when the job is done (or has nowhere
   * to go: no wire, the line held low, the wire changed, a purge).
   */
  private crossNow(job: TxJob, epoch: number): Promise<void> | undefined {
    if (!job.crossing) {
      job.target = this.txTarget;
      job.crossing = lineOutput(job.data, this.line, job.target?.line);
      job.crossed = 0;
      this.stats.txBytes += job.data.length;
      if (!job.target || this.out.brk) return undefined; // nobody listening, or the line is held low
    }
    const o = job.crossing;
    const target = job.target;
    let i = job.crossed!;
    while (i < o.bytes.length) {
      if (epoch !== this.txEpoch || this.txTarget !== target || !target) return undefined;
      const n = Math.min(target.rxSpace, o.bytes.length - i);
      if (n === 0) {
        job.crossed = i;
        return target.waitForRoom();
      }
      if (o.flags) for (let k = 0; k < n; k++, i++) target.store(o.bytes[i]!, o.flags[i]!);
      else {
        target.storeClean(o.bytes, i, n);
        i += n;
      }
      job.crossed = i;
      target.notifyRx();
    }
    return undefined;
  }

  private async transmitPaced(data: Uint8Array, epoch: number): Promise<void> {
    const settings = { ...this.line };
    const target = this.txTarget;
    const o = lineOutput(data, settings, target?.line);
    const start = Math.max(performance.now(), this.txLineFreeAt);
    const frameMs = (bitsPerChar(settings) / settings.baudRate) * 1000;
    this.txLineFreeAt = start + data.length * frameMs;
    let i = 0;
    let sent = 0;
    while (i < o.bytes.length || sent < data.length) {
      if (epoch !== this.txEpoch) return;
      const now = performance.now();
      // Count bytes leaving the transmitter by their own frame times.
      while (sent < data.length && start + (sent + 1) * frameMs <= now) sent++;
      let delivered = 0;
      while (i < o.bytes.length && start + arrival(o, i) * 1000 <= now) {
        const t = this.txTarget;
        if (t === target && t && !this.out.brk) {
          t.store(o.bytes[i]!, o.flags ? o.flags[i]! : 0);
          delivered++;
        }
        i++;
      }
      if (delivered > 0) target?.notifyRx();
      if (i >= o.bytes.length && sent >= data.length) break;
      const nextAt = Math.min(
        i < o.bytes.length ? start + arrival(o, i) * 1000 : Infinity,
        sent < data.length ? start + (sent + 1) * frameMs : Infinity,
      );
      await new Promise<void>((r) => {
        this.txWake = r;
        this.txTimer = setTimeout(r, Math.max(0, nextAt - performance.now()));
      });
      this.txWake = undefined;
      this.txTimer = undefined;
    }
    this.stats.txBytes += data.length;
  }
}

class WireImpl implements Wire {
  attached = true;
  constructor(
    readonly kind: 'loopback' | 'null-modem',
    readonly ends: readonly UartPort[],
  ) {}

  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    for (const p of this.ends) {
      p.txTarget = null;
      p.drivenBy = null;
      p.wired = null;
    }
    for (const p of this.ends) {
      p.recomputeInputs();
      p.wakeSenders();
      if (p.rxLineBreak) p.breakLine(false);
    }
  }
}

function claim(port: UartPort): void {
  if (port.wired) throw new UartError(`${port.name} is already wired (${port.wired.kind}); detach that first`);
}

/** A loopback plug: TX->RX, RTS->CTS, DTR->DSR and DCD. */
export function loopbackPlug(port: UartPort): Wire {
  claim(port);
  const w = new WireImpl('loopback', [port]);
  port.txTarget = port;
  port.drivenBy = port;
  port.wired = w;
  port.recomputeInputs();
  if (port.outputs.brk) port.breakLine(true);
  return w;
}

/** A null-modem cable: TX<->RX crossed, RTS->CTS and DTR->DSR+DCD each way. */
export function nullModem(a: UartPort, b: UartPort): Wire {
  if (a === b) throw new UartError('a null-modem cable needs two ports (use loopbackPlug for one)');
  claim(a);
  claim(b);
  const w = new WireImpl('null-modem', [a, b]);
  a.txTarget = b;
  b.txTarget = a;
  a.drivenBy = b;
  b.drivenBy = a;
  a.wired = w;
  b.wired = w;
  a.recomputeInputs();
  b.recomputeInputs();
  if (a.outputs.brk) b.breakLine(true);
  if (b.outputs.brk) a.breakLine(true);
  return w;
}
