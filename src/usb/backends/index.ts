// Host backends: libusb (`usb` 2.x), nusb (`usb` 3.x, installed as usb3), webusb (navigator.usb).
// Every module here loads in a browser bundle too: the native packages are imported only when a
// libusb or nusb backend is created.
export {
  createHostBackend,
  isHostBackendName,
  HOST_BACKEND_NAMES,
  type HostBackendName,
  type HostBackendOptions,
} from './select.ts';
export { LibusbBackend, createLibusbBackend, type LibusbBackendOptions } from './libusb.ts';
export { NusbBackend, createNusbBackend, type NusbBackendOptions } from './nusb.ts';
export {
  WebUsbBackend,
  createWebUsbBackend,
  globalWebUsb,
  type WebUsbLike,
  type WebUsbBackendOptions,
} from './webusb.ts';
export { HostBackendError, usbError, type UsbErrorName } from './errors.ts';
