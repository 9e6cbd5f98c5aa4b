// The usb-serial driver API: everything a chip driver in drivers/ imports, and nothing else
// (what <linux/usb/serial.h> is to Linux's drivers). A chip driver is a UsbSerialChipOps table
// (generic/chip-ops.ts: the contract, method by method) turned into a serial driver by
// defineUsbSerialDriver; the generic layer does the I/O every chip shares.
//
// A chip folder builds its family with `const chip = defineUsbSerialDriver((options) => ops)` and
// exports the registration tail under its own names:
//   <chip>Driver             chip.driver, the serial driver with default options
//   create<Chip>Driver       chip.create, another driver with its own options (if it has any)
//   <chip>DriverSet          chip.driverSet, { name, specs, ids } for the default driver list
//   register<Chip>(usbBus)   chip.register
//   <chip>AdapterOf(target)  chip.adapterOf, the detected chip and its current settings
export type { UsbSerialChipOps, ChipPort, ChipAttach, ChipEndpoints, ChipCapabilities } from './generic/chip-ops.ts';
export { defineUsbSerialDriver, UsbSerialWriteError, type UsbSerialChipDriver } from './generic/driver.ts';
export { UsbSerialControl, UsbSerialControlError, type ControlSetup, type ControlFailure, type ControlRequestOptions } from './generic/control.ts';
export { UsbSerialReadError, READ_RESTARTS } from './generic/reader.ts';
export type { PortSink, PortCapabilities } from './port-ops.ts';
export { UsbSerialPort, UsbSerial, PortDisconnectedError } from './port.ts';
export type { SerialDriverSpec } from './driver.ts';
export { registerUsbSerialDrivers, type UsbSerialRegistration } from './register.ts';
export {
  SerialSettingsError,
  UnsupportedFeatureError,
  type AppliedSettings,
  type SerialSettings,
  type ModemLines,
  type LineError,
  type LineErrorKind,
  type DataBits,
  type Parity,
  type StopBits,
  type FlowControl,
} from './settings.ts';
export { ProbeNoMatch } from '../core/index.ts';
export type { UsbBus } from '../usb/bus.ts';
export type { UsbInterface, UsbEndpointInfo } from '../usb/device.ts';
export { usbDevice, usbInterfaceInfo, type UsbDeviceId } from '../usb/ids.ts';
export { usbDriverClaimInterface, usbDriverReleaseInterface } from '../usb/claim.ts';
export type { UsbDriver } from '../usb/driver.ts';
export { readDeviceDescriptor } from '../usb/descriptors.ts';
export { CDC_SERIAL_STATE } from '../usb/cdc.ts';
export type { RawDeviceDescriptor } from '../usb/host.ts';
export { transferErrorKind } from '../usb/host.ts';
export { childLog } from '../log.ts';

export type { UsbSerialDriverSet } from './driver-set.ts';
