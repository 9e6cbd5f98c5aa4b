// Shrinking a failing mock-lab run: delta debugging over its steps. Each candidate is a fresh run
// of fewer steps (steps keep their event numbers, so payloads and timing stay as they were); a
// candidate that still breaks the same invariant replaces the schedule. What is left is a
// schedule where every step matters, usually a handful.
import type { Step } from './schedule.ts';

const realNow: () => number = performance.now.bind(performance);

export interface ShrinkBudget {
  maxRuns: number;
  maxMs: number;
}

/**
 * The smallest schedule (by ddmin over complements) for which `fails` still holds; `fails` runs
 * a candidate and says whether it still breaks what the original broke.
 */
export async function shrinkSchedule(
  steps: readonly Step[],
  fails: (candidate: Step[]) => Promise<boolean>,
  budget: ShrinkBudget,
): Promise<{ steps: Step[]; runs: number; ms: number } | undefined> {
  const t0 = realNow();
  const deadline = t0 + budget.maxMs;
  let runs = 0;
  const test = async (c: Step[]) => {
    runs++;
    return fails(c);
  };
  // The prefix up to the violation must fail on its own; otherwise there is nothing to shrink.
  if (!(await test([...steps]))) return undefined;
  let cur = [...steps];
  let n = 2;
  const more = () => runs < budget.maxRuns && realNow() < deadline;
  while (cur.length >= 2 && more()) {
    const size = Math.ceil(cur.length / n);
    let reduced = false;
    for (let i = 0; i < n && more(); i++) {
      const candidate = [...cur.slice(0, i * size), ...cur.slice((i + 1) * size)];
      if (candidate.length === cur.length || candidate.length === 0) continue;
      if (await test(candidate)) {
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
  // A single step may be enough on its own.
  if (cur.length === 2 && more()) {
    for (const one of cur) {
      if (await test([one])) {
        cur = [one];
        break;
      }
    }
  }
  return { steps: cur, runs, ms: Math.round(realNow() - t0) };
}
