// A usb-serial driver set: what one usb-serial module registers (Linux's
// module_usb_serial_driver(serial_drivers, id_table)): the usb driver's name, its serial drivers,
// and the ID table the usb driver matches. Chip drivers export one each; drivers/index.ts lists
// the default ones; createStack registers them.
import type { UsbDeviceId } from '../usb/ids.ts';
import type { SerialDriverSpec } from './driver.ts';

export interface UsbSerialDriverSet {
  /** The usb driver's (module's) name, e.g. 'ftdi_sio'. */
  readonly name: string;
  /** Its serial drivers (Linux's usb_serial_driver list). */
  readonly specs: readonly SerialDriverSpec[];
  /** The usb driver's static ID table. */
  readonly ids: readonly UsbDeviceId[];
}
