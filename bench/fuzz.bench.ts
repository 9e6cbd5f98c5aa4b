// The fuzzer at scale (issue 15): every target of test/fuzz for 100,000 seeded cases (set
// FUZZ_BENCH_CASES to change it, FUZZ_SEED to change the seed), with cases/s and the number of
// distinct outcome kinds per target. A failing case stops the run with its seed, path and minimal case.
import { runTarget } from '../test/fuzz/harness.ts';
import { TARGETS } from '../test/fuzz/targets.ts';
import { emit, round } from './report.ts';

export async function run(): Promise<void> {
  const cases = Number(process.env.FUZZ_BENCH_CASES ?? 100_000);
  const seed = Number(process.env.FUZZ_SEED ?? 0x15f022);
  for (const t of TARGETS) {
    const r = await runTarget(t.name, t.arb, (x) => t.run(x), { numRuns: cases, seed });
    const kinds = r.outcomes.size;
    emit({ name: `fuzz.${t.name}.cases_per_s`, value: round(r.casesPerSecond, 1), unit: 'cases/s', cases: r.cases, seconds: round(r.seconds, 1), seed });
    emit({ name: `fuzz.${t.name}.outcome_kinds`, value: kinds, unit: 'kinds', cases: r.cases, seed });
  }
}
