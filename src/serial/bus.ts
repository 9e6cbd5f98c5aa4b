// The usb-serial bus: ports bind to the serial driver whose adapter made them.
import { Bus, CoreError, type BusType } from '../core/index.ts';
import { usbIdKey, formatUsbId } from '../usb/ids.ts';
import type { UsbBus } from '../usb/bus.ts';
import { isSerialTypeId, SerialDriver, type SerialId } from './driver.ts';
import type { UsbSerialPort } from './port.ts';

export type UsbSerialBus = Bus<UsbSerialPort, SerialId> & { readonly minors: MinorAllocator };

const usbSerialBusType: BusType<UsbSerialPort, SerialId> = {
  name: 'usb-serial',
  idKey: (id) => (isSerialTypeId(id) ? `type:${id.serialType}` : usbIdKey(id)),
  deviceKeys: (port) => [`type:${port.typeName}`],
  matchId: (port, id) => isSerialTypeId(id) && id.serialType === port.typeName,
  formatId: (id) => (isSerialTypeId(id) ? `type ${id.serialType}` : formatUsbId(id)),
  checkDriver(driver) {
    if (!(driver instanceof SerialDriver)) throw new CoreError('EINVAL', `'${driver.name}' is not a usb-serial driver`);
  },
  uevent: (port) => ({ DEVNAME: port.name, ...port.serial.intf.uevent() }),
};

/** ttyUSB numbers: the lowest free one, as Linux allocates minors. */
export class MinorAllocator {
  private readonly used = new Set<number>();
  take(): number {
    let n = 0;
    while (this.used.has(n)) n++;
    this.used.add(n);
    return n;
  }
  free(n: number): void {
    this.used.delete(n);
  }
  get inUse(): number {
    return this.used.size;
  }
}

const busFor = new WeakMap<UsbBus, UsbSerialBus>();

/** The usb-serial bus that sits on a usb bus (one each, in the same driver model). */
export function usbSerialBusOf(usb: UsbBus): UsbSerialBus {
  let bus = busFor.get(usb);
  if (!bus) {
    bus = Object.assign(new Bus(usbSerialBusType, { model: usb.model }), { minors: new MinorAllocator() });
    busFor.set(usb, bus);
  }
  return bus;
}
