// A device on a bus. Its lock (Linux: device_lock) serialises probe and remove.
import { AsyncMutex } from './mutex.ts';
import type { AnyBus } from './bus.ts';
import type { AnyDriver } from './driver.ts';

/** detached: not on a bus yet; live: on a bus; dying: removal started; dead: removed. */
export type DeviceState = 'detached' | 'live' | 'dying' | 'dead';

let nextDeviceSeq = 1;

export class Device {
  /** Order of creation: buses probe and list devices in this order. */
  readonly seq = nextDeviceSeq++;
  readonly lock = new AsyncMutex();
  state: DeviceState = 'detached';
  /** The bus it sits on, once added. */
  bus: AnyBus | null = null;
  /** The bound driver (set for the duration of a probe too, as Linux does). */
  driver: AnyDriver | null = null;
  /** Only this driver may bind it (Linux: driver_override); null when unset. */
  driverOverride: string | null = null;
  /** Whatever the bound driver keeps here (Linux: dev_get_drvdata). */
  driverData: unknown = undefined;

  constructor(
    readonly name: string,
    readonly parent: Device | null = null,
  ) {}

  /** Probes again (a parked device after a deferral). Never rejects. */
  async reprobe(): Promise<boolean> {
    if (!this.bus || this.state !== 'live') return false;
    return this.bus.probeDevice(this);
  }

  get bound(): boolean {
    return this.driver !== null && this.state !== 'dead';
  }

  toString(): string {
    return this.name;
  }
}
