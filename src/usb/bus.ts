// The `usb` bus type: interfaces match usb drivers' ID tables; the bus claims an interface
// around its driver's probe and disconnect.
import { Bus, CoreError, ProbeNoMatch, type BusOptions, type BusType } from '../core/index.ts';
import { UsbInterface, type UsbNode } from './device.ts';
import { UsbDriver } from './driver.ts';
import { formatUsbId, parseUsbNewId, parseUsbRemoveId, usbIdKey, usbMatchId, usbTargetKeys, type UsbDeviceId } from './ids.ts';

export type UsbBus = Bus<UsbNode, UsbDeviceId>;

export const usbBusType: BusType<UsbNode, UsbDeviceId> = {
  name: 'usb',
  idKey: usbIdKey,
  deviceKeys: (node) => (node instanceof UsbInterface ? usbTargetKeys(node) : []),
  matchId: (node, id) => node instanceof UsbInterface && usbMatchId(node, id),
  parseNewId: parseUsbNewId,
  parseRemoveId: parseUsbRemoveId,
  formatId: formatUsbId,
  checkDriver(driver) {
    if (!(driver instanceof UsbDriver)) throw new CoreError('EINVAL', `'${driver.name}' is not a usb driver`);
  },
  async probe(node, driver, id) {
    if (!(node instanceof UsbInterface)) throw new ProbeNoMatch('usb drivers bind interfaces');
    if (node.usbDevice.gone) throw new ProbeNoMatch(`${node.name} is already disconnected`);
    const claims = (driver as UsbDriver).claimsInterface;
    if (claims) await node.claim();
    try {
      await driver.methods.probe(node, id);
    } catch (err) {
      if (claims) await node.release();
      throw err;
    }
  },
  async remove(node, driver) {
    try {
      await driver.methods.remove?.(node);
    } finally {
      if (node instanceof UsbInterface && (driver as UsbDriver).claimsInterface) await node.release();
    }
  },
  uevent: (node) => node.uevent(),
};

export function createUsbBus(options: BusOptions = {}): UsbBus {
  return new Bus(usbBusType, options);
}
