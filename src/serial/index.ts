// usb-serial on top of the usb bus.
export { usbSerialBusOf, MinorAllocator, type UsbSerialBus } from './bus.ts';
export { SerialDriver, isSerialTypeId, type SerialDriverSpec, type SerialId, type SerialTypeId } from './driver.ts';
export { UsbSerial, UsbSerialPort, PortDisconnectedError, PortStateError, type PortEvent, type PortState } from './port.ts';
export type { PortOperations, PortSink } from './port-ops.ts';
export { InPipeline, type InPipelineOptions } from './pipeline.ts';
export * from './settings.ts';
export {
  registerUsbSerialDrivers,
  deregisterUsbSerialDrivers,
  UsbSerialRegistration,
  UsbSerialRegistrationError,
  type RegisterUsbSerialOptions,
} from './register.ts';
