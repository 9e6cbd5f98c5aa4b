// The schedule: what happens, to what, and when, derived from the seed alone. Steps name their
// targets by lab names (a dongle, a port slot, a wire, a driver set), never by live objects, so
// the same list means the same thing on a replay, after shrinking, or on real hubs; the runner
// resolves the names against whatever exists at that moment and skips what does not.
import { Rng } from './random.ts';

/** The kinds of event a rate can be given for. */
export const RATE_KINDS = [
  'hotplug',
  'registration',
  'new_id',
  'remove_id',
  'bind',
  'unbind',
  'open',
  'close',
  'write',
  'signals',
  'check',
] as const;
export type RateKind = (typeof RATE_KINDS)[number];
export type Rates = Record<RateKind, number>;

/** Events per logical second: about ninety a second, traffic the most, then opens and hotplug. */
export const DEFAULT_RATES: Readonly<Rates> = Object.freeze({
  hotplug: 8,
  registration: 1.5,
  new_id: 3,
  remove_id: 2,
  bind: 3,
  unbind: 3,
  open: 18,
  close: 5,
  write: 40,
  signals: 8,
  check: 3,
});

const RATE_ALIASES: Readonly<Record<string, RateKind>> = {
  plug: 'hotplug',
  unplug: 'hotplug',
  power: 'hotplug',
  register: 'registration',
  deregister: 'registration',
  newid: 'new_id',
  removeid: 'remove_id',
  traffic: 'write',
  signal: 'signals',
  checks: 'check',
};

export class StressOptionError extends Error {
  override readonly name = 'StressOptionError';
}

/** Parses `hotplug=20,write=50,bind=0` over the defaults. Unknown kinds and bad numbers are refused. */
export function parseRates(text: string | undefined, base: Readonly<Rates> = DEFAULT_RATES): Rates {
  const rates: Rates = { ...base };
  if (!text || !text.trim()) return rates;
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z_-]+)\s*[=:]\s*([0-9]*\.?[0-9]+)$/i.exec(part);
    if (!m) throw new StressOptionError(`rate '${part}' is not kind=number (e.g. hotplug=20)`);
    const name = m[1]!.toLowerCase().replace(/-/g, '_');
    const kind = (RATE_KINDS as readonly string[]).includes(name) ? (name as RateKind) : RATE_ALIASES[name.replace(/_/g, '')];
    if (!kind) throw new StressOptionError(`unknown event kind '${m[1]}' in --rates; kinds: ${RATE_KINDS.join(', ')}`);
    const v = Number(m[2]);
    if (!Number.isFinite(v) || v < 0 || v > 100_000) throw new StressOptionError(`rate for ${kind} must be between 0 and 100000 per second, got ${m[2]}`);
    rates[kind] = v;
  }
  if (RATE_KINDS.every((k) => rates[k] === 0)) throw new StressOptionError('every rate is 0: nothing would happen');
  return rates;
}

/** Rates as the command line takes them (only those differing from the defaults). */
export function formatRates(rates: Readonly<Rates>, base: Readonly<Rates> = DEFAULT_RATES): string {
  return RATE_KINDS.filter((k) => rates[k] !== base[k])
    .map((k) => `${k}=${rates[k]}`)
    .join(',');
}

// ---- what the lab looks like, by name ------------------------------------------------------

export interface TopologyPort {
  /** e.g. `ft2232h.a`. */
  readonly slot: string;
  readonly dongle: string;
  readonly interfaceNumber: number;
  /** Port index within that interface (0 for every chip here). */
  readonly portNumber: number;
  /**
   * false: the device never tells the host its UART's input lines (the Uno's 16U2 firmware sends
   * no SERIAL_STATE), so the port reads the driver's idle values whatever the wire carries.
   * Absent: it reports them.
   */
  readonly reportsInputLines?: boolean;
}

export interface TopologyDongle {
  readonly name: string;
  readonly interfaces: readonly number[];
  readonly ports: readonly TopologyPort[];
  /** Whether the schedule may plug and unplug it (real labs: behind a switchable port of ours). */
  readonly hotplug: boolean;
  /** The driver set that binds it (its ports go when that set is deregistered). */
  readonly driverSet?: string;
}

/** One direction of a wire: bytes written on `from` arrive on `to` (the same slot for a loopback plug). */
export interface TopologyLink {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly kind: 'loopback' | 'null-modem';
}

export interface TopologyDriverSet {
  readonly name: string;
  readonly serialDrivers: readonly string[];
}

/** An ID a udev-like rule or a step may write to a serial driver's new_id. */
export interface NewIdCandidate {
  readonly driver: string;
  /** `vvvv pppp` (hex). */
  readonly id: string;
}

