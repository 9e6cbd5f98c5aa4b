// Shared by the *.vmtest.ts specs: skip cleanly where QEMU cannot run, print each guest's
// timings, and keep known backend failures visible without turning the tier red.
import { prepareVm, VmUnavailableError } from './setup.ts';
import { formatTimings, type GuestRun } from './runner.ts';

let unavailable: Promise<string | undefined> | undefined;

/** Why QEMU cannot run here (then the spec skips), or undefined. Installs what is missing. */
export function vmUnavailable(): Promise<string | undefined> {
  unavailable ??= prepareVm().then(
    () => undefined,
    (err: unknown) => {
      if (err instanceof VmUnavailableError) return err.reason;
      throw err;
    },
  );
  return unavailable;
}

/** In a describe(): skips the whole suite with one printed line when QEMU cannot run. */
export function skipWithoutVm(): void {
  before(async function () {
    this.timeout(600_000); // the first run installs QEMU and fetches the kernel
    const why = await vmUnavailable();
    if (why) {
      console.log(`    [vm] skipped: cannot run QEMU here: ${why}`);
      this.skip();
    }
  });
}

/** One indented line with a guest run's phase timings, under the test that made it. */
export function logTimings(label: string, run: Pick<GuestRun<unknown>, 'timings'>): void {
  console.log(`      [vm] ${label}: ${formatTimings(run.timings)}`);
}

/** A guest job's failure, with the tail of its output. */
export function jobFailed(label: string, run: Pick<GuestRun<unknown>, 'status' | 'jobLog'>): Error {
  return new Error(`${label}: the guest job exited ${run.status}\n--- job output (tail) ---\n${run.jobLog.trimEnd().split('\n').slice(-30).join('\n')}`);
}
