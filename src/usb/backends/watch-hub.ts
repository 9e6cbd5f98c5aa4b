// watch(): one native hotplug watcher shared by every listener, with events delivered in order.
import { AsyncMutex } from '../../core/mutex.ts';
import type { HostEvent } from '../host.ts';
import type { Logger } from '../../log.ts';

type Listener = (event: HostEvent) => void;

/**
 * One native watcher shared by every `watch` caller: started by the first, stopped after the
 * last leaves. Events are delivered in order through a queue, so an async step (wrapping a new
 * device) never lets a later disconnect overtake its connect.
 */
export class WatchHub {
  private readonly listeners = new Set<Listener>();
  private running: Promise<void> | null = null;
  private stopping: Promise<void> = Promise.resolve();
  private readonly events = new AsyncMutex();

  constructor(
    private readonly startNative: () => Promise<void>,
    private readonly stopNative: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  get active(): boolean {
    return this.listeners.size > 0;
  }

  async add(listener: Listener): Promise<() => void> {
    await this.stopping;
    if (!this.running) {
      const starting = this.startNative();
      this.running = starting;
      try {
        await starting;
      } catch (err) {
        this.running = null;
        throw err;
      }
    } else {
      await this.running;
    }
    const entry: Listener = (e) => listener(e);
    this.listeners.add(entry);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.listeners.delete(entry);
      if (this.listeners.size === 0) this.stopNow();
    };
  }

  /** Queues work that produces events (e.g. wrapping a new device); keeps native order. */
  enqueue(job: () => Promise<HostEvent | undefined> | HostEvent | undefined): void {
    void this.events.run(async () => {
      try {
        const event = await job();
        if (event) this.emit(event);
      } catch (err) {
        this.log.warn({ err }, 'hotplug event handling failed');
      }
    });
  }

  /** Waits for queued events to be delivered (tests, close). */
  drain(): Promise<void> {
    return this.events.idle();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.stopNow();
    await this.stopping;
    await this.events.idle();
  }

  private emit(event: HostEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.log.error({ err, event: event.type, key: event.device.key }, 'hotplug listener threw');
      }
    }
  }

  private stopNow(): void {
    if (!this.running) return;
    const wasRunning = this.running;
    this.running = null;
    this.stopping = wasRunning
      .catch(() => undefined)
      .then(() => this.stopNative())
      .catch((err: unknown) => {
        this.log.warn({ err }, 'stopping the hotplug watcher failed');
      });
  }
}
