// The transfers in flight on one device, so releaseInterface/close/reset can end them with
// AbortError (or NotFoundError when the device left) and wait until the native side let go.

interface PendingEntry {
  readonly interfaceNumber: number | undefined;
  /** Asks the transfer to end; it must then settle (the backend decides how). */
  abort(reason: Error): void;
  readonly settled: Promise<void>;
}

/**
 * Tracks transfers in flight on one device so releaseInterface/close can end them with
 * AbortError and wait until the native side has let go of them.
 */
export class PendingTransfers {
  private readonly entries = new Set<PendingEntry>();

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `start`, which gets an `onAbort` registration; the returned promise is tracked until it
   * settles. If the backend registers no abort hook, an abort rejects the caller at once and the
   * native result, when it comes, is dropped.
   */
  track<T>(
    interfaceNumber: number | undefined,
    start: (onAbort: (hook: (reason: Error) => void) => void) => Promise<T>,
  ): Promise<T> {
    let hook: ((reason: Error) => void) | undefined;
    let rejectEarly: ((reason: Error) => void) | undefined;
    let result: Promise<T>;
    try {
      result = start((h) => {
        hook = h;
      });
    } catch (err) {
      result = Promise.reject(err);
    }
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    const entry: PendingEntry = {
      interfaceNumber,
      abort: (reason) => {
        if (hook) hook(reason);
        else rejectEarly?.(reason);
      },
      settled,
    };
    this.entries.add(entry);
    void settled.then(() => this.entries.delete(entry));
    // A backend that registered its abort hook during start settles `result` itself on abort:
    // the caller gets `result` as it is (the hot path: one transfer costs no extra promises).
    if (hook) return result;
    // Otherwise whichever comes first: the transfer's own outcome or an early abort.
    const early = new Promise<never>((_, reject) => {
      rejectEarly = reject;
    });
    early.catch(() => undefined);
    return Promise.race([result, early]);
  }

  /** Aborts transfers of one interface (or all when undefined); resolves when they settled. */
  async abort(interfaceNumber: number | undefined, reason: () => Error, waitMs = 2000): Promise<boolean> {
    const hit = [...this.entries].filter(
      (e) => interfaceNumber === undefined || e.interfaceNumber === interfaceNumber,
    );
    for (const e of hit) e.abort(reason());
    if (hit.length === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    });
    const all = Promise.all(hit.map((e) => e.settled)).then(() => true as const);
    const ok = await Promise.race([all, timedOut]);
    clearTimeout(timer);
    return ok;
  }
}
