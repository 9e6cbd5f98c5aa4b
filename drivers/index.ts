// The chip drivers this project ships, as usb-serial driver sets: what the command line and the
// mock lab register by default. A new chip family is one folder here and one entry below.
import type { UsbSerialDriverSet } from '../src/serial/driver-set.ts';
import { cdcAcmDriverSet } from './cdc-acm/index.ts';
import { ch341DriverSet } from './ch341/index.ts';
import { cp210xDriverSet } from './cp210x/index.ts';
import { ftdiDriverSet } from './ftdi/index.ts';
import { pl2303DriverSet } from './pl2303/index.ts';

/**
 * The default driver list, in registration order (a fresh array: callers may filter or extend
 * it). The class driver comes last, so a vendor driver that knows a device by its ID is offered
 * it first, as Linux's module load order usually has it.
 */
export function defaultDriverSets(): UsbSerialDriverSet[] {
  return [ftdiDriverSet, pl2303DriverSet, cp210xDriverSet, ch341DriverSet, cdcAcmDriverSet];
}
