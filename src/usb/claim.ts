// A usb driver bound to one interface taking a second interface of the same device (Linux:
// usb_driver_claim_interface / usb_driver_release_interface, drivers/usb/core/driver.c). The
// class drivers that span interfaces need it: cdc_acm binds the communication interface and
// claims the data interface named by its union descriptor.
//
// Claiming binds the interface to the driver without a probe (Linux's device_bind_driver): the
// USB interface is claimed (a kernel driver on it detached), the interface counts as bound, so no
// other driver probes it, and bind is announced. Releasing goes through the ordinary unbind, as
// Linux's does: the driver's disconnect runs for that interface (it must expect it), the bus
// gives the USB interface back, unbind is announced.
import { bindDeviceDriver, BusyError, CoreError, releaseDevice } from '../core/index.ts';
import { childLog } from '../log.ts';
import { usbBusType, type UsbBus } from './bus.ts';
import { UsbInterface } from './device.ts';
import type { UsbDriver } from './driver.ts';

const log = childLog('usb.claim');

/** Binds `intf` to `driver` without a probe; `data` becomes its driverData. BusyError if it is bound. */
export async function usbDriverClaimInterface(driver: UsbDriver, intf: UsbInterface, data?: unknown): Promise<void> {
  const bus = driver.bus as UsbBus;
  if (intf.bus !== null && intf.bus !== bus) throw new CoreError('EINVAL', `${intf.name} is not on the bus of usb driver '${driver.name}'`);
  await intf.lock.run(async () => {
    // An interface of the device not yet added to the bus is claimed too; the bus binds it when it
    // is added (Bus.addDevice), as Linux does for an interface not yet registered.
    if (intf.state !== 'live' && intf.state !== 'detached') throw new CoreError('ENODEV', `${intf.name} is gone`);
    if (intf.usbDevice.gone) throw new CoreError('ENODEV', `${intf.name} is gone`);
    if (intf.driver) throw new BusyError(`${intf.name} is already bound to '${intf.driver.name}'`);
    // Taken before the USB claim awaits, so no probe of this interface starts meanwhile.
    intf.driver = driver;
    try {
      if (driver.claimsInterface) await intf.claim();
    } catch (err) {
      intf.driver = null;
      throw err;
    }
    intf.driverData = data;
    if (intf.state === 'live') {
      bindDeviceDriver(bus, intf, driver);
    }
  });
}

/**
 * Unbinds an interface `driver` claimed (or was probed on); nothing if another driver has it. An
 * interface the bus has not added yet had no bind announced: its driver's disconnect runs and the
 * USB interface is given back with no unbind announced, as Linux's usb_driver_release_interface
 * does for an interface that is not registered (usb_unbind_interface, then dev->driver = NULL).
 */
export async function usbDriverReleaseInterface(driver: UsbDriver, intf: UsbInterface): Promise<boolean> {
  const bus = driver.bus as UsbBus;
  if (intf.driver !== driver) return false;
  return intf.lock.run(async () => {
    if (intf.driver !== driver) return false;
    if (intf.state !== 'detached') return releaseDevice(bus, intf, driver);
    try {
      await usbBusType.remove!(intf, driver);
    } catch (err) {
      log.warn({ err, intf: intf.name, driver: driver.name }, 'disconnect failed; interface released anyway');
    }
    intf.driver = null;
    intf.driverData = undefined;
    return true;
  });
}
