// The cp210x ID table: Silicon Labs' own IDs for the parts this driver knows (Linux's
// cp210x.c id_table lists these among ~200 OEM IDs). Boards with other IDs bind through new_id.
import { usbDevice, type UsbDeviceId } from '../../src/serial/driver-api.ts';

export const CP210X_VENDOR_ID = 0x10c4;

export const CP210X_ID_TABLE: readonly UsbDeviceId[] = Object.freeze([
  usbDevice(CP210X_VENDOR_ID, 0xea60), // CP2101-CP2104 and CP2102N default
  usbDevice(CP210X_VENDOR_ID, 0xea61),
  usbDevice(CP210X_VENDOR_ID, 0xea63),
  usbDevice(CP210X_VENDOR_ID, 0xea70), // CP2105 default
  usbDevice(CP210X_VENDOR_ID, 0xea71), // CP2108 as the lab's emulation reports it (its default: unverified)
  usbDevice(CP210X_VENDOR_ID, 0xea7a),
  usbDevice(CP210X_VENDOR_ID, 0xea7b),
]);