export interface Topology {
  readonly dongles: readonly TopologyDongle[];
  readonly links: readonly TopologyLink[];
  readonly driverSets: readonly TopologyDriverSet[];
  readonly newIds: readonly NewIdCandidate[];
}

// ---- steps ---------------------------------------------------------------------------------

export type StepKind =
  | 'plug'
  | 'unplug'
  | 'register'
  | 'deregister'
  | 'new_id'
  | 'remove_id'
  | 'bind'
  | 'unbind'
  | 'open'
  | 'close'
  | 'write'
  | 'signals'
  | 'check';

export const STEP_KINDS: readonly StepKind[] = [
  'plug',
  'unplug',
  'register',
  'deregister',
  'new_id',
  'remove_id',
  'bind',
  'unbind',
  'open',
  'close',
  'write',
  'signals',
  'check',
];

export interface Step {
  /** Event number: its place in the seed's stream (kept by shrinking, so payloads stay the same). */
  readonly n: number;
  /** Logical time, ms since the start. */
  readonly t: number;
  readonly kind: StepKind;
  /** Dongle, driver set, serial driver, interface (`dongle:if0`), port slot or link id; '' for check. */
  readonly target: string;
  /** new_id/remove_id text, write size in bytes, signals `dtr=1,rts=0`. */
  readonly arg?: string;
  /** Event-loop turns (one per logical ms, capped) between the previous step and this one. */
  readonly turns: number;
}

export function describeStep(s: Step): string {
  return `#${s.n} ${s.kind}${s.target ? ` ${s.target}` : ''}${s.arg !== undefined ? ` ${s.arg}` : ''}`;
}

const MAX_TURNS = 48;

/**
 * An endless stream of steps from a seed. It keeps its own model of the lab (what it plugged,
 * registered, opened) so that toggles alternate and targets make sense; the live lab may differ
 * (a race lost, a step skipped) and the runner copes.
 */
export class ScheduleGenerator {
  private readonly rng: Rng;
  private readonly kinds: RateKind[];
  private readonly cumulative: number[];
  private readonly total: number;
  private n = 0;
  private t = 0;
  private readonly plugged: Set<string>;
  private readonly registered: Set<string>;
  private readonly open = new Set<string>();
  private readonly written: NewIdCandidate[] = [];
  private readonly hotpluggable: TopologyDongle[];
  private readonly slots: TopologyPort[];
  private readonly interfaces: string[];

  constructor(
    readonly seed: number,
    readonly rates: Readonly<Rates>,
    private readonly topo: Topology,
  ) {
    this.rng = new Rng(seed).fork('schedule');
    this.kinds = RATE_KINDS.filter((k) => rates[k] > 0 && this.possible(k));
    let acc = 0;
    this.cumulative = this.kinds.map((k) => (acc += rates[k]));
    this.total = acc;
    if (this.total <= 0) throw new StressOptionError('no event kind has a rate above 0 that this lab can do');
    this.plugged = new Set(topo.dongles.map((d) => d.name));
    this.registered = new Set(topo.driverSets.map((s) => s.name));
    this.hotpluggable = topo.dongles.filter((d) => d.hotplug);
    this.slots = topo.dongles.flatMap((d) => d.ports);
    this.interfaces = topo.dongles.flatMap((d) => d.interfaces.map((i) => `${d.name}:if${i}`));
  }

  next(): Step {
    const dt = this.rng.exponentialMs(this.total);
    this.t += dt;
    const turns = Math.min(MAX_TURNS, Math.floor(dt));
    const r = this.rng.float() * this.total;
    const kind = this.kinds[this.cumulative.findIndex((c) => r < c)] ?? this.kinds[this.kinds.length - 1]!;
    const body = this.make(kind);
    return { n: this.n++, t: Math.round(this.t * 1000) / 1000, turns, ...body };
  }

  /** The first `count` steps. */
  take(count: number): Step[] {
    return Array.from({ length: count }, () => this.next());
  }

  /** From the first list that has anything. */
  private pickFrom<T>(rng: Rng, ...lists: (readonly T[])[]): T {
    for (const l of lists) if (l.length > 0) return rng.pick(l);
    throw new RangeError('nothing to pick from');
  }

  private dongleOfSlot(slot: string): string {
    return this.slots.find((p) => p.slot === slot)?.dongle ?? '';
  }

  /** Plugged, and its driver set registered, as far as this model knows. */
  private usable(dongle: string): boolean {
    if (!this.plugged.has(dongle)) return false;
    const set = this.topo.dongles.find((d) => d.name === dongle)?.driverSet;
    return set === undefined || this.registered.has(set);
  }

