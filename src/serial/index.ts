// usb-serial on top of the usb bus.
export { usbSerialBusOf, MinorAllocator, type UsbSerialBus } from './bus.ts';
export { SerialDriver, isSerialTypeId, type SerialDriverSpec, type SerialId, type SerialTypeId } from './driver.ts';
export { UsbSerial, UsbSerialPort, PortDisconnectedError, PortStateError, WriteAbortedError, type PortEvent, type PortState } from './port.ts';
export type { PortOperations, PortSink, PortCapabilities, PortCloseOptions } from './port-ops.ts';
export { defineUsbSerialDriver, type UsbSerialChipDriver } from './generic/driver.ts';
export type { UsbSerialChipOps } from './generic/chip-ops.ts';
export { InPipeline, type InPipelineOptions } from './pipeline.ts';
export * from './settings.ts';
export {
  registerUsbSerialDrivers,
  deregisterUsbSerialDrivers,
  UsbSerialRegistration,
  UsbSerialRegistrationError,
  type RegisterUsbSerialOptions,
} from './register.ts';
export { SerialStream, openSerialStream, type SerialStreamOptions, type OpenSerialStreamOptions, type StreamLineError, type SerialStreamEvents } from './stream.ts';
export { isPortReady, readyPorts, watchPorts, closeDiscarding, type UsbSerialHost, type PortChange } from './port-watch.ts';
export { findPort, resolvePort, byIdName, locationOf, UnknownPortError, AmbiguousPortError } from './port-resolver.ts';
export type { UsbSerialDriverSet } from './driver-set.ts';
export { UsbSerialBindingPort, createUsbSerialBinding, SerialBindingError, portInfo, settingsFromOpenOptions, type UsbSerialBinding, type UsbSerialBindingOptions, type UsbSerialHotplugEvent } from './serialport-binding.ts';
export { Serial, SerialPort, SerialConnectionEvent, createWebSerial, MAX_BUFFER_SIZE, type WebSerialOptions, type SerialOptions, type SerialOutputSignals, type SerialInputSignals, type SerialPortInfo, type SerialPortFilter, type SerialPortRequestOptions, type ParityType, type FlowControlType } from './web-serial.ts';
