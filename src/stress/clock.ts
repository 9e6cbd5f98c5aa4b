// Logical time for mock-lab runs. While installed, setTimeout / setInterval / performance.now
// are served by this clock, and time moves only when the runner advances it; setImmediate and
// promises stay real. The emulated dongles, the core's timers and the UART then behave the same
// way on every run of a seed, whatever the machine's speed.
import { childLog } from '../log.ts';

const log = childLog('stress.clock');

interface Timer {
  readonly id: number;
  due: number;
  readonly seq: number;
  readonly fn: (...args: unknown[]) => void;
  readonly args: unknown[];
  readonly delay: number;
  readonly repeat: boolean;
  cancelled: boolean;
}

/** What setTimeout hands back under the clock: enough of Node's Timeout for callers to use. */
export class VirtualTimeout {
  constructor(
    readonly timer: Timer,
    private readonly clock: VirtualClock,
  ) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return false;
  }
  refresh(): this {
    this.clock.refresh(this.timer);
    return this;
  }
  close(): this {
    this.timer.cancelled = true;
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.timer.id;
  }
}

export class ClockError extends Error {
  override readonly name = 'ClockError';
}

interface Saved {
  setTimeout: typeof globalThis.setTimeout;
  setInterval: typeof globalThis.setInterval;
  clearTimeout: typeof globalThis.clearTimeout;
  clearInterval: typeof globalThis.clearInterval;
  now: () => number;
}

let installedClock: VirtualClock | null = null;

export class VirtualClock {
  /** Logical milliseconds since the clock was made. */
  private t = 0;
  private readonly epoch: number;
  private readonly heap: Timer[] = [];
  private readonly byId = new Map<number, Timer>();
  private nextId = 1;
  private seq = 0;
  private saved: Saved | null = null;
  /** Timer callbacks that threw (reported, as Node would report them, but they do not stop the run). */
  readonly errors: unknown[] = [];
  onError: ((err: unknown) => void) | null = null;

  constructor(startAt = 0) {
    this.epoch = startAt;
  }

  get now(): number {
    return this.epoch + this.t;
  }

  /** Logical ms elapsed since the clock was made. */
  get elapsed(): number {
    return this.t;
  }

  get pending(): number {
    return this.byId.size;
  }

  /** Due time of the next timer, or Infinity. */
  get nextDue(): number {
    this.dropCancelled();
    return this.heap[0]?.due ?? Infinity;
  }

  get installed(): boolean {
    return this.saved !== null;
  }

  install(): void {
    if (installedClock) throw new ClockError('a virtual clock is already installed');
    const g = globalThis as unknown as Record<string, unknown>;
    const perf = globalThis.performance;
    this.saved = {
      setTimeout: globalThis.setTimeout,
      setInterval: globalThis.setInterval,
      clearTimeout: globalThis.clearTimeout,
      clearInterval: globalThis.clearInterval,
      now: perf.now.bind(perf),
    };
    installedClock = this;
    this.patch(g, perf);
  }

  uninstall(): void {
    if (!this.saved) return;
    this.unpatch();
    this.saved = null;
    installedClock = null;
    if (this.byId.size > 0) log.debug({ dropped: this.byId.size }, 'virtual timers still pending when the clock was removed');
    this.heap.length = 0;
    this.byId.clear();
  }

  /** Runs `fn` with the real timers in place (for code whose timing must stay wall-clock, like a progress bar). */
  real<T>(fn: () => T): T {
    if (!this.saved) return fn();
    this.unpatch();
    try {
      return fn();
    } finally {
      this.patch(globalThis as unknown as Record<string, unknown>, globalThis.performance);
    }
  }

  /** The real setImmediate-based turn: one pass of the event loop. */
  static turn(): Promise<void> {
    return new Promise((r) => setImmediate(r));
  }

