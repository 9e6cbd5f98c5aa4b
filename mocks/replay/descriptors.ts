// A recorded device's descriptors (the GET_DESCRIPTOR answers in the capture) as the DeviceSpec
// an emulated device is built from (USB 2.0 §9.6). Class-specific descriptors inside the
// configuration are skipped: the replay answers GET_DESCRIPTOR(configuration) with the recorded
// bytes themselves, so nothing is lost on the wire.
import type { ConfigurationSpec, DeviceSpec, EndpointSpec, InterfaceSpec } from '../index.ts';
import { descriptorAnswer, ReplayCaptureError, type RecordedDevice } from './session.ts';

const u16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const TYPES = ['control', 'isochronous', 'bulk', 'interrupt'] as const;

function decodeString(b: Uint8Array | undefined): string | null {
  if (!b || b.length < 2 || b[1] !== 3) return null;
  let s = '';
  for (let i = 2; i + 1 < Math.min(b.length, b[0]!); i += 2) s += String.fromCharCode(u16(b, i));
  return s;
}

export function parseConfiguration(b: Uint8Array): ConfigurationSpec {
  if (b.length < 9 || b[1] !== 2) throw new ReplayCaptureError('the recorded GET_DESCRIPTOR(configuration) answer is not a configuration descriptor');
  const interfaces: (InterfaceSpec & { alternates: NonNullable<Extract<InterfaceSpec, { alternates: unknown }>['alternates']> })[] = [];
  let current: { endpoints: EndpointSpec[] } | undefined;
  for (let at = b[0]!; at + 2 <= b.length && b[at]! >= 2; at += b[at]!) {
    const type = b[at + 1];
    if (type === 4 && at + 9 <= b.length) {
      const number = b[at + 2]!;
      let iface = interfaces.find((i) => i.bInterfaceNumber === number);
      if (!iface) interfaces.push((iface = { bInterfaceNumber: number, alternates: [] }));
      current = { endpoints: [] };
      iface.alternates.push({
        bAlternateSetting: b[at + 3]!,
        bInterfaceClass: b[at + 5]!,
        bInterfaceSubClass: b[at + 6]!,
        bInterfaceProtocol: b[at + 7]!,
        iInterface: b[at + 8]!,
        endpoints: current.endpoints,
      });
    } else if (type === 5 && at + 7 <= b.length && current) {
      current.endpoints.push({ bEndpointAddress: b[at + 2]!, type: TYPES[b[at + 3]! & 3], wMaxPacketSize: u16(b, at + 4), bInterval: b[at + 6]! });
    }
  }
  return { bConfigurationValue: b[5]!, iConfiguration: b[6]!, bmAttributes: b[7]!, maxPowerMa: b[8]! * 2, interfaces };
}

/** The device as the capture describes it (strings where the capture holds their answers). */
export function recordedDeviceSpec(d: RecordedDevice): DeviceSpec {
  const dd = descriptorAnswer(d, 1, 0);
  if (!dd || dd.length < 18 || dd[1] !== 1) throw new ReplayCaptureError(`device ${d.bus}:${d.device}: no complete GET_DESCRIPTOR(device) answer in the capture`);
  const configurations: ConfigurationSpec[] = [];
  for (let i = 0; i < dd[17]!; i++) {
    const c = descriptorAnswer(d, 2, i);
    if (c && c.length >= u16(c, 2)) configurations.push(parseConfiguration(c));
  }
  if (!configurations.length) throw new ReplayCaptureError(`device ${d.bus}:${d.device}: no complete GET_DESCRIPTOR(configuration) answer in the capture`);
  const str = (index: number) => (index ? decodeString(descriptorAnswer(d, 3, index)) : null);
  return {
    bcdUSB: u16(dd, 2),
    bDeviceClass: dd[4]!,
    bDeviceSubClass: dd[5]!,
    bDeviceProtocol: dd[6]!,
    bMaxPacketSize0: dd[7]!,
    idVendor: u16(dd, 8),
    idProduct: u16(dd, 10),
    bcdDevice: u16(dd, 12),
    iManufacturer: dd[14]!,
    iProduct: dd[15]!,
    iSerialNumber: dd[16]!,
    manufacturer: str(dd[14]!),
    product: str(dd[15]!),
    serialNumber: str(dd[16]!),
    configurations,
  };
}