  private possible(k: RateKind): boolean {
    const t = this.topo;
    switch (k) {
      case 'hotplug':
        return t.dongles.some((d) => d.hotplug);
      case 'registration':
        return t.driverSets.length > 0;
      case 'new_id':
      case 'remove_id':
        return t.newIds.length > 0;
      case 'bind':
      case 'unbind':
        return t.dongles.some((d) => d.interfaces.length > 0);
      case 'open':
      case 'close':
      case 'signals':
        return t.dongles.some((d) => d.ports.length > 0);
      case 'write':
        return t.links.length > 0;
      case 'check':
        return true;
    }
  }

  private make(kind: RateKind): Pick<Step, 'kind' | 'target' | 'arg'> {
    const rng = this.rng;
    switch (kind) {
      case 'hotplug': {
        const d = rng.pick(this.hotpluggable);
        if (this.plugged.has(d.name)) {
          this.plugged.delete(d.name);
          for (const p of d.ports) this.open.delete(p.slot);
          return { kind: 'unplug', target: d.name };
        }
        this.plugged.add(d.name);
        return { kind: 'plug', target: d.name };
      }
      case 'registration': {
        const set = rng.pick(this.topo.driverSets);
        if (this.registered.has(set.name)) {
          this.registered.delete(set.name);
          for (const d of this.topo.dongles) if (d.driverSet === set.name) for (const p of d.ports) this.open.delete(p.slot);
          return { kind: 'deregister', target: set.name };
        }
        this.registered.add(set.name);
        return { kind: 'register', target: set.name };
      }
      case 'new_id': {
        if (rng.bool(0.05)) return { kind: 'new_id', target: rng.pick(this.topo.newIds).driver, arg: rng.pick(['zzzz 1', '0403', '1 2 3 4']) };
        const c = rng.pick(this.topo.newIds);
        this.written.push(c);
        return { kind: 'new_id', target: c.driver, arg: c.id };
      }
      case 'remove_id': {
        const c = this.written.length > 0 && rng.bool(0.8) ? this.written.splice(rng.int(this.written.length), 1)[0]! : rng.pick(this.topo.newIds);
        return { kind: 'remove_id', target: c.driver, arg: c.id };
      }
      case 'bind':
        return { kind: 'bind', target: rng.pick(this.interfaces) };
      case 'unbind':
        return { kind: 'unbind', target: rng.pick(this.interfaces) };
      case 'open': {
        const usable = this.slots.filter((p) => this.usable(p.dongle));
        const closed = usable.filter((p) => !this.open.has(p.slot));
        const p = rng.bool(0.95) ? this.pickFrom(rng, closed, usable, this.slots) : rng.pick(this.slots);
        this.open.add(p.slot);
        return { kind: 'open', target: p.slot };
      }
      case 'close': {
        const open = this.slots.filter((p) => this.open.has(p.slot));
        const usable = this.slots.filter((x) => this.usable(x.dongle));
        const p = rng.bool(0.95) ? this.pickFrom(rng, open, usable, this.slots) : rng.pick(this.slots);
        this.open.delete(p.slot);
        return { kind: 'close', target: p.slot };
      }
      case 'write': {
        const up = (s: string) => this.open.has(s) && this.usable(this.dongleOfSlot(s));
        const live = this.topo.links.filter((l) => up(l.from) && up(l.to));
        const usable = this.topo.links.filter((l) => this.usable(this.dongleOfSlot(l.from)) && this.usable(this.dongleOfSlot(l.to)));
        const link = rng.bool(0.97) ? this.pickFrom(rng, live, usable, this.topo.links) : rng.pick(this.topo.links);
        const r = rng.float();
        const size = r < 0.5 ? rng.range(1, 64) : r < 0.92 ? rng.range(65, 1024) : rng.range(1025, 8192);
        return { kind: 'write', target: link.id, arg: String(size) };
      }
      case 'signals': {
        const open = this.slots.filter((p) => this.open.has(p.slot) && this.usable(p.dongle));
        const p = this.pickFrom(rng, open, this.slots.filter((x) => this.usable(x.dongle)), this.slots);
        return { kind: 'signals', target: p.slot, arg: `dtr=${rng.bool() ? 1 : 0},rts=${rng.bool() ? 1 : 0}` };
      }
      case 'check':
        return { kind: 'check', target: '' };
    }
  }
}

/** Parses `dtr=1,rts=0`. */
export function parseSignalsArg(arg: string | undefined): { dtr: boolean; rts: boolean } {
  const m = /^dtr=([01]),rts=([01])$/.exec(arg ?? '');
  if (!m) throw new StressOptionError(`signals argument '${arg}' is not dtr=0|1,rts=0|1`);
  return { dtr: m[1] === '1', rts: m[2] === '1' };
}
