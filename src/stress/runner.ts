// The stress run: a seeded schedule of plugs, unplugs, registrations, new_id writes, binds,
// opens, traffic, closes and signal changes, applied to a lab while the invariants are checked
// as things happen (uevents, driver calls, every received byte), after every step (cheap state
// checks) and at quiescent checkpoints (leaks, delivery, modem lines).
//
// On the mock lab time is logical (src/stress/clock.ts): a seed replays the same run, event for
// event, outcome for outcome. On real hubs time is the wall clock; the seed still fixes the
// schedule, not the timing.
import type { Subscription } from 'rxjs';
import {
  CoreError,
  DriverModel,
  getDriver,
  PinError,
  putDriver,
  type AnyDriver,
  type Uevent,
} from '../core/index.ts';
import { releaseDevice } from '../core/binding.ts';
import { childLog } from '../log.ts';
import {
  deregisterUsbSerialDrivers,
  PortDisconnectedError,
  PortStateError,
  registerUsbSerialDrivers,
  usbSerialBusOf,
  type SerialDriver,
  type SerialDriverSpec,
  type UsbSerialBus,
  type UsbSerialPort,
  type UsbSerialRegistration,
  type PortEvent,
} from '../serial/index.ts';
import { UsbDevice, UsbInterface, type UsbDriver } from '../usb/index.ts';
import { UsbSubsystem } from '../usb/subsystem.ts';
import { transferErrorKind } from '../usb/host.ts';
import { formatUsbId, type UsbDeviceId } from '../usb/ids.ts';
import { VirtualClock } from './clock.ts';
import { DriverWatch } from './instrument.ts';
import { INVARIANTS, Monitor, type Invariant, type TimelineRecord, type Violation } from './monitor.ts';
import { formatSeed, mixSeed, randomSeed, Rng } from './random.ts';
import {
  DEFAULT_RATES,
  describeStep,
  formatRates,
  parseRates,
  parseSignalsArg,
  ScheduleGenerator,
  STEP_KINDS,
  StressOptionError,
  type Rates,
  type Step,
  type StepKind,
  type Topology,
  type TopologyLink,
  type TopologyPort,
} from './schedule.ts';
import { shrinkSchedule } from './shrink.ts';
import { HubTarget, MockTarget, type HubTargetOptions, type StressLab, type Target } from './target.ts';
import { buildFrames, LinkState, type EpochEnd, type Loss } from './traffic.ts';
import { UdevRule, type UdevAction } from './udev.ts';

const log = childLog('stress.runner');

/** The real clock, taken before any virtual clock can replace performance.now. */
const realNow: () => number = performance.now.bind(performance);

export interface StressProgress {
  events: number;
  cycles: number;
  violations: number;
  wallMs: number;
  logicalMs: number;
  eventsPerSecond: number;
}

export interface ShrinkOptions {
  /** Runs the shrinker may make (default 200). */
  maxRuns?: number;
  /** Wall-clock budget (ms, default 60,000). */
  maxMs?: number;
}

export interface StressOptions {
  /** 32-bit seed; a random one when absent (the result says which). */
  seed?: number;
  /** Events per logical second per kind, as an object or `hotplug=20,write=50`. */
  rates?: Partial<Rates> | string;
  /** Stop after this many events. */
  events?: number;
  /** Stop after this many plug/unplug (or power) cycles. */
  cycles?: number;
  /** Stop after this much wall-clock time. */
  durationMs?: number;
  /**
   * The mock lab: an instance, or a factory (needed to shrink a failing run on fresh labs).
   * Ignored when `hubs` is given.
   */
  lab?: StressLab | (() => StressLab);
  /** Real hubs: the backend (libusb), the driver sets, and what may be switched. */
  hubs?: HubTargetOptions;
  /** Mock lab: unplug cables (default) or cut hub port power (the real-lab path, on emulated hubs). */
  hotplug?: 'plug' | 'power';
  /** Run exactly these steps (a saved or shrunk schedule) instead of the seed's stream. */
  schedule?: readonly Step[];
  /** Shrink a failing mock-lab run to a minimal schedule (default true when `lab` is a factory). */
  shrink?: boolean | ShrinkOptions;
  /** The udev-like rule writing new_id as drivers and devices appear (default true). */
  udev?: boolean;
  baudRate?: number;
  /** Stop at the first violation. */
  stopOnViolation?: boolean;
  maxViolations?: number;
  /** How long a checkpoint waits for operations to finish before calling them stuck (ms, default 10,000). */
  settleLimitMs?: number;
  /** How long bytes may take to arrive (ms, default 3,000). */
  drainLimitMs?: number;
  onProgress?: (p: StressProgress) => void;
  onViolation?: (v: Violation) => void;
  /** Wraps calls into code whose timing must stay wall-clock under the virtual clock (the progress bar). */
  onClock?: (clock: VirtualClock | null) => void;
  /** How the replay line starts (default `usb-harness stress --mock-lab`). */
  command?: string;
  /** Keep step records for the timeline (default true). */
  timeline?: boolean;
}

export interface StepCounts {
  issued: number;
  ok: number;
  skipped: number;
  failed: number;
  /** Failures by error code. */
  errors: Record<string, number>;
  /** Skips by reason (the target was absent, closed, already in that state...). */
  skips: Record<string, number>;
}

export interface LaneChange {
  readonly t: number;
  readonly n: number;
  readonly state: string;
}

export interface StressResult {
  ok: boolean;
  seed: number;
  target: 'mock' | 'hubs';
  hotplug: 'plug' | 'power';
  rates: Rates;
  events: number;
  cycles: number;
  wallMs: number;
  logicalMs: number;
  eventsPerSecond: number;
  counts: Record<StepKind, StepCounts>;
  checks: Record<Invariant, number>;
  violations: Violation[];
  suppressedViolations: number;
  losses: Loss[];
  lossSummary: { epochs: number; bytes: number; byReason: Record<string, number> };
  traffic: { bytesHanded: number; bytesReported: number; bytesReceived: number; frames: number; epochs: number; writes: number };
  udevWrites: number;
  driverCalls: Record<string, number>;
  traceHash: string;
  traceLength: number;
  /** Whether the run stopped early (stuck, violation with stopOnViolation). */
  stoppedEarly: string | null;
  replay: { command: string; seed: string; events: number; rates: string };
  timeline: TimelineRecord[];
  timelineDropped: number;
  lanes: Record<string, LaneChange[]>;
  topology: Topology;
  /** The steps run, when they were given (a schedule replay) or when a shrink needs them. */
  schedule?: Step[];
  shrunk?: ShrinkResult;
}

export interface ShrinkResult {
  invariant: Invariant;
  steps: Step[];
  from: number;
  runs: number;
  ms: number;
  violation: Violation;
  traceHash: string;
}

export { StressOptionError };

// ---- time ----------------------------------------------------------------------------------

interface TimeDriver {
  readonly logical: boolean;
  now(): number;
  advanceTo(t: number, turns: number): Promise<void>;
  waitFor(cond: () => boolean, ms: number): Promise<boolean>;
}

class LogicalTime implements TimeDriver {
  readonly logical = true;
  constructor(readonly clock: VirtualClock) {}
  now(): number {
    return this.clock.elapsed;
  }
  advanceTo(t: number, turns: number): Promise<void> {
    return this.clock.advanceTo(t, turns);
  }
  async waitFor(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = this.clock.elapsed + ms;
    for (;;) {
      if (cond()) return true;
      if (this.clock.elapsed >= deadline) return false;
      await this.clock.advanceTo(this.clock.elapsed + 1, 1);
    }
  }
}

