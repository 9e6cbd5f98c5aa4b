// usb-serial-harness/mocks CH34x emulation: CH340/CH341 parts from the part table, descriptor
// data or `lsusb -v` text; each a MockUsbDevice whose behaviour is a Ch34xChip with a UartPort.
import { defineDevice, type DeviceDescriptor, type DeviceSpec } from '../descriptors.ts';
import { MockUsbDevice, type MockUsbDeviceOptions } from '../device.ts';
import { parseLsusb } from '../lsusb.ts';
import { Ch34xChip, type Ch34xChipOptions } from './chip.ts';
import { ch34xDeviceSpec, ch34xPartInfo, type Ch34xPart } from './parts.ts';

export { Ch34xChip, type Ch34xChipOptions, type Ch34xChipRefusal } from './chip.ts';
export { CH34X_PARTS, CH34X_PART_NAMES, CH34X_EP_BULK_IN, CH34X_EP_BULK_OUT, CH34X_EP_INTERRUPT_IN, ch34xDeviceSpec, ch34xPartInfo, type Ch34xPart, type Ch34xPartInfo } from './parts.ts';
export { ch34xChipBaud, Ch34xChipBaudRejected } from './baud.ts';

export interface EmulatedCh34x {
  readonly device: MockUsbDevice;
  readonly chip: Ch34xChip;
}

export interface EmulatedCh34xOptions {
  descriptor?: Partial<DeviceSpec>;
  chip?: Ch34xChipOptions;
  device?: MockUsbDeviceOptions;
}

export function createCh34x(part: Ch34xPart, options: EmulatedCh34xOptions = {}): EmulatedCh34x {
  const chip = new Ch34xChip(ch34xPartInfo(part), options.chip);
  return { device: new MockUsbDevice(ch34xDeviceSpec(part, options.descriptor), chip, options.device), chip };
}

export function ch34xFromDescriptor(descriptor: DeviceSpec | DeviceDescriptor, part: Ch34xPart, options: Omit<EmulatedCh34xOptions, 'descriptor'> = {}): EmulatedCh34x {
  const chip = new Ch34xChip(ch34xPartInfo(part), options.chip);
  return { device: new MockUsbDevice(defineDevice(descriptor), chip, options.device), chip };
}

export function ch34xFromLsusb(text: string, part: Ch34xPart, options: Omit<EmulatedCh34xOptions, 'descriptor'> = {}): EmulatedCh34x {
  return ch34xFromDescriptor(parseLsusb(text), part, options);
}
