// The transfers in flight on one device, so releaseInterface/close/reset can end them with
// AbortError (or NotFoundError when the device left) and wait until the native side let go.

/** A transfer in flight: `end()` once it settled, whichever way. */
export interface PendingTransfer {
  end(): void;
}

class PendingEntry implements PendingTransfer {
  private done = false;
  private waiters: (() => void)[] | null = null;

  constructor(
    private readonly entries: Set<PendingEntry>,
    readonly interfaceNumber: number | undefined,
    /** Asks the transfer to end; it must then settle (the backend decides how). */
    readonly abort: (reason: Error) => void,
  ) {
    entries.add(this);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.entries.delete(this);
    const w = this.waiters;
    this.waiters = null;
    if (w) for (const f of w) f();
  }

  /** Resolves once the transfer settled (made only when an abort waits for it). */
  settled(): Promise<void> {
    if (this.done) return Promise.resolve();
    return new Promise<void>((r) => (this.waiters ??= []).push(r));
  }
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
   * Registers a transfer the backend settles itself, also on abort (`abort` must make it end).
   * The hot path of a backend: no promise per transfer, the caller calls `end()` when it settled.
   */
  begin(interfaceNumber: number | undefined, abort: (reason: Error) => void): PendingTransfer {
    return new PendingEntry(this.entries, interfaceNumber, abort);
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
    const handle = this.begin(interfaceNumber, (reason) => {
      if (hook) hook(reason);
      else rejectEarly?.(reason);
    });
    let result: Promise<T>;
    try {
      result = start((h) => {
        hook = h;
      });
    } catch (err) {
      result = Promise.reject(err);
    }
    const end = () => handle.end();
    result.then(end, end);
    // A backend that registered its abort hook during start settles `result` itself on abort:
    // the caller gets `result` as it is.
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
    const all = Promise.all(hit.map((e) => e.settled())).then(() => true as const);
    const ok = await Promise.race([all, timedOut]);
    clearTimeout(timer);
    return ok;
  }
}
