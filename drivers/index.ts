// The default driver list: every chip family this package drives, one driver set each.
import type { SerialDriverSpec } from '../src/serial/driver.ts';
import type { UsbDeviceId } from '../src/usb/ids.ts';
import { ftdiSerialDriver, FTDI_IDS } from './ftdi/index.ts';
import { pl2303Driver, PL2303_ID_TABLE } from './pl2303/index.ts';

export interface UsbSerialDriverSet {
  name: string;
  specs: SerialDriverSpec[];
  ids: UsbDeviceId[];
}

export function defaultDriverSets(): UsbSerialDriverSet[] {
  return [
    { name: 'ftdi_sio', specs: [ftdiSerialDriver], ids: [...FTDI_IDS] },
    { name: 'pl2303', specs: [pl2303Driver], ids: [...PL2303_ID_TABLE] },
  ];
}
