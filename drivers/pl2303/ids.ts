// The PL2303 ID table: Prolific's own IDs (one per chip family) and a selection of OEM cables
// from Linux's pl2303.h. Anything else can be added at run time through new_id.
import { usbDevice, type UsbDeviceId } from '../../src/serial/driver-api.ts';

/** Per-entry quirks (Linux: the id table's driver_info). */
export interface Pl2303IdInfo {
  /** The UART status sits at offset 0 of the notification, not 8 (Siemens phone cables). */
  readonly statusIndex0?: boolean;
  /**
   * The interrupt endpoint may live on interface 0 while the bulk pair is on another (Linux's
   * PL2303_QUIRK_ENDPOINT_HACK). Only the single-interface layout is supported here; such a
   * device bound on another interface is refused with a clear error.
   */
  readonly endpointHack?: boolean;
}

export const PL2303_VENDOR_ID = 0x067b;

const ENDPOINT_HACK: Pl2303IdInfo = Object.freeze({ endpointHack: true });
const STATUS_INDEX0: Pl2303IdInfo = Object.freeze({ statusIndex0: true });

export const PL2303_ID_TABLE: readonly UsbDeviceId[] = Object.freeze([
  // Prolific: 2303 is H/HX/HXD/TA, 2304 TB, 23a3..23f3 the G series (HXN).
  usbDevice(PL2303_VENDOR_ID, 0x2303, ENDPOINT_HACK),
  usbDevice(PL2303_VENDOR_ID, 0x2304), // TB
  usbDevice(PL2303_VENDOR_ID, 0x23a3), // GC
  usbDevice(PL2303_VENDOR_ID, 0x23b3), // GB
  usbDevice(PL2303_VENDOR_ID, 0x23c3), // GT
  usbDevice(PL2303_VENDOR_ID, 0x23d3), // GL
  usbDevice(PL2303_VENDOR_ID, 0x23e3), // GE
  usbDevice(PL2303_VENDOR_ID, 0x23f3), // GS
  usbDevice(PL2303_VENDOR_ID, 0x04bb), // RSAQ2
  usbDevice(PL2303_VENDOR_ID, 0xaaa2), // RSAQ3
  // OEM cables built on the PL2303.
  usbDevice(0x0557, 0x2008, ENDPOINT_HACK), // ATEN UC-232A
  usbDevice(0x0557, 0x2118), // ATEN (second ID)
  usbDevice(0x0547, 0x2008), // ATEN (second vendor ID)
  usbDevice(0x04bb, 0x0a03), // IO-DATA USB-RSAQ
  usbDevice(0x04bb, 0x0a0e), // IO-DATA USB-RSAQ5
  usbDevice(0x056e, 0x5003), // ELECOM
  usbDevice(0x056e, 0x5004), // ELECOM UC-SGT
  usbDevice(0x0eba, 0x1080), // ITEGNO
  usbDevice(0x0eba, 0x2080), // ITEGNO
  usbDevice(0x0584, 0xb000), // RATOC REX-USB60
  usbDevice(0x2478, 0x2008), // Tripp-Lite
  usbDevice(0x1453, 0x4026), // RadioShack
  usbDevice(0x0731, 0x0528), // DCU-10
  usbDevice(0x6189, 0x2068), // Sitecom
  usbDevice(0x050d, 0x0257), // Belkin F5U257
  usbDevice(0x07aa, 0x002a), // Corega CG-USBRS232R
  usbDevice(0x5372, 0x2303), // "Superial"
  usbDevice(0x0b8c, 0x2303), // SMART
  usbDevice(0x04b3, 0x4016), // IBM UPS cable
  usbDevice(0x03f0, 0x3524), // HP LD220 pole display
  usbDevice(0x11f5, 0x0001, STATUS_INDEX0), // Siemens SX1
  usbDevice(0x11f5, 0x0003, STATUS_INDEX0), // Siemens X65
  usbDevice(0x11f5, 0x0004, STATUS_INDEX0), // Siemens X75
]);

/** The entry's quirks, whatever shape driverInfo has (a new_id entry may carry none). */
export function pl2303IdInfo(id: UsbDeviceId | null | undefined): Pl2303IdInfo {
  const info = id?.driverInfo;
  return info && typeof info === 'object' ? (info as Pl2303IdInfo) : {};
}
