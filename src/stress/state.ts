// The state one stress run shares between its parts: the lab and the subsystems under test,
// what the harness believes about driver sets, port slots and links, the operations in flight,
// and the few helpers every part uses (record an outcome, launch an operation, find a port).
import type { Subscription } from 'rxjs';
import { CoreError, DriverModel, type AnyDriver } from '../core/index.ts';
import { usbSerialBusOf, type SerialDriver, type SerialDriverSpec, type UsbSerialBus, type UsbSerialPort, type UsbSerialRegistration } from '../serial/index.ts';
import { createStack, type UsbSerialStack } from '../stack.ts';
import { UsbInterface } from '../usb/index.ts';
import type { UsbSubsystem } from '../usb/subsystem.ts';
import type { UsbDeviceId } from '../usb/ids.ts';
import type { VirtualClock } from './clock.ts';
import { DriverWatch } from './instrument.ts';
import { Monitor } from './monitor.ts';
import type { LaneChange, StepCounts, StressOptions } from './options.ts';
import { STEP_KINDS, type Rates, type Step, type StepKind, type Topology, type TopologyPort } from './schedule.ts';
import type { Target } from './target.ts';
import { LogicalTime, realNow, WallTime, type TimeDriver } from './time.ts';
import type { EpochEnd, LinkState, Loss } from './traffic.ts';
import type { UdevRule } from './udev.ts';

export interface Op {
  readonly n: number;
  readonly label: string;
  readonly started: number;
  promise: Promise<void>;
  stuck: boolean;
}

export type SetPhase = 'registering' | 'registered' | 'deregistering' | 'deregistered' | 'failed';

export interface SetState {
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

export interface SlotState {
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

export interface TrackedPort {
  readonly port: UsbSerialPort;
  readonly slot: string;
  readonly since: number;
  sub: Subscription;
}

export const SETUP = -1;
export const TEARDOWN = -2;

export function errCode(err: unknown): string {
  if (err instanceof CoreError) return `${err.name}:${err.code}`;
  const name = (err as { name?: unknown })?.name;
  return typeof name === 'string' && name ? name : 'Error';
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export const idKey = (vendor: number, product: number) => `${vendor.toString(16).padStart(4, '0')}:${product.toString(16).padStart(4, '0')}`;

export function newIdKey(text: string): string | null {
  const w = text.trim().split(/\s+/);
  if (w.length < 2 || !/^(0x)?[0-9a-f]+$/i.test(w[0]!) || !/^(0x)?[0-9a-f]+$/i.test(w[1]!)) return null;
  return idKey(Number.parseInt(w[0]!.replace(/^0x/i, ''), 16), Number.parseInt(w[1]!.replace(/^0x/i, ''), 16));
}

export class RunState {
  readonly monitor: Monitor;
  readonly watch: DriverWatch;
  readonly time: TimeDriver;
  readonly model = new DriverModel({ pinWaitLogMs: 60_000 });
  /** The stack under test (createStack), built by buildStack() at setup. */
  stack!: UsbSerialStack;
  serialBus!: UsbSerialBus;
  topo!: Topology;
  readonly sets = new Map<string, SetState>();
  readonly slots = new Map<string, SlotState>();
  readonly links = new Map<string, LinkState>();
  readonly touching = new Map<string, LinkState[]>();
  readonly incoming = new Map<string, LinkState>();
  readonly inflight = new Set<Op>();
  readonly tracked = new Map<UsbSerialPort, TrackedPort>();
  readonly disturbed = new Map<string, { n: number; reason: EpochEnd }>();
  readonly written = new WeakMap<SerialDriver, Set<string>>();
  /** When each usb device (attachment) was added, in stamps. */
  readonly deviceSince = new WeakMap<object, number>();
  readonly bound = new Map<string, string>();
  readonly losses: Loss[] = [];
  readonly lossSummary = { epochs: 0, bytes: 0, byReason: {} as Record<string, number> };
  readonly counts = Object.fromEntries(STEP_KINDS.map((k) => [k, { issued: 0, ok: 0, skipped: 0, failed: 0, errors: {}, skips: {} }])) as Record<StepKind, StepCounts>;
  readonly lanes = new Map<string, LaneChange[]>();
  readonly traffic = { bytesHanded: 0, frames: 0, epochs: 0, writes: 0 };
  udev: UdevRule | null = null;
  uevSub: Subscription | null = null;
  ueventBaseline = 0;
  getEventListeners: ((t: EventTarget, name: string) => unknown[]) | null = null;
  events = 0;
  cycles = 0;
  stopped: string | null = null;
  readonly wallStart = realNow();
  lastProgress = 0;
  readonly escaped = new WeakSet<object>();

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
  }

  get usb(): UsbSubsystem {
    return this.stack.usb;
  }

  /**
   * Composes the stack on the run's model with no driver sets and the host not yet attached: the
   * run registers its sets itself (each a tracked step) and attaches the host once the lab is plugged.
   */
  async buildStack(): Promise<void> {
    this.stack = await createStack({ host: this.target.backend, model: this.model, attachHost: false, closeHost: false });
    this.serialBus = usbSerialBusOf(this.stack.usb.bus);
  }

  /** Records a step's outcome (immediately, or when its operation completes). */
  finish(step: Step, outcome: string): void {
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
  launch(step: Step | null, label: string, fn: () => Promise<string>): void {
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

  lane(name: string, state: string): void {
    if (this.o.timeline === false) return;
    let l = this.lanes.get(name);
    if (!l) this.lanes.set(name, (l = []));
    if (l.length < 20_000 && l[l.length - 1]?.state !== state) l.push({ t: this.time.now(), n: this.monitor.event, state });
  }

  /** A point in the run's own order (every recorded action advances it): for before/after questions. */
  stamp(): number {
    return this.monitor.traceLength;
  }

  activeOps(): number {
    let n = 0;
    for (const op of this.inflight) if (!op.stuck) n++;
    return n;
  }

  interfaceFor(key: string): UsbInterface | undefined {
    const m = /^(.*):if(\d+)$/.exec(key);
    if (!m) return undefined;
    const n = Number(m[2]);
    for (const dev of this.usb.bus.listDevices()) {
      if (dev instanceof UsbInterface && dev.state === 'live' && !dev.usbDevice.gone && dev.interfaceNumber === n && this.target.dongleOf(dev.usbDevice.host) === m[1]) return dev;
    }
    return undefined;
  }

  portFor(slot: string): UsbSerialPort | undefined {
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
  whyAbsent(st: SlotState): string {
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
}
