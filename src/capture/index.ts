// Captures of USB traffic in the formats Linux and Wireshark use (usbmon events in pcapng),
// recorded at the host-backend boundary.
export { UsbRecorder, urbStatus } from './recorder.ts';
export type { CaptureSink, RecorderOptions, CaptureAddress } from './recorder.ts';
export { captureBackend, pcapngFileSink, MemoryCapture, toPcapng, pcapngHeader, eventBlock } from './file.ts';
export type { CaptureHandle, MemoryCaptureOptions } from './file.ts';
export { readCapture, CaptureFormatError, sectionHeaderBlock, interfaceDescriptionBlock, enhancedPacketBlock } from './pcapng.ts';
export type { CapturedPacket } from './pcapng.ts';
export {
  encodeUsbmonEvent,
  decodeUsbmonEvent,
  isIn,
  UsbmonFormatError,
  XFER,
  URB_STATUS,
  URB_DIR_IN,
  LINKTYPE_USB_LINUX,
  LINKTYPE_USB_LINUX_MMAPPED,
} from './usbmon.ts';
export type { UsbmonEvent, UsbmonTransferType, UsbSetupPacket } from './usbmon.ts';
export { parseUsbmonText, formatUsbmonText } from './usbmon-text.ts';
export { readUsbmonEvents } from './read.ts';
export { deviceDescriptorBytes, configurationDescriptorBytes } from './descriptors.ts';
