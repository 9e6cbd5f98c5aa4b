// USB ID tables (Linux: struct usb_device_id and usb_match_one_id). A field that is present is
// matched (Linux's match_flags); the keys file each entry where a device can find it quickly.
import { IdParseError, parseHexFields } from '../core/index.ts';

export interface UsbDeviceId {
  vendor?: number;
  product?: number;
  /** bcdDevice range, inclusive. */
  bcdDeviceLo?: number;
  bcdDeviceHi?: number;
  deviceClass?: number;
  deviceSubclass?: number;
  deviceProtocol?: number;
  interfaceClass?: number;
  interfaceSubclass?: number;
  interfaceProtocol?: number;
  interfaceNumber?: number;
  /** Opaque per-entry data for the driver (Linux: driver_info). */
  driverInfo?: unknown;
}

/** What an ID entry is matched against: one interface of one device. */
export interface UsbMatchTarget {
  vendorId: number;
  productId: number;
  bcdDevice: number;
  deviceClass: number;
  deviceSubclass: number;
  deviceProtocol: number;
  interfaceClass: number;
  interfaceSubclass: number;
  interfaceProtocol: number;
  interfaceNumber: number;
}

/** USB_DEVICE(vendor, product) */
export const usbDevice = (vendor: number, product: number, driverInfo?: unknown): UsbDeviceId => ({
  vendor,
  product,
  ...(driverInfo !== undefined ? { driverInfo } : {}),
});

/** USB_DEVICE_VER(vendor, product, lo, hi) */
export const usbDeviceVer = (vendor: number, product: number, bcdDeviceLo: number, bcdDeviceHi: number, driverInfo?: unknown): UsbDeviceId => ({
  ...usbDevice(vendor, product, driverInfo),
  bcdDeviceLo,
  bcdDeviceHi,
});

/** USB_DEVICE_INTERFACE_NUMBER(vendor, product, n) */
export const usbDeviceInterfaceNumber = (vendor: number, product: number, interfaceNumber: number, driverInfo?: unknown): UsbDeviceId => ({
  ...usbDevice(vendor, product, driverInfo),
  interfaceNumber,
});

/** USB_INTERFACE_INFO(class, subclass, protocol) */
export const usbInterfaceInfo = (interfaceClass: number, interfaceSubclass: number, interfaceProtocol: number, driverInfo?: unknown): UsbDeviceId => ({
  interfaceClass,
  interfaceSubclass,
  interfaceProtocol,
  ...(driverInfo !== undefined ? { driverInfo } : {}),
});

const VENDOR_SPECIFIC = 0xff;

/** Linux's usb_match_one_id, field by field. */
export function usbMatchId(t: UsbMatchTarget, id: UsbDeviceId): boolean {
  if (id.vendor !== undefined && id.vendor !== t.vendorId) return false;
  if (id.product !== undefined && id.product !== t.productId) return false;
  if (id.bcdDeviceLo !== undefined && t.bcdDevice < id.bcdDeviceLo) return false;
  if (id.bcdDeviceHi !== undefined && t.bcdDevice > id.bcdDeviceHi) return false;
  if (id.deviceClass !== undefined && id.deviceClass !== t.deviceClass) return false;
  if (id.deviceSubclass !== undefined && id.deviceSubclass !== t.deviceSubclass) return false;
  if (id.deviceProtocol !== undefined && id.deviceProtocol !== t.deviceProtocol) return false;
  // A vendor-specific device is not matched by interface class alone: its interfaces' class
  // codes mean what the vendor says, not what the class driver thinks.
  const interfaceFields =
    id.interfaceClass !== undefined || id.interfaceSubclass !== undefined || id.interfaceProtocol !== undefined;
  if (t.deviceClass === VENDOR_SPECIFIC && id.vendor === undefined && interfaceFields) return false;
  if (id.interfaceClass !== undefined && id.interfaceClass !== t.interfaceClass) return false;
  if (id.interfaceSubclass !== undefined && id.interfaceSubclass !== t.interfaceSubclass) return false;
  if (id.interfaceProtocol !== undefined && id.interfaceProtocol !== t.interfaceProtocol) return false;
  if (id.interfaceNumber !== undefined && id.interfaceNumber !== t.interfaceNumber) return false;
  return true;
}

const h4 = (n: number) => n.toString(16).padStart(4, '0');
const h2 = (n: number) => n.toString(16).padStart(2, '0');

/** The one key an entry is filed under: its most selective field. */
export function usbIdKey(id: UsbDeviceId): string {
  if (id.vendor !== undefined && id.product !== undefined) return `vp:${h4(id.vendor)}:${h4(id.product)}`;
  if (id.vendor !== undefined) return `v:${h4(id.vendor)}`;
  if (id.interfaceClass !== undefined) return `ic:${h2(id.interfaceClass)}`;
  if (id.deviceClass !== undefined) return `dc:${h2(id.deviceClass)}`;
  return '*';
}

/** Every key an entry matching this target could be filed under. */
export function usbTargetKeys(t: UsbMatchTarget): string[] {
  return [`vp:${h4(t.vendorId)}:${h4(t.productId)}`, `v:${h4(t.vendorId)}`, `ic:${h2(t.interfaceClass)}`, `dc:${h2(t.deviceClass)}`];
}

/**
 * new_id for usb drivers: `VID PID [bInterfaceClass [refVID refPID]]`, hex. The five-field form
 * copies driver_info from the static entry with that vendor and product, or fails.
 */
export function parseUsbNewId(text: string, staticIds: readonly UsbDeviceId[]): UsbDeviceId {
  const [vendor, product, cls, refVendor, refProduct] = parseHexFields(
    text,
    [
      { name: 'idVendor', max: 0xffff },
      { name: 'idProduct', max: 0xffff },
      { name: 'bInterfaceClass', max: 0xff },
      { name: 'reference idVendor', max: 0xffff },
      { name: 'reference idProduct', max: 0xffff },
    ],
    2,
  );
  if (refVendor !== undefined && refProduct === undefined) {
    throw new IdParseError(text, 'a reference entry needs both idVendor and idProduct');
  }
  const id: UsbDeviceId = { vendor: vendor!, product: product! };
  if (cls !== undefined) id.interfaceClass = cls;
  if (refVendor !== undefined) {
    const ref = staticIds.find((e) => e.vendor === refVendor && e.product === refProduct);
    if (!ref) throw new IdParseError(text, `unknown reference entry ${h4(refVendor)}:${h4(refProduct!)} (not in the driver's ID table)`);
    if (ref.driverInfo !== undefined) id.driverInfo = ref.driverInfo;
  }
  return id;
}

/** remove_id: `VID PID`, hex; selects the dynamic IDs with that vendor and product. */
export function parseUsbRemoveId(text: string): (id: UsbDeviceId) => boolean {
  const [vendor, product] = parseHexFields(
    text,
    [
      { name: 'idVendor', max: 0xffff },
      { name: 'idProduct', max: 0xffff },
    ],
    2,
  );
  return (id) => id.vendor === vendor && id.product === product;
}

/** How new_id reads back (Linux prints "vvvv pppp" and the class when set). */
export function formatUsbId(id: UsbDeviceId): string {
  const parts = [h4(id.vendor ?? 0), h4(id.product ?? 0)];
  if (id.interfaceClass !== undefined) parts.push(h2(id.interfaceClass));
  return parts.join(' ');
}
