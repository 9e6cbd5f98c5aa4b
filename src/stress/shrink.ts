// Shrinking a failing mock-lab run: delta debugging over its steps. Each candidate is a fresh run
// of fewer steps (steps keep their event numbers, so payloads and timing stay as they were); a
// candidate that still breaks the same invariant replaces the schedule. What is left is a
// schedule where every step matters, usually a handful.
import type { Invariant } from './monitor.ts';
import { runOnce, scheduleOf, type ShrinkOptions, type ShrinkResult, type StressOptions, type StressResult } from './runner.ts';
import type { Step } from './schedule.ts';

const realNow: () => number = performance.now.bind(performance);

export async function shrinkRun(options: StressOptions, failing: StressResult, o: ShrinkOptions = {}): Promise<ShrinkResult | undefined> {
  const first = failing.violations[0];
  if (!first) return undefined;
  const invariant: Invariant = first.invariant;
  const upTo = first.event >= 0 ? first.event + 1 : failing.events;
  const steps: Step[] = options.schedule
    ? options.schedule.filter((s) => first.event < 0 || s.n <= first.event)
    : scheduleOf(failing.seed, failing.rates, failing.topology, upTo);
  const maxRuns = o.maxRuns ?? 200;
  const deadline = realNow() + (o.maxMs ?? 60_000);
  const t0 = realNow();
  let runs = 0;
  let last: StressResult | null = null;

  const fails = async (candidate: Step[]): Promise<boolean> => {
    runs++;
    const r = await runOnce({
      ...options,
      seed: failing.seed,
      schedule: candidate,
      stopOnViolation: true,
      maxViolations: 5,
      timeline: false,
      onProgress: undefined,
      onViolation: undefined,
    });
    const hit = r.violations.some((v) => v.invariant === invariant);
    if (hit) last = r;
    return hit;
  };

  // The prefix up to the violation must fail on its own; otherwise there is nothing to shrink.
  if (!(await fails(steps))) return undefined;
  let cur = steps;
  let n = 2;
  while (cur.length >= 2 && runs < maxRuns && realNow() < deadline) {
    const size = Math.ceil(cur.length / n);
    let reduced = false;
    for (let i = 0; i < n && runs < maxRuns && realNow() < deadline; i++) {
      const candidate = [...cur.slice(0, i * size), ...cur.slice((i + 1) * size)];
      if (candidate.length === cur.length || candidate.length === 0) continue;
      if (await fails(candidate)) {
        cur = candidate;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  const final = last as StressResult | null;
  const violation = final?.violations.find((v) => v.invariant === invariant) ?? first;
  return { invariant, steps: cur, from: steps.length, runs, ms: Math.round(realNow() - t0), violation, traceHash: final?.traceHash ?? '' };
}
