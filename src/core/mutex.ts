// The one async serializer of the project: jobs run one at a time, in the order they were
// queued, and a failing job never blocks the ones after it. The device lock (Linux's
// device_lock: probe and remove of one device never overlap) is one; per-key queues (one per
// endpoint, one per hotplug device) are the keyed variant.

export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  /** A job is running or waiting. */
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

  /** Resolves once every job queued so far has finished (never rejects). */
  idle(): Promise<void> {
    return this.tail;
  }
}

/** One AsyncMutex per key; a key's mutex is dropped when its last job has finished. */
export class KeyedMutex<K> {
  private readonly locks = new Map<K, AsyncMutex>();

  /** Keys with a job running or waiting. */
  get size(): number {
    return this.locks.size;
  }

  run<T>(key: K, fn: () => Promise<T> | T): Promise<T> {
    let lock = this.locks.get(key);
    if (!lock) {
      lock = new AsyncMutex();
      this.locks.set(key, lock);
    }
    const mine = lock;
    const result = mine.run(fn);
    void mine.idle().then(() => {
      if (!mine.locked && this.locks.get(key) === mine) this.locks.delete(key);
    });
    return result;
  }

  /** Resolves once every job queued so far, under any key, has finished (never rejects). */
  async idle(): Promise<void> {
    await Promise.all([...this.locks.values()].map((l) => l.idle()));
  }
}
