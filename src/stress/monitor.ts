// What a run records: the trace of events and outcomes (hashed, so two runs of a seed can be
// compared without keeping everything), a short recent history, and the violations, each with
// the seed, the event number and the history that led to it.
import { fnv1a } from './random.ts';

export const INVARIANTS = [
  'method-after-unregistration',
  'one-driver-per-device',
  'probe-remove-pairing',
  'leaked-pin',
  'leaked-dynamic-id',
  'leaked-claim',
  'leaked-transfer',
  'leaked-listener',
  'leaked-minor',
  'traffic-order',
  'traffic-loss',
  'unexpected-disconnect',
  'unexpected-error',
  'modem-lines',
  'stuck',
  'escaped-error',
] as const;
export type Invariant = (typeof INVARIANTS)[number];

/** One line of the trace: a step, a step's completion, a udev action, a uevent, a check. */
export interface TraceEntry {
  /** Event number of the step it belongs to (-1: setup, before the first step). */
  readonly n: number;
  /** Logical ms. */
  readonly t: number;
  readonly what: string;
  readonly target: string;
  /** ok, skip:<why>, error:<code>, or a short result. */
  readonly outcome: string;
}

export interface Violation {
  readonly invariant: Invariant;
  readonly message: string;
  readonly seed: number;
  /** The event number current when it was found. */
  readonly event: number;
  readonly t: number;
  /** The events before it, oldest first. */
  readonly history: readonly string[];
  readonly details?: Readonly<Record<string, unknown>>;
  /** How many times the same problem was seen again (not recorded again). */
  repeats: number;
}

export interface TimelineRecord {
  readonly n: number;
  readonly t: number;
  readonly kind: string;
  readonly target: string;
  readonly outcome: string;
}

export interface MonitorOptions {
  seed: number;
  historySize?: number;
  /** Step records kept for the timeline (beyond that only counts are kept). */
  timelineLimit?: number;
  /** Stop recording new violations after this many (repeats are still counted). */
  maxViolations?: number;
  /** Called for each new violation (the CLI's progress bar, fail-fast). */
  onViolation?: (v: Violation) => void;
}

export const formatEntry = (e: TraceEntry): string =>
  `t=${e.t.toFixed(1)} #${e.n} ${e.what}${e.target ? ` ${e.target}` : ''} -> ${e.outcome}`;

export class Monitor {
  readonly seed: number;
  readonly violations: Violation[] = [];
  /** Checks made per invariant (a check is one object examined at one moment). */
  readonly checks: Record<Invariant, number> = Object.fromEntries(INVARIANTS.map((i) => [i, 0])) as Record<Invariant, number>;
  /** Completed step records for the timeline. */
  readonly timeline: TimelineRecord[] = [];
  timelineDropped = 0;
  /** The event number and logical time now. */
  event = -1;
  now = 0;
  private hash = 0x811c9dc5;
  private entries = 0;
  private readonly history: string[] = [];
  private readonly historySize: number;
  private readonly timelineLimit: number;
  private readonly maxViolations: number;
  private readonly seen = new Map<string, Violation>();
  suppressed = 0;

  constructor(private readonly options: MonitorOptions) {
    this.seed = options.seed;
    this.historySize = options.historySize ?? 40;
    this.timelineLimit = options.timelineLimit ?? 50_000;
    this.maxViolations = options.maxViolations ?? 50;
  }

  /** A hash of everything recorded: equal for two runs that did the same things with the same outcomes. */
  get traceHash(): string {
    return `${this.hash.toString(16).padStart(8, '0')}:${this.entries}`;
  }

  get traceLength(): number {
    return this.entries;
  }

  record(what: string, target: string, outcome: string, n = this.event): void {
    const e: TraceEntry = { n, t: this.now, what, target, outcome };
    const line = formatEntry(e);
    // Pin numbers count per process, not per run: two runs of a seed differ only there.
    this.hash = fnv1a(`${line.replace(/pin #\d+/g, 'pin #N')}\n`, this.hash);
    this.entries++;
    this.history.push(line);
    if (this.history.length > this.historySize) this.history.shift();
  }

  /** A step's final outcome, for the timeline. */
  stepDone(n: number, t: number, kind: string, target: string, outcome: string): void {
    if (this.timeline.length < this.timelineLimit) this.timeline.push({ n, t, kind, target, outcome });
    else this.timelineDropped++;
  }

  /** Counts one check of an invariant (for the summary table). */
  checked(invariant: Invariant, count = 1): void {
    this.checks[invariant] += count;
  }

  /**
   * Records a violation. `key` identifies the problem (default: invariant + message) so that the
   * same leak seen at every later check is counted, not listed again.
   */
  violate(invariant: Invariant, message: string, details?: Record<string, unknown>, key = `${invariant}|${message}`): Violation | null {
    const prior = this.seen.get(key);
    if (prior) {
      prior.repeats++;
      return null;
    }
    this.record('VIOLATION', invariant, message);
    const v: Violation = {
      invariant,
      message,
      seed: this.seed,
      event: this.event,
      t: this.now,
      history: [...this.history],
      ...(details ? { details } : {}),
      repeats: 0,
    };
    this.seen.set(key, v);
    if (this.violations.length >= this.maxViolations) {
      this.suppressed++;
      return null;
    }
    this.violations.push(v);
    this.options.onViolation?.(v);
    return v;
  }

  recentHistory(): string[] {
    return [...this.history];
  }
}
