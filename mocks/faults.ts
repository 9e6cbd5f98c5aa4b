// Fault injection for a mock device: an ordered list of rules, each matching some transfers and
// firing a fault on them a number of times. The device consults it once per transfer, when the
// transfer is submitted; the first matching rule wins.
import { FaultSpecError } from './errors.ts';

/**
 * - stall: the transfer resolves status 'stall'; a bulk/interrupt endpoint stays halted until
 *   clearHalt (a control stall only fails that request, as a protocol stall does);
 * - timeout: the transfer is never answered and rejects TimeoutError after `ms` (default: the
 *   transfer's own timeout, else 0); OUT data does not reach the emulation;
 * - short: the transfer completes early: at most `bytes` bytes (default half the length) are
 *   read from / handed to the emulation, and the result says so;
 * - babble: IN only: the device sent more than asked; resolves status 'babble' with `bytes`
 *   (default: the requested length) bytes of 0xff garbage, consuming no emulation data;
 * - delay: the device answers `ms` late (a timeout shorter than that still fires);
 * - disconnect: the device unplugs from its host `ms` (default 0) after the transfer starts, with
 *   the transfer pending; every pending transfer then rejects NotFoundError.
 */
export type FaultKind = 'stall' | 'timeout' | 'short' | 'babble' | 'delay' | 'disconnect';

export interface FaultSpec {
  /** Which transfers: control (any direction), IN (bulk/interrupt), OUT (bulk/interrupt). */
  on: 'control' | 'in' | 'out';
  /** Endpoint number 1-15 (without the direction bit); in/out only. Omitted: any endpoint. */
  endpoint?: number;
  /** Control only: bRequest to match. */
  request?: number;
  /** Control only: match the direction of the request. */
  direction?: USBDirection;
  /** Control only: match wValue / wIndex. */
  value?: number;
  index?: number;
  kind: FaultKind;
  /** timeout / delay / disconnect: milliseconds. */
  ms?: number;
  /** short / babble: byte count. */
  bytes?: number;
  /** How many matching transfers it fires on; default 1; Infinity for every one. */
  times?: number;
  /** Let this many matching transfers pass untouched first. */
  skip?: number;
}

/** What the device tells the injector about a transfer being submitted. */
export interface FaultProbe {
  on: 'control' | 'in' | 'out';
  /** Endpoint number for in/out. */
  endpoint?: number;
  /** Setup fields for control. */
  request?: number;
  direction?: USBDirection;
  value?: number;
  index?: number;
}

export interface FaultRule {
  readonly id: number;
  readonly spec: Readonly<FaultSpec>;
  /** Firings left (Infinity for unlimited). */
  readonly remaining: number;
  /** Matching transfers still to let pass. */
  readonly skipsLeft: number;
  readonly fired: number;
  /** Removes the rule (no-op if it is used up). */
  cancel(): void;
}

export interface FiredFault {
  readonly rule: FaultRule;
  readonly kind: FaultKind;
  readonly ms?: number;
  readonly bytes?: number;
}

class Rule implements FaultRule {
  remaining: number;
  skipsLeft: number;
  fired = 0;
  constructor(
    readonly id: number,
    readonly spec: Readonly<FaultSpec>,
    private readonly owner: FaultInjector,
  ) {
    this.remaining = spec.times ?? 1;
    this.skipsLeft = spec.skip ?? 0;
  }
  cancel(): void {
    this.owner.remove(this);
  }
}

export class FaultInjector {
  private rules: Rule[] = [];
  private nextId = 1;
  private firedCount = 0;

  /** Adds a rule at the end of the list. Throws FaultSpecError for rules that cannot apply. */
  inject(spec: FaultSpec): FaultRule {
    validate(spec);
    const rule = new Rule(this.nextId++, Object.freeze({ ...spec }), this);
    this.rules.push(rule);
    return rule;
  }

  /** Rules not used up yet, in match order. */
  get active(): readonly FaultRule[] {
    return [...this.rules];
  }

  /** How many faults fired since creation. */
  get fired(): number {
    return this.firedCount;
  }

  clear(): void {
    this.rules = [];
  }

  /** @internal Called by the device once per submitted transfer. */
  take(probe: FaultProbe): FiredFault | undefined {
    for (const rule of this.rules) {
      if (!matches(rule.spec, probe)) continue;
      if (rule.skipsLeft > 0) {
        rule.skipsLeft--;
        return undefined;
      }
      rule.remaining--;
      rule.fired++;
      this.firedCount++;
      if (rule.remaining <= 0) this.remove(rule);
      return { rule, kind: rule.spec.kind, ms: rule.spec.ms, bytes: rule.spec.bytes };
    }
    return undefined;
  }

  /** @internal */
  remove(rule: FaultRule): void {
    this.rules = this.rules.filter((r) => r !== rule);
  }
}

function matches(spec: FaultSpec, p: FaultProbe): boolean {
  if (spec.on !== p.on) return false;
  if (spec.endpoint !== undefined && spec.endpoint !== p.endpoint) return false;
  if (spec.request !== undefined && spec.request !== p.request) return false;
  if (spec.direction !== undefined && spec.direction !== p.direction) return false;
  if (spec.value !== undefined && spec.value !== p.value) return false;
  if (spec.index !== undefined && spec.index !== p.index) return false;
  return true;
}

const kinds: readonly FaultKind[] = ['stall', 'timeout', 'short', 'babble', 'delay', 'disconnect'];

function validate(s: FaultSpec): void {
  if (!['control', 'in', 'out'].includes(s.on)) throw new FaultSpecError(`fault 'on' must be control, in or out, got ${String(s.on)}`);
  if (!kinds.includes(s.kind)) throw new FaultSpecError(`unknown fault kind ${String(s.kind)}`);
  if (s.on === 'control') {
    if (s.endpoint !== undefined) throw new FaultSpecError("a control fault matches by request, not 'endpoint'");
    if (s.kind === 'babble' && s.direction !== 'in') {
      throw new FaultSpecError("babble is device-to-host: a control babble fault needs direction: 'in'");
    }
  } else {
    if (s.request !== undefined || s.value !== undefined || s.index !== undefined || s.direction !== undefined) {
      throw new FaultSpecError('request/value/index/direction only apply to control faults');
    }
    if (s.endpoint !== undefined && (!Number.isInteger(s.endpoint) || s.endpoint < 1 || s.endpoint > 15)) {
      throw new FaultSpecError(`endpoint must be a number 1-15 (no direction bit), got ${s.endpoint}`);
    }
    if (s.kind === 'babble' && s.on === 'out') throw new FaultSpecError('babble is device-to-host: it cannot happen on an OUT transfer');
  }
  if (s.ms !== undefined && !(s.ms >= 0)) throw new FaultSpecError(`ms must be >= 0, got ${s.ms}`);
  if (s.kind === 'delay' && s.ms === undefined) throw new FaultSpecError('a delay fault needs ms');
  if (s.bytes !== undefined && !(Number.isInteger(s.bytes) && s.bytes >= 0)) {
    throw new FaultSpecError(`bytes must be an integer >= 0, got ${s.bytes}`);
  }
  const times = s.times ?? 1;
  if (!(times === Infinity || (Number.isInteger(times) && times >= 1))) {
    throw new FaultSpecError(`times must be a positive integer or Infinity, got ${s.times}`);
  }
  if (s.skip !== undefined && !(Number.isInteger(s.skip) && s.skip >= 0)) throw new FaultSpecError(`skip must be an integer >= 0`);
}
