// The fuzzer at scale (issue 15): every target of test/fuzz for 100,000 seeded cases (set
// FUZZ_BENCH_CASES to change it, FUZZ_SEED to change the seed, FUZZ_TARGET to run one target),
// with cases/s and the distinct outcome kinds per target (their counts ride along on the
// outcome_kinds line). A failing case stops the run with its seed, path and minimal case.
import { runTarget } from '../test/fuzz/harness.ts';
import { TARGETS } from '../test/fuzz/targets.ts';
import { emit, round } from './report.ts';

export async function run(): Promise<void> {
  const cases = Number(process.env.FUZZ_BENCH_CASES ?? 100_000);
  const seed = Number(process.env.FUZZ_SEED ?? 0x15f022);
  const only = process.env.FUZZ_TARGET;
  for (const t of TARGETS) {
    if (only && t.name !== only) continue;
    const r = await runTarget(t.name, t.arb, (x) => t.run(x), { numRuns: cases, seed });
    const outcomes = Object.fromEntries([...r.outcomes].sort((a, b) => b[1] - a[1]));
    emit({ name: `fuzz.${t.name}.cases_per_s`, value: round(r.casesPerSecond, 1), unit: 'cases/s', cases: r.cases, seconds: round(r.seconds, 1), seed });
    emit({ name: `fuzz.${t.name}.outcome_kinds`, value: r.outcomes.size, unit: 'kinds', cases: r.cases, seed, outcomes });
  }
}
