// The keyed match index of one bus. Each ID entry is filed under one key its bus type derives
// (e.g. "vendor:product"); each device is looked up under every key it could be matched by.
// Finding the drivers for a device, or the devices for a driver, is then a few map look-ups
// plus a full check of the few entries found, never a scan of every entry of every driver.
import type { Device } from './device.ts';
import type { Driver } from './driver.ts';
import { driverInternals } from './internal.ts';

/** Matches anything; every device is also filed under it. */
export const WILDCARD_KEY = '*';

export interface MatchKeys<D extends Device, Id> {
  /** The one key an ID entry is filed under (WILDCARD_KEY when it names no keyed field). */
  idKey(id: Id): string;
  /** Every key under which an entry matching this device could be filed (WILDCARD_KEY is added). */
  deviceKeys(device: D): readonly string[];
  /** The full check of one entry against one device. */
  matchId(device: D, id: Id): boolean;
}

interface Entry<D extends Device, Id> {
  readonly driver: Driver<D, Id>;
  readonly id: Id;
  readonly dynamic: boolean;
  /** Table position (static) or insertion order (dynamic): the first match wins. */
  readonly order: number;
}

export class MatchIndex<D extends Device, Id> {
  private readonly entries = new Map<string, Entry<D, Id>[]>();
  private readonly driverKeys = new Map<Driver<D, Id>, Map<string, number>>();
  private readonly devices = new Map<string, Set<D>>();
  private readonly deviceKeyCache = new Map<D, readonly string[]>();
  private dynOrder = 0;

  constructor(private readonly keys: MatchKeys<D, Id>) {}

  addIds(driver: Driver<D, Id>, ids: readonly Id[], dynamic: boolean): void {
    ids.forEach((id, i) => {
      const key = this.keys.idKey(id);
      const entry: Entry<D, Id> = { driver, id, dynamic, order: dynamic ? this.dynOrder++ : i };
      let list = this.entries.get(key);
      if (!list) this.entries.set(key, (list = []));
      list.push(entry);
      let counts = this.driverKeys.get(driver);
      if (!counts) this.driverKeys.set(driver, (counts = new Map()));
      counts.set(key, (counts.get(key) ?? 0) + 1);
    });
  }

  /** Removes a driver's entries: those the predicate selects, or all of them. */
  removeIds(driver: Driver<D, Id>, select?: (id: Id, dynamic: boolean) => boolean): void {
    const counts = this.driverKeys.get(driver);
    if (!counts) return;
    for (const key of [...counts.keys()]) {
      const list = this.entries.get(key) ?? [];
      const kept = list.filter((e) => e.driver !== driver || (select !== undefined && !select(e.id, e.dynamic)));
      const removed = list.length - kept.length;
      if (kept.length) this.entries.set(key, kept);
      else this.entries.delete(key);
      const left = (counts.get(key) ?? 0) - removed;
      if (left > 0) counts.set(key, left);
      else counts.delete(key);
    }
    if (counts.size === 0) this.driverKeys.delete(driver);
  }

  addDevice(device: D): void {
    const keys = [...new Set([...this.keys.deviceKeys(device), WILDCARD_KEY])];
    this.deviceKeyCache.set(device, keys);
    for (const key of keys) {
      let set = this.devices.get(key);
      if (!set) this.devices.set(key, (set = new Set()));
      set.add(device);
    }
  }

  removeDevice(device: D): void {
    for (const key of this.deviceKeyCache.get(device) ?? []) {
      const set = this.devices.get(key);
      set?.delete(device);
      if (set && set.size === 0) this.devices.delete(key);
    }
    this.deviceKeyCache.delete(device);
  }

  /** Drivers with an entry matching the device, each with its best entry, in registration order. */
  driversFor(device: D): { driver: Driver<D, Id>; id: Id }[] {
    const best = new Map<Driver<D, Id>, Entry<D, Id>>();
    for (const key of this.deviceKeyCache.get(device) ?? []) {
      for (const e of this.entries.get(key) ?? []) {
        const cur = best.get(e.driver);
        if (cur && !better(e, cur)) continue;
        if (this.keys.matchId(device, e.id)) best.set(e.driver, e);
      }
    }
    return [...best.values()]
      .sort((a, b) => driverInternals(a.driver).regSeq - driverInternals(b.driver).regSeq)
      .map((e) => ({ driver: e.driver, id: e.id }));
  }

  /** The driver's best entry matching the device (dynamic IDs first), or undefined. */
  matchDriver(device: D, driver: Driver<D, Id>): Id | undefined {
    const counts = this.driverKeys.get(driver);
    if (!counts) return undefined;
    let found: Entry<D, Id> | undefined;
    for (const key of this.deviceKeyCache.get(device) ?? []) {
      if (!counts.has(key)) continue;
      for (const e of this.entries.get(key) ?? []) {
        if (e.driver !== driver || (found && !better(e, found))) continue;
        if (this.keys.matchId(device, e.id)) found = e;
      }
    }
    return found?.id;
  }

  /** Devices that may match one of the driver's entries, in the order they were created. */
  devicesFor(driver: Driver<D, Id>): D[] {
    const counts = this.driverKeys.get(driver);
    if (!counts) return [];
    const found = new Set<D>();
    for (const key of counts.keys()) {
      for (const d of this.devices.get(key) ?? []) found.add(d);
    }
    return [...found].sort((a, b) => a.seq - b.seq);
  }
}

function better<D extends Device, Id>(a: Entry<D, Id>, b: Entry<D, Id>): boolean {
  if (a.dynamic !== b.dynamic) return a.dynamic;
  return a.order < b.order;
}
