// usb-serial on top of the usb bus.
export { usbSerialBusOf, MinorAllocator, type UsbSerialBus } from './bus.ts';
export { SerialDriver, isSerialTypeId, type SerialDriverSpec, type SerialId, type SerialTypeId } from './driver.ts';
export { UsbSerial, UsbSerialPort } from './port.ts';
export {
  registerUsbSerialDrivers,
  deregisterUsbSerialDrivers,
  UsbSerialRegistration,
  UsbSerialRegistrationError,
  type RegisterUsbSerialOptions,
} from './register.ts';
