// `npm run test:vm`: the VM tier. First makes sure QEMU can run here (installing it and the
// guest pieces on the first run); if it cannot, prints one line saying why and exits 0.
// Otherwise runs hardware-tests/vm/*.vmtest.ts with mocha and ends with one summary line:
//   VM tier: passed — 38 passing, 0 pending, 0 failing in 421 s (install 31 s)
// A pending (skipped) test fails the tier: QEMU's absence is decided above, before mocha runs, so
// inside the tier nothing may pass by not running.
// Arguments: spec files or name filters (e.g. `npm run test:vm -- ftdi`).
// Opt-in specs (OPT_IN) are loaded only when their variable is 1: too slow under TCG for the
// tier's budget, and a skipped test would fail the tier, so they are left out rather than skipped.
import '../../test/setup.ts';
import Mocha from 'mocha';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { prepareVm, VmUnavailableError, VM_DIR } from './setup.ts';

const t0 = performance.now();
const secs = (ms: number) => `${Math.round(ms / 1000)} s`;

let installMs = 0;
try {
  const assets = await prepareVm();
  installMs = assets.installMs;
  console.log(`[vm] guest kernel ${assets.kernelVersion}; QEMU ${assets.qemu}; prepared in ${secs(installMs)} (${process.env.USB_HARNESS_VM_ACCEL ?? 'tcg'})`);
} catch (err) {
  if (err instanceof VmUnavailableError) {
    console.log(`VM tier: skipped — ${err.message}`);
    process.exit(0);
  }
  console.log(`VM tier: failed — preparing the VM: ${(err as Error).message}`);
  process.exit(1);
}

/** Spec file → the variable that enables it. */
const OPT_IN: Record<string, string> = { 'browser.vmtest.ts': 'USB_HARNESS_VM_BROWSER' };

const filters = process.argv.slice(2);
const specs = readdirSync(VM_DIR)
  .filter((f) => f.endsWith('.vmtest.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .filter((f) => {
    const variable = OPT_IN[f];
    if (!variable || process.env[variable] === '1') return true;
    console.log(`[vm] ${f} left out (opt-in: set ${variable}=1)`);
    return false;
  })
  .sort()
  .map((f) => join(VM_DIR, f));

const mocha = new Mocha({ timeout: 300_000, reporter: 'spec', color: !process.env.CI });
for (const s of specs) mocha.addFile(s);
await mocha.loadFilesAsync();
const runner = mocha.run((failures) => {
  const st = runner.stats!;
  const ok = failures === 0 && st.pending === 0;
  const verdict = ok ? 'passed' : 'failed';
  console.log(
    `VM tier: ${verdict} — ${st.passes} passing, ${st.pending} pending, ${st.failures} failing in ${secs(performance.now() - t0)}` +
      (installMs > 1000 ? ` (install ${secs(installMs)})` : ''),
  );
  // Exit now: a leaked handle must not hang CI (QEMU itself is killed by the runner's exit hook).
  process.exit(ok ? 0 : 1);
});
