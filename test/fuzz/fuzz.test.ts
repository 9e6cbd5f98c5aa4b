// Hostile and broken devices (issue 15): every fuzz target, 1,000 seeded cases each. A failure
// prints its seed, path and minimal case; FUZZ_SEED / FUZZ_PATH / FUZZ_TARGET replay it, FUZZ_RUNS
// changes the count.
// It runs in a mocha process of its own (npm run test:fuzz, after the suite in npm test): each
// case's crash trap charges every unhandled rejection and uncaught exception in its window to
// that case, so a late rejection left by another spec file would be reported as a finding, and a
// case the watchdog cut off keeps running into whatever spec comes next. A case that starves the
// event loop ends that process through the starvation watchdog, with the case named on stderr and
// in reports/; test:fuzz caps the heap and has V8 leave a snapshot there if it fills.
import { expect } from 'chai';
import { runOptions, runTarget } from './harness.ts';
import { TARGETS } from './targets.ts';

describe('fuzz: hostile and broken devices', function () {
  // Each case has its own watchdog; this only bounds the whole target (larger with FUZZ_RUNS).
  this.timeout(Math.max(120_000, runOptions(1000).numRuns * 100));
  const only = process.env.FUZZ_TARGET;
  for (const t of TARGETS) {
    if (only && t.name !== only) continue;
    it(`${t.name}: no crash, hang, untyped error or leak`, async () => {
      const opts = runOptions(1000);
      const r = await runTarget(t.name, t.arb, (x) => t.run(x), opts);
      if (process.env.FUZZ_VERBOSE) {
        console.log(`${t.name}: ${r.cases} cases, ${r.casesPerSecond.toFixed(0)} cases/s, ${r.outcomes.size} outcome kinds`);
        for (const [k, n] of [...r.outcomes].sort((a, b) => b[1] - a[1])) console.log(`  ${n}\t${k}`);
      }
      // A replay (FUZZ_PATH) runs the recorded case and its shrinks only.
      if (!opts.path) expect(r.cases).to.equal(opts.numRuns);
      // More than one way to end: the generator reaches past the happy path.
      expect(r.outcomes.size).to.be.greaterThan(1);
    });
  }
});
