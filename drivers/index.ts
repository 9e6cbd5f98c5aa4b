// The chip drivers this project ships, as usb-serial driver sets: what the command line and the
// mock lab register by default. A new chip family is one folder here and one entry below.
import type { UsbSerialDriverSet } from '../src/serial/driver-set.ts';
import { FTDI_IDS, ftdiSerialDriver } from './ftdi/index.ts';
import { PL2303_ID_TABLE, pl2303Driver } from './pl2303/index.ts';
import { ch341DriverSet } from './ch341/index.ts';
import { cdcAcmDriverSet } from './cdc-acm/index.ts';

/** The default driver list, in registration order (a fresh array: callers may filter or extend it). */
export function defaultDriverSets(): UsbSerialDriverSet[] {
  return [
    { name: 'ftdi_sio', specs: [ftdiSerialDriver], ids: FTDI_IDS },
    { name: 'pl2303', specs: [pl2303Driver], ids: PL2303_ID_TABLE },
    ch341DriverSet,
    cdcAcmDriverSet,
  ];
}
