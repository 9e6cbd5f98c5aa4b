// A FIFO async mutex: the device lock (Linux's device_lock). Probe and remove of one device
// run under it, so they never overlap.

export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  get locked(): boolean {
    return this.holders > 0;
  }

  /** Runs `fn` once every earlier holder has finished; errors go to the caller only. */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    this.holders++;
    const result = this.tail.then(fn);
    // The chain must never reject, or one failure would poison the lock for everyone after.
    this.tail = result.then(
      () => {
        this.holders--;
      },
      () => {
        this.holders--;
      },
    );
    return result;
  }
}
