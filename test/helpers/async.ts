// Waiting in tests: a plain delay, polling for a condition with a bound, and the error of a
// promise that must reject.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when `check` holds (polled every 2 ms); rejects once `ms` have passed without it. */
export async function until(check: () => boolean, ms: number, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** The error `p` rejects with; throws when it resolves instead. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** Resolves after the current macrotask: pending promise callbacks and I/O callbacks have run. */
export const macrotask = () => new Promise<void>((r) => setImmediate(r));
