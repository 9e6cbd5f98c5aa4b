// The descriptors a capture starts each device with, encoded from what the backend shows
// (USB 2.0 §9.6.1 device, §9.6.3 configuration, §9.6.5 interface, §9.6.6 endpoint). Wireshark
// keys its class and vendor dissectors on the GET_DESCRIPTOR(device) answer it sees in the
// capture (VID:PID, bcdDevice), and the endpoint types on GET_DESCRIPTOR(configuration).
// WebUSB leaves out bMaxPacketSize0, the string indexes, bmAttributes, bMaxPower and bInterval:
// the raw device descriptor is used where the backend has it; the rest take neutral values
// (64, 0, 0x80 bus powered, 100 mA, bInterval 0 for bulk and 1 for interrupt).
import type { HostDevice } from '../usb/host.ts';

const TYPE_BITS: Record<USBEndpointType, number> = { bulk: 2, interrupt: 3, isochronous: 1 };

/** The 18-byte device descriptor. */
export function deviceDescriptorBytes(dev: HostDevice): Uint8Array {
  const u = dev.usb;
  const raw = dev.deviceDescriptor;
  const bcdUSB = raw?.bcdUSB ?? (u.usbVersionMajor << 8) | (u.usbVersionMinor << 4) | u.usbVersionSubminor;
  const bcdDevice = raw?.bcdDevice ?? (u.deviceVersionMajor << 8) | (u.deviceVersionMinor << 4) | u.deviceVersionSubminor;
  const vid = raw?.idVendor ?? u.vendorId;
  const pid = raw?.idProduct ?? u.productId;
  return Uint8Array.of(
    18,
    1,
    bcdUSB & 0xff,
    bcdUSB >> 8,
    raw?.bDeviceClass ?? u.deviceClass,
    raw?.bDeviceSubClass ?? u.deviceSubclass,
    raw?.bDeviceProtocol ?? u.deviceProtocol,
    raw?.bMaxPacketSize0 ?? 64,
    vid & 0xff,
    vid >> 8,
    pid & 0xff,
    pid >> 8,
    bcdDevice & 0xff,
    bcdDevice >> 8,
    raw?.iManufacturer ?? 0,
    raw?.iProduct ?? 0,
    raw?.iSerialNumber ?? 0,
    raw?.bNumConfigurations ?? u.configurations.length,
  );
}

/** The configuration descriptor with its interface and endpoint descriptors (wTotalLength bytes). */
export function configurationDescriptorBytes(c: USBConfiguration): Uint8Array {
  const body: number[] = [];
  for (const i of c.interfaces) {
    for (const a of i.alternates) {
      body.push(9, 4, i.interfaceNumber, a.alternateSetting, a.endpoints.length, a.interfaceClass, a.interfaceSubclass, a.interfaceProtocol, 0);
      for (const e of a.endpoints) {
        const address = (e.direction === 'in' ? 0x80 : 0) | e.endpointNumber;
        body.push(7, 5, address, TYPE_BITS[e.type], e.packetSize & 0xff, e.packetSize >> 8, e.type === 'interrupt' ? 1 : 0);
      }
    }
  }
  const total = 9 + body.length;
  return Uint8Array.of(9, 2, total & 0xff, total >> 8, c.interfaces.length, c.configurationValue, 0, 0x80, 50, ...body);
}
