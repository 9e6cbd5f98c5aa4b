// usb-serial-harness/mocks CP210x emulation: emulated parts built from the part table, from
// descriptor data, or from `lsusb -v` text. Each is a MockUsbDevice whose behaviour is a
// Cp210xChip with one UartPort per interface to wire up.
import { defineDevice, type DeviceDescriptor, type DeviceSpec } from '../descriptors.ts';
import { MockUsbDevice, type MockUsbDeviceOptions } from '../device.ts';
import { parseLsusb } from '../lsusb.ts';
import { Cp210xChip, type Cp210xChipOptions } from './chip.ts';
import { cp210xDeviceSpec, cp210xPartInfo, type Cp210xPart } from './parts.ts';

export { Cp210xChip, Cp210xEmulatedPort, CP210X_REQ, type Cp210xChipOptions, type Cp210xChipRefusal, type Cp210xFlow } from './chip.ts';
export { CP210X_PARTS, CP210X_PART_NAMES, cp210xDeviceSpec, cp210xPartInfo, type Cp210xPart, type Cp210xPartInfo, type Cp210xPortModel } from './parts.ts';
export { cp210xChipBaud, Cp210xChipBaudRejected } from './baud.ts';

export interface EmulatedCp210x {
  readonly device: MockUsbDevice;
  readonly chip: Cp210xChip;
}

export interface EmulatedCp210xOptions {
  descriptor?: Partial<DeviceSpec>;
  chip?: Cp210xChipOptions;
  device?: MockUsbDeviceOptions;
}

/** An emulated CP210x of a given part, with the descriptors that part reports. */
export function createCp210x(part: Cp210xPart, options: EmulatedCp210xOptions = {}): EmulatedCp210x {
  const chip = new Cp210xChip(cp210xPartInfo(part), options.chip);
  return { device: new MockUsbDevice(cp210xDeviceSpec(part, options.descriptor), chip, options.device), chip };
}

/** An emulated CP210x with other descriptors (an OEM board): the part says how the chip behaves. */
export function cp210xFromDescriptor(descriptor: DeviceSpec | DeviceDescriptor, part: Cp210xPart, options: Omit<EmulatedCp210xOptions, 'descriptor'> = {}): EmulatedCp210x {
  const chip = new Cp210xChip(cp210xPartInfo(part), options.chip);
  return { device: new MockUsbDevice(defineDevice(descriptor), chip, options.device), chip };
}

/** An emulated CP210x with the descriptors of `lsusb -v` text (one device). */
export function cp210xFromLsusb(text: string, part: Cp210xPart, options: Omit<EmulatedCp210xOptions, 'descriptor'> = {}): EmulatedCp210x {
  return cp210xFromDescriptor(parseLsusb(text), part, options);
}
