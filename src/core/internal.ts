// The core's private bookkeeping (Linux keeps it behind drv->p and drivers/base/base.h): per
// driver its state, pins, bound devices and dynamic IDs; per bus its match index and the hooks
// binding.ts calls. Only modules under src/core import this file; everyone else looks through
// inspect.ts, which hands out frozen snapshots.
import type { Device } from './device.ts';
import type { AnyDriver, Driver, DriverState } from './driver.ts';
import type { DynIdList } from './dynids.ts';
import type { DriverPin } from './pin.ts';

export interface DriverInternals<D extends Device = Device, Id = unknown> {
  state: DriverState;
  readonly pins: Set<DriverPin>;
  readonly boundDevices: Set<D>;
  readonly dynIds: DynIdList<Id>;
  /** Bumped at every registration: buses try drivers in registration order. */
  regSeq: number;
  /** Resolves when the last pin is put back during unregistration. */
  pinsDrained: (() => void) | null;
  /** The running unregistration, so concurrent calls share it. */
  unregistration: Promise<void> | null;
}

/** What binding.ts needs of a bus beyond its public face. */
export interface BusInternals<D extends Device = Device, Id = unknown> {
  /** Drivers matching the device, best first; driver_override narrows to one. */
  candidatesFor(device: D): { driver: Driver<D, Id>; id: Id | null }[];
  /** The entry by which `driver` matches `device`; null: by driver_override; undefined: no match. */
  matchFor(device: D, driver: Driver<D, Id>): Id | null | undefined;
  /** Devices the driver could bind, in creation order. */
  devicesFor(driver: Driver<D, Id>): D[];
  /** Replaces the driver's static IDs in the match index. */
  replaceIdTable(driver: Driver<D, Id>, ids: readonly Id[]): void;
  callProbe(device: D, driver: Driver<D, Id>, id: Id | null): Promise<void>;
  callRemove(device: D, driver: Driver<D, Id>): Promise<void>;
  announceBinding(action: 'bind' | 'unbind', device: D, driver: AnyDriver): void;
}

const drivers = new WeakMap<object, DriverInternals>();
const buses = new WeakMap<object, BusInternals>();

export function setDriverInternals(driver: object, internals: DriverInternals): void {
  drivers.set(driver, internals);
}

export function driverInternals<D extends Device, Id>(driver: Driver<D, Id>): DriverInternals<D, Id> {
  const found = drivers.get(driver);
  if (!found) throw new TypeError(`'${String(driver)}' is not a driver made by the core`);
  return found as unknown as DriverInternals<D, Id>;
}

export function setBusInternals(bus: object, internals: BusInternals): void {
  buses.set(bus, internals);
}

export function busInternals<D extends Device, Id>(bus: { readonly name: string }): BusInternals<D, Id> {
  const found = buses.get(bus);
  if (!found) throw new TypeError(`'${bus.name}' is not a bus made by the core`);
  return found as unknown as BusInternals<D, Id>;
}
