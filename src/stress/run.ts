// The stress harness's entry points: one run (runOnce), a run shrunk to a minimal schedule when
// it fails (runStress), and a seed's schedule (scheduleOf).
import { childLog } from '../log.ts';
import { RunCapture } from './capture.ts';
import { VirtualClock } from './clock.ts';
import { REAL_LAB_RATES, resolveRates, type ShrinkOptions, type ShrinkResult, type StressOptions, type StressResult } from './options.ts';
import { randomSeed } from './random.ts';
import { DEFAULT_RATES, ScheduleGenerator, StressOptionError, type Rates, type Step, type Topology } from './schedule.ts';
import { StressRun } from './runner.ts';
import { shrinkSchedule } from './shrink.ts';
import { HubTarget, MockTarget, type Target } from './target.ts';
import { UsbipTarget } from './usbip-target.ts';

const log = childLog('stress.runner');

/** One run, no shrinking. */
export async function runOnce(options: StressOptions): Promise<StressResult> {
  const seed = (options.seed ?? randomSeed()) >>> 0;
  const real = options.hubs ?? options.usbip;
  const base = real ? REAL_LAB_RATES : DEFAULT_RATES;
  const rates = resolveRates(options.rates, base);
  const hotplug = options.hubs ? 'power' : (options.hotplug ?? 'plug');
  let target: Target;
  if (options.usbip) {
    target = new UsbipTarget(options.usbip);
  } else if (options.hubs) {
    target = new HubTarget(options.hubs);
  } else {
    const lab = typeof options.lab === 'function' ? options.lab() : options.lab;
    if (!lab) throw new StressOptionError('runStress needs a lab (e.g. createMockLab from usb-serial-harness/mocks) or real hubs');
    target = new MockTarget(lab, hotplug);
  }
  const clock = target.kind === 'mock' ? new VirtualClock() : null;
  const capture = options.capture === false ? null : new RunCapture(options.capture ?? {}, clock);
  if (capture) target = capture.wrap(target);
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
    if (capture) result.capture = capture;
  } finally {
    // Let anything the teardown left behind run under logical time before the real timers return.
    if (clock) await clock.advanceTo(clock.elapsed + 100, 100).catch(() => undefined);
    clock?.uninstall();
    clearInterval(keepAlive);
    options.onClock?.(null);
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    await target.close().catch((err: unknown) => log.warn({ err }, 'closing the lab failed'));
    capture?.close();
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
  const canShrink = !options.hubs && !options.usbip && typeof options.lab === 'function' && options.shrink !== false;
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
        capture: false,
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

