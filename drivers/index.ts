// The chip drivers this project ships, as usb-serial driver sets: what the command line and the
// mock lab register by default. A new chip family is one folder here and one entry below.
import type { UsbSerialDriverSet } from '../src/serial/driver-set.ts';
import { cp210xDriverSet } from './cp210x/index.ts';
import { ftdiDriverSet } from './ftdi/index.ts';
import { pl2303DriverSet } from './pl2303/index.ts';

/** The default driver list, in registration order (a fresh array: callers may filter or extend it). */
export function defaultDriverSets(): UsbSerialDriverSet[] {
  return [ftdiDriverSet, pl2303DriverSet, cp210xDriverSet];
}
