// The README's misuse: getDriver returns null unless the driver is registered, so its result
// cannot be passed to driverAttach unchecked. This file must not compile.
import { Bus, Device, Driver, driverAttach, getDriver, type BusType } from 'usb-serial-harness';

const type: BusType<Device, string> = {
  name: 'misuse',
  idKey: (id) => id,
  deviceKeys: (d) => [d.name],
  matchId: (d, id) => d.name === id,
  parseNewId: (text) => text.trim(),
};
const drv = new Driver<Device, string>(new Bus(type), { name: 'unchecked', idTable: [], async probe() {} });
export const attached = driverAttach(getDriver(drv));
