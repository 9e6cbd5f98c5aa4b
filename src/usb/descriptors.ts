// Reading what WebUSB leaves out: the raw device descriptor (bMaxPacketSize0, iSerialNumber).
import type { RawDeviceDescriptor } from './host.ts';

export class DescriptorError extends Error {
  override readonly name = 'DescriptorError';
}

/** Decodes an 18-byte device descriptor. */
export function decodeDeviceDescriptor(bytes: DataView): RawDeviceDescriptor {
  if (bytes.byteLength < 18 || bytes.getUint8(1) !== 1) {
    throw new DescriptorError(`not a device descriptor (${bytes.byteLength} bytes, type ${bytes.byteLength > 1 ? bytes.getUint8(1) : '?'})`);
  }
  return {
    bcdUSB: bytes.getUint16(2, true),
    bDeviceClass: bytes.getUint8(4),
    bDeviceSubClass: bytes.getUint8(5),
    bDeviceProtocol: bytes.getUint8(6),
    bMaxPacketSize0: bytes.getUint8(7),
    idVendor: bytes.getUint16(8, true),
    idProduct: bytes.getUint16(10, true),
    bcdDevice: bytes.getUint16(12, true),
    iManufacturer: bytes.getUint8(14),
    iProduct: bytes.getUint8(15),
    iSerialNumber: bytes.getUint8(16),
    bNumConfigurations: bytes.getUint8(17),
  };
}

/** GET_DESCRIPTOR(DEVICE) on an opened device. */
export async function readDeviceDescriptor(device: USBDevice): Promise<RawDeviceDescriptor> {
  const r = await device.controlTransferIn(
    { requestType: 'standard', recipient: 'device', request: 6, value: 0x0100, index: 0 },
    18,
  );
  if (r.status !== 'ok' || !r.data) throw new DescriptorError(`GET_DESCRIPTOR(device) answered ${r.status}`);
  return decodeDeviceDescriptor(r.data);
}

/** bcdUSB / bcdDevice as WebUSB splits them (major byte, minor nibble, subminor nibble). */
export function bcdFromVersion(major: number, minor: number, subminor: number): number {
  return ((major & 0xff) << 8) | ((minor & 0xf) << 4) | (subminor & 0xf);
}