class WallTime implements TimeDriver {
  readonly logical = false;
  private readonly start = performance.now();
  now(): number {
    return performance.now() - this.start;
  }
  async advanceTo(t: number): Promise<void> {
    const wait = t - this.now();
    await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
  }
  async waitFor(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = this.now() + ms;
    while (!cond()) {
      if (this.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
    return true;
  }
}

// ---- run state -----------------------------------------------------------------------------

interface Op {
  readonly n: number;
  readonly label: string;
  readonly started: number;
  promise: Promise<void>;
  stuck: boolean;
}

type SetPhase = 'registering' | 'registered' | 'deregistering' | 'deregistered' | 'failed';

interface SetState {
  readonly name: string;
  readonly specs: readonly SerialDriverSpec[];
  readonly ids: readonly UsbDeviceId[];
  readonly serialNames: readonly string[];
  phase: SetPhase;
  reg: UsbSerialRegistration | null;
  /** Register attempts not yet failed plus registrations not yet deregistered. */
  live: number;
  /** Drivers created by the register attempt running now (for marking them gone if it fails). */
  attempt: AnyDriver[] | null;
}

interface SlotState {
  readonly info: TopologyPort;
  readonly ifKey: string;
  phase: 'closed' | 'opening' | 'open' | 'closing';
  port: UsbSerialPort | null;
  signals: { dtr: boolean; rts: boolean } | null;
  /** Event number of the last setSignals that resolved, and of the open that made this port open. */
  signalsAt: number;
  openedAt: number;
  signalsInFlight: number;
}

interface TrackedPort {
  readonly port: UsbSerialPort;
  readonly slot: string;
  readonly since: number;
  sub: Subscription;
}

const SETUP = -1;
const TEARDOWN = -2;

function errCode(err: unknown): string {
  if (err instanceof CoreError) return `${err.name}:${err.code}`;
  const name = (err as { name?: unknown })?.name;
  return typeof name === 'string' && name ? name : 'Error';
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const idKey = (vendor: number, product: number) => `${vendor.toString(16).padStart(4, '0')}:${product.toString(16).padStart(4, '0')}`;

function newIdKey(text: string): string | null {
  const w = text.trim().split(/\s+/);
  if (w.length < 2 || !/^(0x)?[0-9a-f]+$/i.test(w[0]!) || !/^(0x)?[0-9a-f]+$/i.test(w[1]!)) return null;
  return idKey(Number.parseInt(w[0]!.replace(/^0x/i, ''), 16), Number.parseInt(w[1]!.replace(/^0x/i, ''), 16));
}

class StressRun {
  readonly monitor: Monitor;
  readonly watch: DriverWatch;
  readonly time: TimeDriver;
  readonly model = new DriverModel({ pinWaitLogMs: 60_000 });
  readonly usb: UsbSubsystem;
  readonly serialBus: UsbSerialBus;
  private topo!: Topology;
  private readonly sets = new Map<string, SetState>();
  private readonly slots = new Map<string, SlotState>();
  private readonly links = new Map<string, LinkState>();
  private readonly touching = new Map<string, LinkState[]>();
  private readonly incoming = new Map<string, LinkState>();
  private readonly inflight = new Set<Op>();
  private readonly tracked = new Map<UsbSerialPort, TrackedPort>();
  private readonly disturbed = new Map<string, { n: number; reason: EpochEnd }>();
  private readonly written = new WeakMap<SerialDriver, Set<string>>();
  /** When each usb device (attachment) was added, in stamps. */
  private readonly deviceSince = new WeakMap<object, number>();
  private readonly bound = new Map<string, string>();
  private readonly losses: Loss[] = [];
  private readonly lossSummary = { epochs: 0, bytes: 0, byReason: {} as Record<string, number> };
  private readonly counts = Object.fromEntries(STEP_KINDS.map((k) => [k, { issued: 0, ok: 0, skipped: 0, failed: 0, errors: {}, skips: {} }])) as Record<StepKind, StepCounts>;
  private readonly lanes = new Map<string, LaneChange[]>();
  private readonly traffic = { bytesHanded: 0, frames: 0, epochs: 0, writes: 0 };
  private udev: UdevRule | null = null;
  private uevSub: Subscription | null = null;
  private ueventBaseline = 0;
  private getEventListeners: ((t: EventTarget, name: string) => unknown[]) | null = null;
  events = 0;
  cycles = 0;
  stopped: string | null = null;
  private readonly wallStart = realNow();
  private lastProgress = 0;
  private readonly escaped = new WeakSet<object>();

  constructor(
    readonly seed: number,
    readonly target: Target,
    readonly clock: VirtualClock | null,
    readonly o: StressOptions & { rates: Rates },
  ) {
    this.monitor = new Monitor({
      seed,
      maxViolations: o.maxViolations ?? 50,
      onViolation: (v) => {
        o.onViolation?.(v);
        if (o.stopOnViolation) this.stopped ??= `violation: ${v.invariant}`;
      },
    });
    this.watch = new DriverWatch(this.monitor);
    this.time = clock ? new LogicalTime(clock) : new WallTime();
    this.usb = new UsbSubsystem({ model: this.model });
    this.serialBus = usbSerialBusOf(this.usb.bus);
  }

  // ---- setup ----

  async setup(): Promise<void> {
    this.monitor.event = SETUP;
    this.uevSub = this.model.uevents.subscribe((e) => this.onUevent(e));
    const ev = (await import('node:events').catch(() => null)) as { getEventListeners?: (t: EventTarget, n: string) => unknown[] } | null;
    this.getEventListeners = ev?.getEventListeners ?? null;
    for (const s of this.target.driverSets) {
      this.sets.set(s.name, {
        name: s.name,
        specs: s.specs.map((spec) => this.watch.wrap(spec)),
        ids: s.ids,
        serialNames: s.specs.map((x) => x.name),
        phase: 'deregistered',
        reg: null,
        live: 0,
        attempt: null,
      });
    }
    const preTopo = this.target.kind === 'mock' ? (this.target as MockTarget).lab.topology() : null;
    if (this.o.udev !== false) {
      this.udev = new UdevRule(this.model, preTopo?.newIds ?? this.o.hubs?.newIds ?? [], (a) => this.onUdev(a));
      this.udev.start();
    }
    for (const s of this.sets.values()) await this.register(s, true);
    if (this.target.kind === 'mock') (this.target as MockTarget).lab.plugAll();
    await this.target.flush();
    await this.usb.attachBackend(this.target.backend);
    await this.settle('setup', false);
    this.topo = await this.target.describe({ ports: () => this.serialBus.listDevices() });
    for (const d of this.topo.dongles) {
      for (const p of d.ports) this.slots.set(p.slot, { info: p, ifKey: `${d.name}:if${p.interfaceNumber}`, phase: 'closed', port: null, signals: null, signalsAt: -1, openedAt: -1, signalsInFlight: 0 });
      this.lane(`dongle ${d.name}`, this.target.isConnected(d.name) ? 'plugged' : 'unplugged');
    }
    this.topo.links.forEach((l: TopologyLink, i) => {
      const ls = new LinkState(l.id, i, l.from, l.to, (loss) => this.onLoss(loss));
      this.links.set(l.id, ls);
      for (const s of new Set([l.from, l.to])) this.touching.set(s, [...(this.touching.get(s) ?? []), ls]);
      this.incoming.set(l.to, ls);
    });
    for (const s of this.sets.values()) this.lane(`driver ${s.name}`, s.phase);
    this.ueventBaseline = this.ueventObservers();
  }

  get topology(): Topology {
    return this.topo;
  }

  // ---- the loop ----

  async run(steps: Iterator<Step>, limits: { events?: number; cycles?: number; durationMs?: number }): Promise<void> {
    for (;;) {
      if (this.stopped) break;
      if (limits.events !== undefined && this.events >= limits.events) break;
      if (limits.cycles !== undefined && this.cycles >= limits.cycles) break;
      if (limits.durationMs !== undefined && realNow() - this.wallStart >= limits.durationMs) break;
      const next = steps.next();
      if (next.done) break;
      const step = next.value;
      await this.time.advanceTo(step.t, step.turns);
      this.monitor.event = step.n;
      this.monitor.now = this.time.now();
      this.events++;
      await this.execute(step);
      this.stepChecks();
      if (this.inflight.size > 24) {
        const drained = await this.time.waitFor(() => this.activeOps() <= 12, this.o.settleLimitMs ?? 10_000);
        if (!drained) await this.settle('backlog');
      }
      this.progress(false);
    }
    this.progress(true);
  }

  private progress(force: boolean): void {
    if (!this.o.onProgress) return;
    const now = realNow();
    if (!force && now - this.lastProgress < 100) return;
    this.lastProgress = now;
    const wallMs = now - this.wallStart;
    this.o.onProgress({
      events: this.events,
      cycles: this.cycles,
      violations: this.monitor.violations.length,
      wallMs,
      logicalMs: this.time.now(),
      eventsPerSecond: wallMs > 0 ? (this.events * 1000) / wallMs : 0,
    });
  }

  private activeOps(): number {
    let n = 0;
    for (const op of this.inflight) if (!op.stuck) n++;
    return n;
  }

  // ---- steps ----

  private async execute(step: Step): Promise<void> {
    this.counts[step.kind].issued++;
    this.monitor.record(step.kind, step.target, step.arg ?? '');
    try {
      switch (step.kind) {
        case 'plug':
        case 'unplug':
          return await this.hotplug(step, step.kind === 'plug');
        case 'register': {
          const s = this.sets.get(step.target);
          if (!s) return this.finish(step, 'skip:unknown-set');
          if (s.phase === 'registering' || s.phase === 'registered') return this.finish(step, `skip:${s.phase}`);
          return await this.register(s, false, step);
        }
        case 'deregister':
          return this.deregister(step);
        case 'new_id':
        case 'remove_id':
          return this.writeId(step);
        case 'bind':
          return this.bind(step);
        case 'unbind':
          return this.unbind(step);
        case 'open':
          return this.open(step);
        case 'close':
          return this.close(step);
        case 'write':
          return this.write(step);
        case 'signals':
          return this.signals(step);
        case 'check':
          await this.settle(`check #${step.n}`);
          return this.finish(step, 'ok');
      }
    } catch (err) {
      this.finish(step, `error:${errCode(err)}`);
      this.monitor.violate('escaped-error', `step ${describeStep(step)} threw: ${errMessage(err)}`);
    }
  }

  /** Records a step's outcome (immediately, or when its operation completes). */
  private finish(step: Step, outcome: string): void {
    const c = this.counts[step.kind];
    if (outcome === 'ok') c.ok++;
    else if (outcome.startsWith('skip:')) {
      c.skipped++;
      const why = outcome.slice(5);
      c.skips[why] = (c.skips[why] ?? 0) + 1;
    } else {
      c.failed++;
      const code = outcome.replace(/^error:/, '');
      c.errors[code] = (c.errors[code] ?? 0) + 1;
    }
    this.monitor.record(`done ${step.kind}`, step.target, outcome, step.n);
    if (this.o.timeline !== false) this.monitor.stepDone(step.n, step.t, step.kind, step.target, outcome);
  }

  /** Runs `fn` as an operation in flight; its outcome is recorded when it ends. */
  private launch(step: Step | null, label: string, fn: () => Promise<string>): void {
    const op: Op = { n: step?.n ?? this.monitor.event, label, started: this.time.now(), promise: Promise.resolve(), stuck: false };
    op.promise = (async () => {
      let outcome: string;
      try {
        outcome = await fn();
      } catch (err) {
        outcome = `error:${errCode(err)}`;
      }
      this.inflight.delete(op);
      if (step) this.finish(step, outcome);
      else this.monitor.record(`done ${label}`, '', outcome, op.n);
    })();
    this.inflight.add(op);
  }

  private async hotplug(step: Step, on: boolean): Promise<void> {
    const d = step.target;
    if (!this.topo.dongles.some((x) => x.name === d)) return this.finish(step, 'skip:unknown-dongle');
    if (!on) this.disturb(d, 'unplug');
    const outcome = await this.target.setConnected(d, on);
    if (outcome === 'ok') {
      if (!on) this.cycles++;
      this.lane(`dongle ${d}`, on ? 'plugged' : 'unplugged');
    }
    this.finish(step, outcome);
  }

  private async register(s: SetState, initial: boolean, step?: Step): Promise<void> {
    s.phase = 'registering';
    s.live++;
    s.attempt = [];
    this.lane(`driver ${s.name}`, 'registering');
    const run = async (): Promise<string> => {
      try {
        const reg = await registerUsbSerialDrivers(s.specs, s.name, s.ids, { usbBus: this.usb.bus });
        s.reg = reg;
        s.phase = 'registered';
        s.attempt = null;
        this.lane(`driver ${s.name}`, 'registered');
        return 'ok';
      } catch (err) {
        s.live--;
        for (const d of s.attempt ?? []) this.watch.markGone(d as SerialDriver);
        s.attempt = null;
        s.phase = s.reg && s.reg.state === 'registered' ? 'registered' : 'failed';
        this.lane(`driver ${s.name}`, s.phase);
        this.goneChecks();
        return `error:${errCode(err)}`;
      }
    };
    if (initial) {
      const outcome = await run();
      if (outcome !== 'ok') throw new StressOptionError(`registering driver set '${s.name}' failed at setup: ${outcome}`);
      return;
    }
    this.launch(step!, `register ${s.name}`, run);
  }

  private deregister(step: Step): void {
    const s = this.sets.get(step.target);
    if (!s) return this.finish(step, 'skip:unknown-set');
    if (s.phase !== 'registered' || !s.reg || s.reg.state !== 'registered') return this.finish(step, `skip:${s.phase}`);
    const reg = s.reg;
    s.phase = 'deregistering';
    this.lane(`driver ${s.name}`, 'deregistering');
    for (const d of this.topo.dongles) if (d.driverSet === s.name || reg.adapters().some((a) => this.target.dongleOf(a.usbDevice.host) === d.name)) this.disturb(d.name, 'deregister');
    this.launch(step, `deregister ${s.name}`, async () => {
      await deregisterUsbSerialDrivers(reg);
      s.live--;
      this.watch.markGone(reg.usbDriver);
      for (const sd of reg.serialDrivers) this.watch.markGone(sd);
      if (s.reg === reg) {
        s.reg = null;
        s.phase = 'deregistered';
      }
      this.lane(`driver ${s.name}`, 'deregistered');
      this.goneChecks();
      return 'ok';
    });
  }

  private writeId(step: Step): void {
    const file = step.kind === 'new_id' ? 'new_id' : 'remove_id';
    const path = `bus/usb-serial/drivers/${step.target}/${file}`;
    if (!this.model.attrs.has(path)) return this.finish(step, 'skip:no-such-driver');
    if (step.kind === 'new_id') this.noteWritten(step.target, step.arg ?? '');
    const result = this.model.attrs.write(path, step.arg ?? '');
    this.launch(step, `${file} ${step.target}`, async () => {
      const r = await result;
      return r.ok ? 'ok' : `error:${r.error.code}`;
    });
  }

  private noteWritten(driver: string, text: string): void {
    const sd = this.serialBus.findDriver(driver) as SerialDriver | undefined;
    const key = newIdKey(text);
    if (!sd || !key) return;
    let set = this.written.get(sd);
    if (!set) this.written.set(sd, (set = new Set()));
    set.add(key);
  }

  private onUdev(a: UdevAction): void {
    const m = /^bus\/usb-serial\/drivers\/([^/]+)\/new_id$/.exec(a.path);
    if (m) this.noteWritten(m[1]!, a.value);
    this.monitor.record('udev', `${a.trigger}: ${a.path}`, a.value);
    this.launch(null, `udev new_id ${a.value}`, async () => {
      const r = await a.result;
      return r.ok ? 'ok' : `error:${r.error.code}`;
    });
  }

  private interfaceFor(key: string): UsbInterface | undefined {
    const m = /^(.*):if(\d+)$/.exec(key);
    if (!m) return undefined;
    const n = Number(m[2]);
    for (const dev of this.usb.bus.listDevices()) {
      if (dev instanceof UsbInterface && dev.state === 'live' && !dev.usbDevice.gone && dev.interfaceNumber === n && this.target.dongleOf(dev.usbDevice.host) === m[1]) return dev;
    }
    return undefined;
  }

  private bind(step: Step): void {
    const intf = this.interfaceFor(step.target);
    if (!intf) return this.finish(step, 'skip:absent');
    const dongle = this.topo.dongles.find((d) => step.target.startsWith(`${d.name}:`));
    const setBind = dongle?.driverSet ? `bus/usb/drivers/${dongle.driverSet}/bind` : null;
    const path = setBind && this.model.attrs.has(setBind) ? setBind : 'bus/usb/drivers_probe';
    const result = this.model.attrs.write(path, intf.name);
    this.launch(step, `bind ${step.target}`, async () => {
      const r = await result;
      return r.ok ? 'ok' : `error:${r.error.code}`;
    });
  }

  private unbind(step: Step): void {
    const intf = this.interfaceFor(step.target);
    if (!intf) return this.finish(step, 'skip:absent');
    const drv = intf.driver as UsbDriver | null;
    if (!drv) return this.finish(step, 'skip:unbound');
    this.disturbed.set(step.target, { n: this.stamp(), reason: 'unbind' });
    const file = `${this.usb.bus.driverPath(drv)}/unbind`;
    if (this.model.attrs.has(file)) {
      const result = this.model.attrs.write(file, intf.name);
      this.launch(step, `unbind ${step.target}`, async () => {
        const r = await result;
        return r.ok ? 'ok' : `error:${r.error.code}`;
      });
      return;
    }
    // usb-serial's usb drivers have no unbind file here (see the report): do what it would do.
    this.launch(step, `unbind ${step.target}`, async () => {
      const pin = getDriver(drv, 'stress:unbind');
      if (!pin) return 'error:ENODEV';
      try {
        const released = await intf.lock.run(() => releaseDevice(this.usb.bus, intf, drv));
        return released ? 'ok' : 'error:ENODEV';
      } finally {
        putDriver(pin);
      }
    });
  }

  private portFor(slot: string): UsbSerialPort | undefined {
    const info = this.slots.get(slot)?.info;
    if (!info) return undefined;
    for (const p of this.serialBus.listDevices()) {
      if (p.state !== 'live' || p.gone) continue;
      if (p.serial.intf.interfaceNumber !== info.interfaceNumber || p.portNumber !== info.portNumber) continue;
      if (this.target.dongleOf(p.serial.usbDevice.host) === info.dongle) return p;
    }
    return undefined;
  }

  /** Why a slot has no port now, for the skip counts. */
  private whyAbsent(st: SlotState): string {
    const d = st.info.dongle;
    if (!this.target.isConnected(d)) return 'absent-unplugged';
    const set = this.topo.dongles.find((x) => x.name === d)?.driverSet;
    const s = set ? this.sets.get(set) : undefined;
    if (s && s.phase !== 'registered') return `absent-${s.phase}`;
    const intf = this.interfaceFor(st.ifKey);
    if (!intf) return 'absent-enumerating';
    if (!intf.driver) return 'absent-unbound';
    return 'absent-probing';
  }

  private trackPort(st: SlotState, port: UsbSerialPort): void {
    if (this.tracked.has(port)) return;
    const t: TrackedPort = {
      port,
      slot: st.info.slot,
      since: this.stamp(),
      sub: port.events.subscribe((e) => this.onPortEvent(st, port, e)),
    };
    this.tracked.set(port, t);
  }

  /**
   * A step's target, or (when it cannot act on it now) another one that it can, picked from the
   * step's own number: the schedule says what to do, the lab's state decides on what.
   */
  private retarget<T extends string>(step: Step, usable: (t: string) => boolean, all: readonly T[]): string | null {
    if (usable(step.target)) return step.target;
    const candidates = all.filter(usable).sort();
    if (candidates.length === 0) return null;
    const chosen = candidates[mixSeed(this.seed, `pick:${step.n}`) % candidates.length]!;
    this.monitor.record('retarget', step.target, chosen);
    return chosen;
  }

  private open(step: Step): void {
    const openable = (slot: string) => this.slots.get(slot)?.phase === 'closed' && this.portFor(slot)?.portState === 'closed';
    const target = this.retarget(step, openable, [...this.slots.keys()]);
    const st = this.slots.get(target ?? step.target);
    if (!st) return this.finish(step, 'skip:unknown-port');
    if (st.phase !== 'closed') return this.finish(step, `skip:${st.phase}`);
    const port = this.portFor(st.info.slot);
    if (!port) return this.finish(step, `skip:${this.whyAbsent(st)}`);
    if (port.portState !== 'closed') return this.finish(step, `skip:port-${port.portState}`);
    this.trackPort(st, port);
    st.phase = 'opening';
    st.port = port;
    st.signals = null;
    const since = this.stamp();
    this.launch(step, `open ${st.info.slot}`, async () => {
      try {
        await port.open({ baudRate: this.o.baudRate ?? 115200 });
      } catch (err) {
        if (st.port === port) {
          st.phase = 'closed';
          st.port = null;
        }
        this.judgeError(step, st, err, since, port);
        return `error:${errCode(err)}`;
      }
      if (st.port !== port || st.phase !== 'opening') return 'error:lost-race';
      st.phase = 'open';
      st.openedAt = this.stamp();
      this.lane(`port ${st.info.slot}`, 'open');
      for (const l of this.touching.get(st.info.slot) ?? []) {
        if (!l.active && this.slots.get(l.from)?.phase === 'open' && this.slots.get(l.to)?.phase === 'open') {
          l.startEpoch(this.monitor.event);
          this.traffic.epochs++;
        }
      }
      return 'ok';
    });
  }

  private close(step: Step): void {
    const target = step.n === TEARDOWN ? step.target : this.retarget(step, (slot) => this.slots.get(slot)?.phase === 'open', [...this.slots.keys()]);
    const st = this.slots.get(target ?? step.target);
    if (!st) return this.finish(step, 'skip:unknown-port');
    if (st.phase !== 'open' || !st.port) return this.finish(step, `skip:${st.phase}`);
    const port = st.port;
    st.phase = 'closing';
    const since = this.stamp();
    this.launch(step, `close ${st.info.slot}`, async () => {
      await this.drain(st.info.slot, `closing ${st.info.slot}`);
      for (const l of this.touching.get(st.info.slot) ?? []) l.endEpoch('close', step.n);
      try {
        await port.close();
      } catch (err) {
        this.judgeError(step, st, err, since, port);
        return `error:${errCode(err)}`;
      } finally {
        if (st.port === port) {
          st.phase = 'closed';
          st.port = null;
          st.signals = null;
          this.lane(`port ${st.info.slot}`, 'closed');
        }
      }
      return 'ok';
    });
  }

  /** Waits until every byte written on the links touching `slot` has arrived; what does not is a loss. */
  private async drain(slot: string, why: string): Promise<void> {
    const links = this.touching.get(slot) ?? [];
    const ok = await this.time.waitFor(() => links.every((l) => l.undelivered === 0), this.o.drainLimitMs ?? 3000);
    if (ok) return;
    for (const l of links) this.reportUndelivered(l, why);
  }

  private reportUndelivered(l: LinkState, why: string): void {
    const e = l.active;
    if (!e || l.undelivered === 0) return;
    this.monitor.checked('traffic-loss');
    this.monitor.violate(
      'traffic-loss',
      `${e.pending.length} of ${e.handed} bytes written on link ${l.id} (epoch ${e.number}, both ends connected) did not arrive within ${this.o.drainLimitMs ?? 3000} ms (${why})`,
      { link: l.id, epoch: e.number, handed: e.handed, reported: e.reported, received: e.received, writesInFlight: e.writesInFlight, startedAtEvent: e.startEvent },
    );
    e.broken = true;
  }

  private write(step: Step): void {
    const live = (id: string) => {
      const l = this.links.get(id);
      return Boolean(l?.active && this.slots.get(l.from)?.phase === 'open' && this.slots.get(l.to)?.phase === 'open');
    };
    const link = this.links.get(this.retarget(step, live, [...this.links.keys()]) ?? step.target);
    if (!link) return this.finish(step, 'skip:unknown-link');
    const from = this.slots.get(link.from)!;
    const to = this.slots.get(link.to)!;
    const e = link.active;
    if (from.phase !== 'open' || to.phase !== 'open' || !from.port || !e) return this.finish(step, 'skip:ends-not-open');
    const port = from.port;
    const size = Math.max(1, Number(step.arg ?? '1') | 0);
    const { bytes, frames } = buildFrames(link.index, e.number, e.nextSeq, size, new Rng(mixSeed(this.seed, `payload:${step.n}`)));
    e.nextSeq += frames;
    e.frames += frames;
    e.handed += bytes.length;
    e.pending.push(bytes);
    e.writesInFlight++;
    const since = this.stamp();
    this.traffic.bytesHanded += bytes.length;
    this.traffic.frames += frames;
    this.traffic.writes++;
    this.launch(step, `write ${link.id}`, async () => {
      try {
        const n = await port.write(bytes);
        e.reported += n;
        return 'ok';
      } catch (err) {
        if (err instanceof PortDisconnectedError) e.reported += err.bytesWritten;
        this.judgeError(step, from, err, since, port);
        return `error:${errCode(err)}`;
      } finally {
        e.writesInFlight--;
      }
    });
  }

  private signals(step: Step): void {
    const target = this.retarget(step, (slot) => this.slots.get(slot)?.phase === 'open', [...this.slots.keys()]);
    const st = this.slots.get(target ?? step.target);
    if (!st) return this.finish(step, 'skip:unknown-port');
    if (st.phase !== 'open' || !st.port) return this.finish(step, `skip:${st.phase}`);
    const port = st.port;
    const want = parseSignalsArg(step.arg);
    st.signalsInFlight++;
    const since = this.stamp();
    this.launch(step, `signals ${st.info.slot}`, async () => {
      try {
        await port.setSignals(want);
        if (st.port === port && st.phase === 'open') {
          st.signals = want;
          st.signalsAt = this.stamp();
        }
        return 'ok';
      } catch (err) {
        if (st.port === port) st.signals = null;
        this.judgeError(step, st, err, since, port);
        return `error:${errCode(err)}`;
      } finally {
        st.signalsInFlight--;
      }
    });
  }

  // ---- causes ----

  private disturb(dongle: string, reason: EpochEnd): void {
    const d = this.topo?.dongles.find((x) => x.name === dongle);
    const n = this.stamp();
    for (const i of d?.interfaces ?? []) this.disturbed.set(`${dongle}:if${i}`, { n, reason });
  }

  /** A point in the run's own order (every recorded action advances it): for before/after questions. */
  private stamp(): number {
    return this.monitor.traceLength;
  }

  /** Why a port of this interface may have gone away since stamp `since`, or null if nothing explains it. */
  private causeOf(st: SlotState, since: number, port?: UsbSerialPort | null): EpochEnd | null {
    const dongle = st.info.dongle;
    if (!this.target.isConnected(dongle)) return 'unplug';
    // The attachment the port belongs to is gone, even if the dongle is back by now.
    if (port && (port.serial.usbDevice.gone || this.target.hostGone(port.serial.usbDevice.host))) return 'unplug';
    // What happened to the dongle since this attachment appeared counts, whenever we met the port.
    const appeared = port ? this.deviceSince.get(port.serial.usbDevice) : undefined;
    if (appeared !== undefined) since = Math.min(since, appeared);
    const d = this.topo.dongles.find((x) => x.name === dongle);
    const set = d?.driverSet ? this.sets.get(d.driverSet) : undefined;
    if (set && set.phase !== 'registered') return 'deregister';
    const dist = this.disturbed.get(st.ifKey);
    if (dist && dist.n >= since) return dist.reason;
    return null;
  }

  /** An operation failed: fine when a disconnect explains it or it is a state race; otherwise a violation. */
  private judgeError(step: Step, st: SlotState, err: unknown, since: number, port: UsbSerialPort | null = st.port): void {
    if (err instanceof PortStateError) return;
    const cause = this.causeOf(st, since, port);
    if (cause) return;
    if (err instanceof PortDisconnectedError) {
      // The port went away: the disconnect handler judges that.
      return;
    }
    if (transferErrorKind(err) === 'disconnected') return;
    this.monitor.checked('unexpected-error');
    this.monitor.violate('unexpected-error', `${describeStep(step)} on ${st.port?.name ?? st.info.slot} failed with nothing to explain it: ${errCode(err)}: ${errMessage(err)}`, {
      step: describeStep(step),
      error: errMessage(err),
    });
  }

  // ---- events ----

  private onPortEvent(st: SlotState, port: UsbSerialPort, e: PortEvent): void {
    switch (e.type) {
      case 'data': {
        const link = this.incoming.get(st.info.slot);
        this.monitor.checked('traffic-order', e.data.length);
        if (!link) {
          this.monitor.violate('traffic-order', `${port.name} (${st.info.slot}) received ${e.data.length} byte(s) but no wire leads to it`);
          return;
        }
        const problem = link.receive(e.data, this.monitor.event);
        if (problem) this.monitor.violate('traffic-order', problem.message, problem.details);
        if (e.errors.length > 0) {
          this.monitor.violate('traffic-order', `${port.name} (${st.info.slot}) reported line errors (${[...new Set(e.errors.map((x) => x.kind))].join(', ')}) on a clean wire`, {
            errors: e.errors.length,
          }, `line-error|${st.info.slot}`);
        }
        return;
      }
      case 'disconnect': {
        const t = this.tracked.get(port);
        const since = t?.since ?? SETUP;
        const cause = this.causeOf(st, since, port);
        this.monitor.checked('unexpected-disconnect');
        if (!cause) {
          this.monitor.violate('unexpected-disconnect', `${port.name} (${st.info.slot}) disconnected with no unplug, unbind or deregistration to explain it`, {
            port: port.name,
            slot: st.info.slot,
          });
        }
        if (st.port === port) {
          st.phase = 'closed';
          st.port = null;
          st.signals = null;
          this.lane(`port ${st.info.slot}`, 'gone');
        }
        for (const l of this.touching.get(st.info.slot) ?? []) l.endEpoch(cause ?? 'disconnect', this.monitor.event);
        return;
      }
      default:
        return;
    }
  }

  private onLoss(loss: Loss): void {
    if (loss.reason === 'close' && loss.lost > 0) {
      this.monitor.violate('traffic-loss', `${loss.lost} byte(s) reported sent on link ${loss.link} (epoch ${loss.epoch}) were lost without an unplug`, { ...loss });
    }
    this.lossSummary.epochs++;
    this.lossSummary.bytes += loss.lost;
    this.lossSummary.byReason[loss.reason] = (this.lossSummary.byReason[loss.reason] ?? 0) + loss.lost;
    if (this.losses.length < 500) this.losses.push(loss);
  }

  private onUevent(e: Uevent): void {
    this.monitor.record('uevent', `${e.bus}/${e.name}`, `${e.action}${e.driver ? ` ${e.driver}` : ''}`);
    if (e.kind === 'driver') {
      if (e.action === 'add') {
        for (const s of this.sets.values()) {
          if (!s.attempt) continue;
          if ((e.bus === 'usb' && e.name === s.name) || (e.bus === 'usb-serial' && s.serialNames.includes(e.name))) {
            const d = e.bus === 'usb' ? this.usb.bus.findDriver(e.name) : this.serialBus.findDriver(e.name);
            if (d) s.attempt.push(d);
          }
        }
      }
      return;
    }
    const key = `${e.bus}/${e.name}`;
    if (e.action === 'add' && e.bus === 'usb') {
      const dev = this.usb.bus.getDevice(e.name);
      if (dev instanceof UsbDevice) this.deviceSince.set(dev, this.stamp());
    }
    if (e.action === 'bind') {
      this.monitor.checked('one-driver-per-device');
      const prior = this.bound.get(key);
      if (prior !== undefined) this.monitor.violate('one-driver-per-device', `${key} bound to '${e.driver}' while still bound to '${prior}'`);
      this.bound.set(key, e.driver ?? '?');
      this.checkDriverAlive(e);
    } else if (e.action === 'unbind') {
      this.monitor.checked('probe-remove-pairing');
      const prior = this.bound.get(key);
      if (prior !== e.driver) this.monitor.violate('probe-remove-pairing', `${key} unbound from '${e.driver}' but was ${prior ? `bound to '${prior}'` : 'not bound'}`);
      this.bound.delete(key);
      this.checkDriverAlive(e);
    } else if (e.action === 'remove') {
      const prior = this.bound.get(key);
      if (prior !== undefined) {
        this.monitor.violate('probe-remove-pairing', `${key} was removed while bound to '${prior}' (no unbind first)`);
        this.bound.delete(key);
      }
    }
  }

  /** A bind or unbind by a driver whose every registration has resolved its deregistration. */
  private checkDriverAlive(e: Uevent): void {
    for (const s of this.sets.values()) {
      const mine = (e.bus === 'usb' && e.driver === s.name) || (e.bus === 'usb-serial' && s.serialNames.includes(e.driver ?? ''));
      if (!mine) continue;
      this.monitor.checked('method-after-unregistration');
      if (s.live <= 0) {
        this.monitor.violate('method-after-unregistration', `${e.action} of ${e.bus}/${e.name} by '${e.driver}' after its deregistration had resolved`, undefined, `late-${e.action}|${e.driver}`);
      }
    }
  }

  /** @internal errors that escaped: unhandled rejections, exceptions, timer callbacks that threw. */
  escapedError(err: unknown, how: string): void {
    if (err && typeof err === 'object') {
      if (this.escaped.has(err)) return;
      this.escaped.add(err);
    }
    if (err instanceof PinError && /driverAttach/.test(err.message)) {
      this.monitor.violate('method-after-unregistration', `driverAttach() through a pin already put back, i.e. after the driver could be unregistered (${how}): ${err.message}`, undefined, `late-attach|${err.message.replace(/\d+/g, 'N')}`);
      return;
    }
    this.monitor.violate('escaped-error', `${how}: ${errCode(err)}: ${errMessage(err)}`, { stack: err instanceof Error ? err.stack?.split('\n').slice(0, 6).join('\n') : undefined }, `escaped|${errMessage(err).replace(/\d+/g, 'N')}`);
  }

  // ---- checks ----

  /** Cheap checks valid at any instant, after every step. */
  stepChecks(): void {
    this.watch.checkPairing();
    this.goneChecks();
    this.dynIdChecks();
    this.claimChecks();
  }

  private goneChecks(): void {
    for (const g of this.watch.recentlyGone) {
      const d = g.driver as AnyDriver;
      this.monitor.checked('leaked-dynamic-id');
      if (d.dynIds.size > 0) {
        this.monitor.violate('leaked-dynamic-id', `${d.bus.name} driver '${d.name}' still has ${d.dynIds.size} dynamic ID(s) (${d.dynIds.list().map((x: unknown) => formatUsbId(x as UsbDeviceId)).join(', ')}) after its deregistration resolved`, undefined, `gone-dynid|${d.bus.name}|${d.name}|${g.event}`);
      }
      this.monitor.checked('leaked-pin');
      if (d.pins.size > 0) {
        this.monitor.violate('leaked-pin', `${d.bus.name} driver '${d.name}' holds ${d.pins.size} pin(s) after its deregistration resolved: ${[...d.pins].map((p) => p.takenAt).join('; ')}`, undefined, `gone-pin|${d.bus.name}|${d.name}|${g.event}`);
      }
      this.monitor.checked('probe-remove-pairing');
      if (d.boundDevices.size > 0) {
        this.monitor.violate('probe-remove-pairing', `${d.bus.name} driver '${d.name}' still has ${d.boundDevices.size} bound device(s) after its deregistration resolved`, undefined, `gone-bound|${d.bus.name}|${d.name}|${g.event}`);
      }
    }
  }

  private dynIdChecks(): void {
    for (const s of this.sets.values()) {
      const reg = s.reg;
      if (!reg || reg.state !== 'registered') continue;
      const serialKeys = new Set<string>();
      for (const sd of reg.serialDrivers) {
        const written = this.written.get(sd) ?? new Set<string>();
        for (const id of sd.dynIds.list()) {
          const u = id as UsbDeviceId;
          const key = idKey(u.vendor ?? 0, u.product ?? 0);
          serialKeys.add(key);
          this.monitor.checked('leaked-dynamic-id');
          if (!written.has(key)) this.monitor.violate('leaked-dynamic-id', `serial driver '${sd.name}' has dynamic ID ${key} that nobody wrote to its new_id in this registration`, undefined, `unwritten|${sd.name}|${key}`);
        }
      }
      for (const id of reg.usbDriver.dynIds.list()) {
        const key = idKey(id.vendor ?? 0, id.product ?? 0);
        this.monitor.checked('leaked-dynamic-id');
        if (!serialKeys.has(key)) this.monitor.violate('leaked-dynamic-id', `usb driver '${reg.usbDriver.name}' keeps dynamic ID ${key} that none of its serial drivers has`, undefined, `orphan|${reg.usbDriver.name}|${key}`);
      }
    }
  }

  private usbDeviceOf(dongle: string): UsbDevice | undefined {
    for (const dev of this.usb.bus.listDevices()) {
      if (dev instanceof UsbDevice && dev.state === 'live' && !dev.gone && this.target.dongleOf(dev.host) === dongle) return dev;
    }
    return undefined;
  }

  private usbDevicesOf(dongle: string): UsbDevice[] {
    return this.usb.bus.listDevices().filter((dev): dev is UsbDevice => dev instanceof UsbDevice && dev.state !== 'dead' && this.target.dongleOf(dev.host) === dongle);
  }

  /** Claimed interfaces and open devices only while something is bound; nothing held once unplugged. */
  private claimChecks(): void {
    for (const d of this.topo?.dongles ?? []) {
      const r = this.target.resources(d.name);
      const dev = this.usbDeviceOf(d.name);
      // Interfaces something may hold: bound (or probing) on any attachment still on the bus,
      // the one being torn down included.
      const boundIfs = new Set<number>();
      for (const x of this.usbDevicesOf(d.name)) for (const i of x.interfaces) if (i.driver !== null || i.claimed) boundIfs.add(i.interfaceNumber);
      if (dev) {
        for (const i of dev.interfaces) {
          this.monitor.checked('leaked-claim');
          if (i.claimed && i.driver === null) this.monitor.violate('leaked-claim', `${i.name} is still claimed with no driver bound`, undefined, `claimed-flag|${i.name}`);
        }
      }
      if (!r) continue;
      this.monitor.checked('leaked-claim');
      if (!r.plugged) {
        if (r.claimedInterfaces.length || r.opened || r.pendingTransfers) {
          this.monitor.violate('leaked-claim', `unplugged dongle ${d.name} still shows ${JSON.stringify(r)}`, undefined, `unplugged|${d.name}`);
        }
        continue;
      }
      // usb-serial binds interface by interface and the bus claims what it binds: an interface
      // claimed with no driver bound to it is one somebody took and did not give back.
      const stray = r.claimedInterfaces.filter((n) => !boundIfs.has(n));
      if (stray.length) {
        this.monitor.violate('leaked-claim', `dongle ${d.name}: interface(s) ${stray.join(', ')} claimed with no driver bound to them`, { dongle: d.name, claimed: r.claimedInterfaces, bound: [...boundIfs] }, `stray-claim|${d.name}|${stray.join(',')}`);
      }
      if (r.opened && boundIfs.size === 0) {
        this.monitor.violate('leaked-claim', `dongle ${d.name} is left open with no driver bound`, undefined, `open|${d.name}`);
      }
    }
  }

  /** Full checks at a quiescent point (nothing in flight). */
  private async fullChecks(label: string): Promise<void> {
    this.stepChecks();
    // Pins: nothing runs, so nothing may hold one.
    for (const d of [...this.usb.bus.listDrivers(), ...this.serialBus.listDrivers()] as AnyDriver[]) {
      this.monitor.checked('leaked-pin');
      if (d.pins.size > 0) {
        this.monitor.violate('leaked-pin', `${d.bus.name} driver '${d.name}' holds ${d.pins.size} pin(s) with nothing running (${label}): ${[...d.pins].map((p) => p.takenAt).join('; ')}`, undefined, `pin|${d.bus.name}|${d.name}`);
      }
      // At most one driver per device, by state.
      for (const dev of d.boundDevices) {
        this.monitor.checked('one-driver-per-device');
        if ((dev as { driver: unknown }).driver !== d) this.monitor.violate('one-driver-per-device', `${dev.name} is in '${d.name}''s bound devices but its driver is '${(dev as { driver: AnyDriver | null }).driver?.name ?? 'none'}'`);
      }
    }
    // Pending transfers: only while something is bound.
    for (const d of this.topo.dongles) {
      const r = this.target.resources(d.name);
      if (!r || !r.plugged) continue;
      const dev = this.usbDeviceOf(d.name);
      const anyBound = dev?.interfaces.some((i) => i.driver !== null) ?? false;
      this.monitor.checked('leaked-transfer');
      if (r.pendingTransfers > 0 && !anyBound) {
        this.monitor.violate('leaked-transfer', `dongle ${d.name} has ${r.pendingTransfers} transfer(s) pending with no driver bound (${label})`, undefined, `pending|${d.name}`);
      }
      // Listeners on the device's disconnect signal: only bound drivers may keep them.
      if (dev && !anyBound && this.getEventListeners) {
        const n = this.getEventListeners(dev.disconnected, 'abort').length;
        this.monitor.checked('leaked-listener');
        if (n > 0) this.monitor.violate('leaked-listener', `${dev.name} (${d.name}) keeps ${n} 'abort' listener(s) on its disconnect signal with no driver bound`, undefined, `abort|${d.name}`);
      }
    }
    // Port event streams: a removed port's stream completes, so its listeners are let go.
    for (const [port, t] of this.tracked) {
      if (t.sub.closed) {
        this.tracked.delete(port);
        continue;
      }
      if (port.state === 'dead') {
        this.monitor.checked('leaked-listener');
        this.monitor.violate('leaked-listener', `${port.name} (${t.slot}) was removed but its event stream never completed: its listeners stay attached`, undefined, `port-stream|${port.name}|${t.since}`);
        t.sub.unsubscribe();
        this.tracked.delete(port);
      }
    }
    const observers = this.ueventObservers();
    this.monitor.checked('leaked-listener');
    if (observers > this.ueventBaseline) this.monitor.violate('leaked-listener', `${observers - this.ueventBaseline} uevent subscriber(s) more than at the start (${label})`, undefined, `uevents|${observers}`);
    // ttyUSB minors: one per live port.
    this.monitor.checked('leaked-minor');
    const livePorts = this.serialBus.listDevices().length;
    if (this.serialBus.minors.inUse !== livePorts) {
      this.monitor.violate('leaked-minor', `${this.serialBus.minors.inUse} ttyUSB minor(s) in use for ${livePorts} port(s) (${label})`, undefined, `minor|${this.serialBus.minors.inUse - livePorts}`);
    }
    await this.modemChecks();
  }

  private ueventObservers(): number {
    const subject = (this.model.ueventBus as unknown as { subject?: { observers?: unknown[] } }).subject;
    return subject?.observers?.length ?? 0;
  }

  /** On a live link whose sender set DTR/RTS, the receiver reads them as DSR+DCD and CTS. */
  private async modemChecks(): Promise<void> {
    for (const l of this.links.values()) {
      const from = this.slots.get(l.from)!;
      const to = this.slots.get(l.to)!;
      if (!l.active || from.phase !== 'open' || to.phase !== 'open' || !from.signals || from.signalsInFlight > 0 || !to.port) continue;
      // Only a change the receiver saw happen: a chip that reports its lines by notification
      // (the PL2303) tells a port opened later only at the next change.
      if (from.signalsAt < to.openedAt) continue;
      const want = from.signals;
      let lines;
      try {
        lines = await to.port.getSignals();
      } catch {
        continue;
      }
      if (from.phase !== 'open' || to.phase !== 'open' || from.signals !== want) continue;
      this.monitor.checked('modem-lines');
      // An input the device does not report (CDC-ACM's CTS) reads its fixed value, not the wire.
      const fixed = to.port.capabilities?.fixedInputs ?? {};
      const expect = { cts: fixed.cts ?? want.rts, dsr: fixed.dsr ?? want.dtr, dcd: fixed.dcd ?? want.dtr };
      if (lines.cts !== expect.cts || lines.dsr !== expect.dsr || lines.dcd !== expect.dcd) {
        this.monitor.violate('modem-lines', `${to.port?.name ?? l.to} reads cts=${+lines.cts} dsr=${+lines.dsr} dcd=${+lines.dcd} while ${l.from} set rts=${+want.rts} dtr=${+want.dtr} (link ${l.id})`, undefined, `modem|${l.id}|${+want.rts}${+want.dtr}|${+lines.cts}${+lines.dsr}${+lines.dcd}`);
      }
    }
  }

  // ---- checkpoints ----

  /** Waits for quiet (operations, hotplug queues, bytes in flight), then checks everything. */
  async settle(label: string, checks = true): Promise<void> {
    const limit = this.o.settleLimitMs ?? 10_000;
    let done = false;
    const quiet = (async () => {
      for (let round = 0; round < 50; round++) {
        const ops = [...this.inflight].filter((o) => !o.stuck).map((o) => o.promise);
        await Promise.allSettled(ops);
        await this.target.flush();
        await this.usb.settled();
        if (this.activeOps() === 0) break;
      }
    })().then(() => (done = true));
    void quiet;
    const ok = await this.time.waitFor(() => done, limit);
    if (!ok) {
      const stuck = [...this.inflight].filter((o) => !o.stuck);
      for (const op of stuck) op.stuck = true;
      const pins = ([...this.usb.bus.listDrivers(), ...this.serialBus.listDrivers()] as AnyDriver[])
        .filter((d) => d.pins.size > 0)
        .map((d) => `${d.bus.name}:${d.name} (${d.state}) pins: ${[...d.pins].map((p) => p.takenAt).join('; ')}`);
      const what = stuck.length ? stuck.map((o) => `${o.label} (event #${o.n})`).join(', ') : 'the USB hotplug queue';
      const invariant: Invariant = pins.length ? 'leaked-pin' : 'stuck';
      this.monitor.violate(invariant, `${what} did not finish within ${limit} ms (${label})${pins.length ? `; ${pins.join(' | ')}` : ''}`, { pins, ops: stuck.map((o) => o.label) });
      this.stopped ??= `stuck at ${label}`;
      return;
    }
    const delivered = await this.time.waitFor(() => [...this.links.values()].every((l) => l.undelivered === 0), this.o.drainLimitMs ?? 3000);
    if (!delivered) for (const l of this.links.values()) this.reportUndelivered(l, label);
    if (checks) await this.fullChecks(label);
  }

  // ---- teardown ----

  async teardown(): Promise<void> {
    this.monitor.event = TEARDOWN;
    this.monitor.now = this.time.now();
    if (this.stopped?.startsWith('stuck')) return this.finalize();
    await this.settle('end of schedule');
    const stepOf = (kind: StepKind, target: string): Step => {
      this.counts[kind].issued++;
      return { n: TEARDOWN, t: this.time.now(), kind, target, turns: 0 };
    };
    for (const st of this.slots.values()) if (st.phase === 'open') this.close(stepOf('close', st.info.slot));
    await this.settle('closing every port');
    await this.target.restore();
    for (const s of this.sets.values()) if (s.phase === 'registered') this.deregister(stepOf('deregister', s.name));
    await this.settle('deregistering every driver set');
    await this.target.disconnectAll();
    await this.target.flush();
    await this.settle('unplugging every dongle');
    this.finalize();
  }

  private finalize(): void {
    for (const l of this.links.values()) {
      l.endEpoch('end', TEARDOWN);
      l.finishAll();
    }
    this.udev?.stop();
    this.uevSub?.unsubscribe();
  }

  async shutdown(): Promise<void> {
    if (!this.stopped?.startsWith('stuck')) {
      await this.usb.stop();
    }
  }

  // ---- results ----

  private lane(name: string, state: string): void {
    if (this.o.timeline === false) return;
    let l = this.lanes.get(name);
    if (!l) this.lanes.set(name, (l = []));
    if (l.length < 20_000 && l[l.length - 1]?.state !== state) l.push({ t: this.time.now(), n: this.monitor.event, state });
  }

  result(rates: Rates, base: Readonly<Rates>, hotplug: 'plug' | 'power', command: string): StressResult {
    const wallMs = realNow() - this.wallStart;
    let bytesReceived = 0;
    let bytesReported = 0;
    for (const l of this.links.values()) {
      bytesReceived += l.totalReceived;
      bytesReported += l.totalReported;
    }
    const ratesText = formatRates(rates, base);
    const extra = `${hotplug === 'power' && this.target.kind === 'mock' ? ' --hotplug power' : ''}${ratesText ? ` --rates ${ratesText}` : ''}`;
    return {
      ok: this.monitor.violations.length === 0 && this.monitor.suppressed === 0,
      seed: this.seed,
      target: this.target.kind,
      hotplug,
      rates,
      events: this.events,
      cycles: this.cycles,
      wallMs: Math.round(wallMs),
      logicalMs: Math.round(this.time.now()),
      eventsPerSecond: wallMs > 0 ? Math.round((this.events * 1000) / wallMs) : 0,
      counts: this.counts,
      checks: { ...this.monitor.checks },
      violations: this.monitor.violations,
      suppressedViolations: this.monitor.suppressed,
      losses: this.losses,
      lossSummary: this.lossSummary,
      traffic: { ...this.traffic, bytesReported, bytesReceived },
      udevWrites: this.udev?.writes ?? 0,
      driverCalls: { ...this.watch.calls },
      traceHash: this.monitor.traceHash,
      traceLength: this.monitor.traceLength,
      stoppedEarly: this.stopped,
      replay: {
        command: `${command} --seed ${formatSeed(this.seed)} --events ${this.events}${extra}`,
        seed: formatSeed(this.seed),
        events: this.events,
        rates: ratesText,
      },
      timeline: this.monitor.timeline,
      timelineDropped: this.monitor.timelineDropped,
      lanes: Object.fromEntries(this.lanes),
      topology: this.topo,
    };
  }
}

// ---- entry points --------------------------------------------------------------------------

/**
 * Real labs: a power cycle takes a second or two to come back (bPwrOn2PwrGood, enumeration), and
 * every event costs real transfers; the defaults there are gentler.
 */
export const REAL_LAB_RATES: Readonly<Rates> = Object.freeze({ ...DEFAULT_RATES, hotplug: 0.5, registration: 0.3, new_id: 0.5, remove_id: 0.3, bind: 0.5, unbind: 0.5, open: 8, close: 2, write: 20, signals: 3, check: 0.5 });

function resolveRates(r: StressOptions['rates'], base: Readonly<Rates>): Rates {
  if (r === undefined) return { ...base };
  if (typeof r === 'string') return parseRates(r, base);
  const rates = { ...base, ...r };
  for (const [k, v] of Object.entries(rates)) {
    if (!Number.isFinite(v) || v < 0) throw new StressOptionError(`rate for ${k} must be a number >= 0, got ${String(v)}`);
  }
  return rates;
}

/** One run, no shrinking. */
export async function runOnce(options: StressOptions): Promise<StressResult> {
  const seed = (options.seed ?? randomSeed()) >>> 0;
  const base = options.hubs ? REAL_LAB_RATES : DEFAULT_RATES;
  const rates = resolveRates(options.rates, base);
  const hotplug = options.hubs ? 'power' : (options.hotplug ?? 'plug');
  let target: Target;
  if (options.hubs) {
    target = new HubTarget(options.hubs);
  } else {
    const lab = typeof options.lab === 'function' ? options.lab() : options.lab;
    if (!lab) throw new StressOptionError('runStress needs a lab (e.g. createMockLab from usb-serial-harness/mocks) or real hubs');
    target = new MockTarget(lab, hotplug);
  }
  const clock = target.kind === 'mock' ? new VirtualClock() : null;
  const limits = {
    ...(options.events !== undefined ? { events: options.events } : {}),
    ...(options.cycles !== undefined ? { cycles: options.cycles } : {}),
    ...(options.durationMs !== undefined ? { durationMs: options.durationMs } : {}),
  };
  if (!options.schedule && limits.events === undefined && limits.cycles === undefined && limits.durationMs === undefined) limits.events = 2000;
  const run = new StressRun(seed, target, clock, { ...options, rates });
  const onRejection = (reason: unknown) => run.escapedError(reason, 'unhandled rejection');
  const onException = (err: unknown) => run.escapedError(err, 'uncaught exception');
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  // The emulations' timers are unref'd: without this a run waiting on one would let Node exit.
  const keepAlive = setInterval(() => undefined, 60_000);
  clock?.install();
  options.onClock?.(clock);
  if (clock) clock.onError = (err) => run.escapedError(err, 'a timer callback threw');
  let result: StressResult;
  try {
    await run.setup();
    const steps: Iterator<Step> = options.schedule ? options.schedule[Symbol.iterator]() : generatorIterator(new ScheduleGenerator(seed, rates, run.topology));
    await run.run(steps, limits);
    await run.teardown();
    await run.shutdown();
    result = run.result(rates, base, hotplug, options.command ?? (target.kind === 'mock' ? 'usb-harness stress --mock-lab' : 'usb-harness stress'));
    if (options.schedule) result.schedule = [...options.schedule];
  } finally {
    // Let anything the teardown left behind run under logical time before the real timers return.
    if (clock) await clock.advanceTo(clock.elapsed + 100, 100).catch(() => undefined);
    clock?.uninstall();
    clearInterval(keepAlive);
    options.onClock?.(null);
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    await target.close().catch((err: unknown) => log.warn({ err }, 'closing the lab failed'));
  }
  return result;
}

function* generatorIterator(g: ScheduleGenerator): Iterator<Step> {
  for (;;) yield g.next();
}

/**
 * The stress harness's library entry point. Runs the schedule of `seed` (or the given one) on the
 * mock lab or on real hubs, checking the invariants as it goes; on the mock lab a failing run is
 * shrunk to a minimal schedule (when `lab` is a factory).
 */
export async function runStress(options: StressOptions): Promise<StressResult> {
  const seed = (options.seed ?? randomSeed()) >>> 0;
  const first = await runOnce({ ...options, seed });
  const canShrink = !options.hubs && typeof options.lab === 'function' && options.shrink !== false;
  if (!first.ok && canShrink && first.violations.length > 0) {
    const shrunk = await shrink({ ...options, seed }, first, typeof options.shrink === 'object' ? options.shrink : {});
    if (shrunk) first.shrunk = shrunk;
  }
  return first;
}

async function shrink(options: StressOptions, failing: StressResult, o: ShrinkOptions): Promise<ShrinkResult | undefined> {
  const first = failing.violations[0]!;
  const invariant = first.invariant;
  const upTo = first.event >= 0 ? first.event + 1 : failing.events;
  const steps = options.schedule
    ? options.schedule.filter((s) => first.event < 0 || s.n <= first.event)
    : scheduleOf(failing.seed, failing.rates, failing.topology, upTo);
  let last: StressResult | null = null;
  const done = await shrinkSchedule(
    steps,
    async (candidate) => {
      const r = await runOnce({
        ...options,
        seed: failing.seed,
        schedule: candidate,
        stopOnViolation: true,
        maxViolations: 5,
        timeline: false,
        onProgress: undefined,
        onViolation: undefined,
        onClock: undefined,
      });
      const hit = r.violations.some((v) => v.invariant === invariant);
      if (hit) last = r;
      return hit;
    },
    { maxRuns: o.maxRuns ?? 200, maxMs: o.maxMs ?? 60_000 },
  );
  if (!done) return undefined;
  const final = last as StressResult | null;
  return {
    invariant,
    steps: done.steps,
    from: steps.length,
    runs: done.runs,
    ms: done.ms,
    violation: final?.violations.find((v) => v.invariant === invariant) ?? first,
    traceHash: final?.traceHash ?? '',
  };
}

/** The first `count` steps of a seed's schedule on a lab (what a run with --events count does). */
export function scheduleOf(seed: number, rates: Rates, topology: Topology, count: number): Step[] {
  return new ScheduleGenerator(seed, rates, topology).take(count);
}

export { INVARIANTS };
