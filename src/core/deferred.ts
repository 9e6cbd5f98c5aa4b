// Deferred probe (Linux: drivers/base/dd.c). A probe that answers "not yet" parks its device;
// every later successful bind re-probes the parked devices. A bind that happens while a probe
// is running bumps a counter, so a deferral racing that bind is re-probed at once instead of
// waiting for the next one.
import { childLog } from '../log.ts';

const log = childLog('core.deferred');

/** What the deferred list needs of a device: a way to be probed again. */
export interface Reprobeable {
  readonly name: string;
  reprobe(): Promise<unknown>;
}

export class DeferredProbe {
  private readonly parked = new Set<Reprobeable>();
  private readonly running = new Set<Promise<void>>();
  /** Bumped on every successful bind (Linux: deferred_trigger_count). */
  triggerCount = 0;

  has(dev: Reprobeable): boolean {
    return this.parked.has(dev);
  }

  /** Parks a device. If a bind happened since `countAtProbeStart`, re-probes it right away. */
  park(dev: Reprobeable, countAtProbeStart: number): void {
    this.parked.add(dev);
    if (countAtProbeStart !== this.triggerCount) this.trigger();
  }

  drop(dev: Reprobeable): void {
    this.parked.delete(dev);
  }

  /** A successful bind: re-probe everything parked, in the background. */
  bound(): void {
    this.triggerCount++;
    this.trigger();
  }

  private trigger(): void {
    if (this.parked.size === 0) return;
    const devices = [...this.parked];
    this.parked.clear();
    const work = (async () => {
      // Yield first: the bind that triggered us finishes (and releases its lock) before re-probes.
      await Promise.resolve();
      for (const dev of devices) {
        try {
          await dev.reprobe();
        } catch (err) {
          log.error({ err, device: dev.name }, 'deferred re-probe failed');
        }
      }
    })();
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
