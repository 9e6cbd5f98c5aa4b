// Read-only views of the core's bookkeeping, for whoever has to look without touching: the
// stress monitor, leak checks, tests (Linux shows the same through sysfs and debugfs). Each
// call returns a frozen snapshot; nothing in it reaches back into the core.
import type { Bus } from './bus.ts';
import type { Device, DeviceState } from './device.ts';
import type { AnyDriver, Driver, DriverState } from './driver.ts';
import { driverInternals } from './internal.ts';

export interface PinSnapshot {
  readonly id: number;
  /** Where the pin was taken (a label, or the call stack in debug mode). */
  readonly takenAt: string;
}

export interface DriverSnapshot<Id = unknown> {
  readonly bus: string;
  readonly name: string;
  readonly state: DriverState;
  readonly pinCount: number;
  readonly pins: readonly PinSnapshot[];
  /** Names of the devices bound to it (probe completed), in bind order. */
  readonly boundDevices: readonly string[];
  /** Its dynamic IDs (new_id), in the order they were added. */
  readonly dynamicIds: readonly Id[];
}

export interface DeviceSnapshot {
  readonly name: string;
  readonly state: DeviceState;
  /** The bound driver's name (also set while a probe runs, as Linux does), or null. */
  readonly driver: string | null;
  readonly driverOverride: string | null;
}

export interface BusSnapshot<Id = unknown> {
  readonly name: string;
  readonly autoprobe: boolean;
  readonly devices: readonly DeviceSnapshot[];
  readonly drivers: readonly DriverSnapshot<Id>[];
}

/** The ID type of a driver. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type IdOf<Drv> = Drv extends Driver<any, infer Id> ? Id : unknown;

export function inspectDriver<Drv extends AnyDriver>(driver: Drv): DriverSnapshot<IdOf<Drv>> {
  const internals = driverInternals(driver);
  const pins = [...internals.pins].map((p) => Object.freeze({ id: p.id, takenAt: p.takenAt }));
  return Object.freeze({
    bus: driver.bus.name,
    name: driver.name,
    state: internals.state,
    pinCount: pins.length,
    pins: Object.freeze(pins),
    boundDevices: Object.freeze([...internals.boundDevices].map((d) => d.name)),
    dynamicIds: Object.freeze([...internals.dynIds.list()] as IdOf<Drv>[]),
  });
}

/** What a driver holds, counted: nothing copied or frozen (for checks run after every step). */
export interface DriverCounts {
  readonly state: DriverState;
  readonly pinCount: number;
  readonly boundCount: number;
  readonly dynamicIdCount: number;
}

export function inspectDriverCounts(driver: AnyDriver): DriverCounts {
  const internals = driverInternals(driver);
  return { state: internals.state, pinCount: internals.pins.size, boundCount: internals.boundDevices.size, dynamicIdCount: internals.dynIds.size };
}

/** A driver's dynamic IDs alone, in the order they were added (inspectDriver's `dynamicIds`). */
export function inspectDynamicIds<Drv extends AnyDriver>(driver: Drv): readonly IdOf<Drv>[] {
  return Object.freeze([...driverInternals(driver).dynIds.list()] as IdOf<Drv>[]);
}

export function inspectBus<D extends Device, Id>(bus: Bus<D, Id>): BusSnapshot<Id> {
  return Object.freeze({
    name: bus.name,
    autoprobe: bus.autoprobe,
    devices: Object.freeze(
      bus.listDevices().map((d) =>
        Object.freeze({ name: d.name, state: d.state, driver: d.driver?.name ?? null, driverOverride: d.driverOverride }),
      ),
    ),
    drivers: Object.freeze(bus.listDrivers().map((d) => inspectDriver(d) as DriverSnapshot<Id>)),
  });
}