  /**
   * Moves time to `target` (logical ms since creation) in `turns` even slices, firing the timers
   * due in each slice and then letting the event loop turn once.
   */
  async advanceTo(target: number, turns: number): Promise<void> {
    const start = this.t;
    const end = Math.max(start, target);
    const n = Math.max(0, Math.floor(turns));
    for (let i = 1; i <= n; i++) {
      await this.fireUntil(start + ((end - start) * i) / n);
      await VirtualClock.turn();
    }
    await this.fireUntil(end);
  }

  /**
   * Fires timers due up to `until`, in order, then sets the time to `until`. They run back to
   * back: a timer some other code (a test before this one) left behind then changes nothing
   * about when this run's own work proceeds.
   */
  async fireUntil(until: number): Promise<number> {
    let fired = 0;
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (!top || top.due > until) break;
      this.pop();
      this.t = Math.max(this.t, top.due);
      if (top.repeat) {
        top.due = this.t + top.delay;
        this.push(top);
      } else {
        this.byId.delete(top.id);
      }
      try {
        top.fn(...top.args);
      } catch (err) {
        if (this.errors.length < 100) this.errors.push(err);
        if (this.onError) this.onError(err);
        else log.warn({ err }, 'a timer callback threw under the virtual clock');
      }
      fired++;
    }
    this.t = Math.max(this.t, until);
    return fired;
  }

  /** @internal */
  refresh(timer: Timer): void {
    if (timer.cancelled) return;
    this.remove(timer);
    timer.cancelled = false;
    timer.due = this.t + timer.delay;
    this.byId.set(timer.id, timer);
    this.push(timer);
  }

  private add(fn: unknown, ms: unknown, args: unknown[], repeat: boolean): VirtualTimeout {
    if (typeof fn !== 'function') throw new TypeError('the callback must be a function');
    // Node clamps to at least 1 ms, which also keeps a self-rearming timer from spinning.
    const delay = Math.max(1, Number.isFinite(Number(ms)) ? Math.floor(Number(ms)) : 1);
    const timer: Timer = {
      id: this.nextId++,
      due: this.t + delay,
      seq: this.seq++,
      fn: fn as (...a: unknown[]) => void,
      args,
      delay,
      repeat,
      cancelled: false,
    };
    this.byId.set(timer.id, timer);
    this.push(timer);
    return new VirtualTimeout(timer, this);
  }

  private clear(handle: unknown): boolean {
    let timer: Timer | undefined;
    if (handle instanceof VirtualTimeout) timer = handle.timer;
    else if (typeof handle === 'number') timer = this.byId.get(handle);
    if (!timer) return false;
    this.remove(timer);
    return true;
  }

  private remove(timer: Timer): void {
    timer.cancelled = true;
    this.byId.delete(timer.id);
  }

  private patch(g: Record<string, unknown>, perf: Performance): void {
    const saved = this.saved!;
    g.setTimeout = (fn: unknown, ms?: unknown, ...args: unknown[]) => this.add(fn, ms, args, false);
    g.setInterval = (fn: unknown, ms?: unknown, ...args: unknown[]) => this.add(fn, ms, args, true);
    g.clearTimeout = (h: unknown) => {
      if (!this.clear(h)) saved.clearTimeout(h as Parameters<typeof clearTimeout>[0]);
    };
    g.clearInterval = (h: unknown) => {
      if (!this.clear(h)) saved.clearInterval(h as Parameters<typeof clearInterval>[0]);
    };
    Object.defineProperty(perf, 'now', { value: () => this.now, configurable: true, writable: true });
  }

  private unpatch(): void {
    const s = this.saved!;
    const g = globalThis as unknown as Record<string, unknown>;
    g.setTimeout = s.setTimeout;
    g.setInterval = s.setInterval;
    g.clearTimeout = s.clearTimeout;
    g.clearInterval = s.clearInterval;
    // The original `now` lives on Performance.prototype: deleting the own property restores it.
    delete (globalThis.performance as unknown as Record<string, unknown>).now;
  }

  // ---- a binary heap ordered by (due, seq) ----

  private less(a: Timer, b: Timer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }
}
