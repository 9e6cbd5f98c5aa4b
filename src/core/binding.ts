// Binding devices to drivers (Linux: drivers/base/dd.c): probe, release, attach a device to
// the first driver that takes it, attach a driver to every device it matches.
// Every probe runs under the device lock and under a pin on the driver, so an unregistration
// that has waited for the driver's pins cannot be followed by another probe.
import { childLog } from '../log.ts';
import type { Bus } from './bus.ts';
import type { Device } from './device.ts';
import type { Driver } from './driver.ts';
import { PinError, ProbeDefer, ProbeNoMatch } from './errors.ts';
import { busInternals, driverInternals } from './internal.ts';
import { getDriver, pinAlongside, putDriver, type DriverPin } from './pin.ts';

const log = childLog('core.binding');

/**
 * Records `device` as bound to `driver` without a probe and announces the bind (Linux's
 * device_bind_driver, used by usb_driver_claim_interface): the caller holds the device lock and
 * has set `device.driver`. A device not yet on the bus is recorded when the bus adds it.
 */
export function bindDeviceDriver<D extends Device, Id>(bus: Bus<D, Id>, device: D, driver: Driver<D, Id>): void {
  driverInternals(driver).boundDevices.add(device);
  busInternals<D, Id>(bus).announceBinding('bind', device, driver);
}

export type ProbeOutcome =
  | { kind: 'bound' }
  | { kind: 'no-match'; reason: string }
  | { kind: 'deferred'; reason: string }
  | { kind: 'failed'; error: unknown }
  | { kind: 'busy' }
  | { kind: 'gone' };

/** Probes one device with one driver. The caller holds the device lock and a pin. */
export async function reallyProbe<D extends Device, Id>(
  bus: Bus<D, Id>,
  device: D,
  driver: Driver<D, Id>,
  id: Id | null,
): Promise<ProbeOutcome> {
  if (device.state !== 'live') return { kind: 'gone' };
  if (device.driver !== null) return { kind: 'busy' };
  const deferredCount = bus.model.deferred.triggerCount;
  device.driver = driver;
  try {
    await busInternals<D, Id>(bus).callProbe(device, driver, id);
  } catch (error) {
    device.driver = null;
    device.driverData = undefined;
    if (error instanceof ProbeNoMatch) return { kind: 'no-match', reason: error.message };
    if (error instanceof ProbeDefer) {
      bus.model.deferred.park(device, deferredCount);
      log.debug({ device: device.name, driver: driver.name, reason: error.message }, 'probe deferred');
      return { kind: 'deferred', reason: error.message };
    }
    log.warn({ err: error, device: device.name, driver: driver.name }, 'probe failed; device left unbound');
    return { kind: 'failed', error };
  }
  driverInternals(driver).boundDevices.add(device);
  bus.model.deferred.drop(device);
  busInternals<D, Id>(bus).announceBinding('bind', device, driver);
  bus.model.deferred.bound();
  return { kind: 'bound' };
}

/**
 * Releases the device from its driver (Linux: device_release_driver). The caller holds the
 * device lock. With `only`, acts only if the device is bound to that driver.
 */
export async function releaseDevice<D extends Device, Id>(
  bus: Bus<D, Id>,
  device: D,
  only?: Driver<D, Id>,
): Promise<boolean> {
  const driver = device.driver as Driver<D, Id> | null;
  if (!driver || (only && driver !== only)) return false;
  try {
    await busInternals<D, Id>(bus).callRemove(device, driver);
  } catch (err) {
    log.warn({ err, device: device.name, driver: driver.name }, 'remove failed; device released anyway');
  }
  driverInternals(driver).boundDevices.delete(device);
  device.driver = null;
  device.driverData = undefined;
  busInternals<D, Id>(bus).announceBinding('unbind', device, driver);
  return true;
}

/** Finds the first driver that binds the device (Linux: device_attach). Never rejects. */
export async function attachDevice<D extends Device, Id>(bus: Bus<D, Id>, device: D): Promise<ProbeOutcome> {
  return device.lock.run(async (): Promise<ProbeOutcome> => {
    if (device.state !== 'live') return { kind: 'gone' };
    if (device.driver) return { kind: 'busy' };
    let last: ProbeOutcome = { kind: 'no-match', reason: 'no driver matches' };
    for (const { driver, id } of busInternals<D, Id>(bus).candidatesFor(device)) {
      const pin = getDriver(driver, 'core:attachDevice');
      if (!pin) continue; // not registered (yet, or any more): never probe through it
      try {
        last = await reallyProbe(bus, device, driver, id);
      } finally {
        putDriver(pin);
      }
      if (last.kind === 'bound' || last.kind === 'deferred' || last.kind === 'gone') return last;
    }
    return last;
  });
}

/**
 * Binds the pinned driver to every matching unbound device (Linux: driver_attach). Taking a pin
 * rather than a driver makes an attach through an unregistered or unpinned driver a type error.
 * It takes a pin of its own for its whole run, so the caller putting its pin back early cannot
 * let the driver's unregistration complete in the middle of a probe.
 * Resolves with the number of devices it bound.
 */
export async function driverAttach<D extends Device, Id>(pin: DriverPin<Driver<D, Id>>): Promise<number> {
  if (pin.returned) throw new PinError(`driverAttach() through pin #${pin.id}, which was already put back`);
  const own = pinAlongside(pin, 'core:driverAttach');
  try {
    const driver = pin.driver;
    const bus = driver.bus;
    const internals = busInternals<D, Id>(bus);
    let bound = 0;
    for (const device of internals.devicesFor(driver)) {
      if (device.state !== 'live' || device.driver) continue;
      const outcome = await device.lock.run(async (): Promise<ProbeOutcome | null> => {
        if (device.state !== 'live' || device.driver) return null;
        const id = internals.matchFor(device, driver);
        if (id === undefined) return null;
        return reallyProbe(bus, device, driver, id);
      });
      if (outcome?.kind === 'bound') bound++;
    }
    return bound;
  } finally {
    putDriver(own);
  }
}
