// Polling for a state the guest's kernel reaches on its own time (a driver bound, a tty node
// made): sysfs and /dev have no notification a job can await cheaply.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with `f()`'s first truthy value, polled every 50 ms; rejects naming `what` after `timeoutMs`. */
export async function waitFor<T>(f: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
