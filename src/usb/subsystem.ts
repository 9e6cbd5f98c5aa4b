// The USB subsystem: one usb bus fed by a backend's hotplug stream. Attach adds the device and
// then its interfaces (probing them); detach removes the interfaces and then the device.
// Events are applied in order per port (a detach never overtakes its own attach, nor the probe
// that attach started); different ports proceed in parallel.
import type { Subscription } from 'rxjs';
import { DriverModel, defaultModel } from '../core/index.ts';
import { KeyedMutex } from '../core/mutex.ts';
import { childLog } from '../log.ts';
import { createUsbBus, type UsbBus } from './bus.ts';
import { UsbDevice } from './device.ts';
import type { HostBackend, HostDevice } from './host.ts';
import { hotplugEvents, type HotplugEvent } from './hotplug.ts';

const log = childLog('usb.subsystem');

export interface UsbSubsystemOptions {
  model?: DriverModel;
}

export class UsbSubsystem {
  readonly bus: UsbBus;
  private readonly live = new Map<HostDevice, UsbDevice>();
  private readonly queues = new KeyedMutex<string>();
  private readonly subscriptions = new Set<Subscription>();
  private applied = 0;

  constructor(options: UsbSubsystemOptions = {}) {
    this.bus = createUsbBus({ model: options.model ?? defaultModel });
  }

  get model(): DriverModel {
    return this.bus.model;
  }

  /** Events applied to the bus so far (attach and detach). */
  get eventsApplied(): number {
    return this.applied;
  }

  /**
   * Feeds the bus from a backend. Resolves once the initial enumeration has been queued (await
   * settled() for it to be applied) with a function that stops listening; rejects if the
   * backend cannot start (e.g. NoUsbSubsystemError). Later stream errors go to `onError`.
   */
  attachBackend(
    backend: HostBackend,
    onError: (err: unknown) => void = (err) => log.error({ err }, 'hotplug stream failed'),
  ): Promise<() => void> {
    return new Promise((resolve, reject) => {
      let started = false;
      const stop = () => {
        sub.unsubscribe();
        this.subscriptions.delete(sub);
      };
      const sub = hotplugEvents(backend, {
        onEnumerated: () => {
          started = true;
          resolve(stop);
        },
      }).subscribe({
        next: (e) => this.apply(e),
        error: (err: unknown) => {
          this.subscriptions.delete(sub);
          if (started) onError(err);
          else reject(err);
        },
      });
      this.subscriptions.add(sub);
    });
  }

  /** Applies one hotplug event (also usable with a hand-made stream). */
  apply(event: Pick<HotplugEvent, 'type' | 'device'>): void {
    if (event.type === 'attach') {
      if (this.live.has(event.device)) return; // a duplicated connect is harmless
      const dev = new UsbDevice(event.device);
      this.live.set(event.device, dev);
      this.enqueue(dev.name, () => this.add(dev));
    } else {
      const dev = this.live.get(event.device);
      if (!dev) return;
      this.live.delete(event.device);
      dev.markDisconnected(); // in-flight I/O of its drivers can notice at once
      this.enqueue(dev.name, () => this.remove(dev));
    }
  }

  /** The UsbDevice the bus holds for a host device, if attached. */
  deviceFor(host: HostDevice): UsbDevice | undefined {
    return this.live.get(host);
  }

  /** Resolves when every queued attach and detach has been applied. */
  async settled(): Promise<void> {
    while (this.queues.size > 0) await this.queues.idle();
    await this.model.settled();
  }

  /** Stops listening and removes every device (drivers see disconnect). */
  async stop(): Promise<void> {
    for (const sub of this.subscriptions) sub.unsubscribe();
    this.subscriptions.clear();
    for (const [host] of [...this.live]) this.apply({ type: 'detach', device: host });
    await this.settled();
  }

  private enqueue(key: string, step: () => Promise<void>): void {
    void this.queues.run(key, async () => {
      try {
        await step();
      } catch (err) {
        log.error({ err, device: key }, 'applying a hotplug event failed');
      } finally {
        this.applied++;
      }
    });
  }

  private async add(dev: UsbDevice): Promise<void> {
    if (dev.gone) return; // unplugged before we got to it: nothing to probe
    const stale = this.bus.getDevice(dev.name);
    if (stale) await this.removeNode(stale); // the backend reported the new one first
    await this.bus.addDevice(dev);
    for (const intf of dev.interfaces) {
      if (dev.gone) break;
      await this.bus.addDevice(intf);
    }
  }

  private async remove(dev: UsbDevice): Promise<void> {
    if (dev.state !== 'live') return;
    await this.removeNode(dev);
  }

  private async removeNode(node: NonNullable<ReturnType<UsbBus['getDevice']>>): Promise<void> {
    if (node instanceof UsbDevice) {
      for (const intf of [...node.interfaces].reverse()) {
        if (intf.state === 'live') await this.bus.removeDevice(intf);
      }
    }
    if (node.state === 'live') await this.bus.removeDevice(node);
  }
}
