// What a stress run takes (StressOptions) and what it gives back (StressResult), and the rate
// defaults for real labs.
import type { StressCapture, StressCaptureOptions } from './capture.ts';
import type { VirtualClock } from './clock.ts';
import type { Invariant, TimelineRecord, Violation } from './monitor.ts';
import { DEFAULT_RATES, parseRates, StressOptionError, type Rates, type Step, type StepKind, type Topology } from './schedule.ts';
import type { PortPowerMethod } from './hubs.ts';
import type { HubTargetOptions, StressLab } from './target.ts';
import type { UsbipTargetOptions } from './usbip-target.ts';
import type { Loss } from './traffic.ts';

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
  /** Remote dongles of a USB/IP lab, imported here (src/stress/usbip-target.ts). */
  usbip?: UsbipTargetOptions;
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
  /** Record the dongles' USB traffic for the report of a failure, and to a file (default on; false: off). */
  capture?: StressCaptureOptions | false;
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
  target: 'mock' | 'hubs' | 'usbip';
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
  /** Port power switches by how they were made (sysfs `disable` attribute or hub class request). */
  powerMethods?: Partial<Record<PortPowerMethod, number>>;
  /** The steps run, when they were given (a schedule replay) or when a shrink needs them. */
  schedule?: Step[];
  shrunk?: ShrinkResult;
  /** The run's USB traffic (src/stress/capture.ts), unless `capture: false`. */
  capture?: StressCapture;
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

/**
 * Real labs: a power cycle takes a second or two to come back (bPwrOn2PwrGood, enumeration), and
 * every event costs real transfers; the defaults there are gentler.
 */
export const REAL_LAB_RATES: Readonly<Rates> = Object.freeze({ ...DEFAULT_RATES, hotplug: 0.5, registration: 0.3, new_id: 0.5, remove_id: 0.3, bind: 0.5, unbind: 0.5, open: 8, close: 2, write: 20, signals: 3, check: 0.5 });

export function resolveRates(r: StressOptions['rates'], base: Readonly<Rates>): Rates {
  if (r === undefined) return { ...base };
  if (typeof r === 'string') return parseRates(r, base);
  const rates = { ...base, ...r };
  for (const [k, v] of Object.entries(rates)) {
    if (!Number.isFinite(v) || v < 0) throw new StressOptionError(`rate for ${k} must be a number >= 0, got ${String(v)}`);
  }
  return rates;
}

