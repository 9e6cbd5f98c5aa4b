// The usb bus on top of the core.
export { createUsbBus, usbBusType, type UsbBus } from './bus.ts';
export { decodeDeviceDescriptor, readDeviceDescriptor, DescriptorError } from './descriptors.ts';
export { UsbDevice, UsbInterface, type UsbEndpointInfo, type UsbNode } from './device.ts';
export { UsbDriver, type UsbDriverOptions } from './driver.ts';
export * from './host.ts';
export { hotplugEvents, matchingDevices, type HotplugEvent, type HotplugFilter } from './hotplug.ts';
export * from './ids.ts';
export { UsbSubsystem, type UsbSubsystemOptions } from './subsystem.ts';
export * from './backends/index.ts';
export { usbDriverClaimInterface, usbDriverReleaseInterface } from './claim.ts';
