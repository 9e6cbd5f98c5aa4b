// The PL2303 parts the lab emulates, with the descriptors they report. The values follow what
// `lsusb -v` shows for these parts and what Linux's pl2303.c keys its detection on (device
// class, bMaxPacketSize0, bcdUSB, bcdDevice); where a part's exact strings or FIFO sizes are
// not documented the values are plausible stand-ins, marked as such.
import type { Pl2303Type } from '../../drivers/pl2303/types.ts';
import type { DeviceSpec, EndpointSpec } from '../descriptors.ts';
import { MockLabError } from '../errors.ts';

export type Pl2303Part =
  | 'PL2303H' // legacy, communications-class variant ("type 0")
  | 'PL2303H-8' // legacy with an 8-byte control endpoint ("type 1")
  | 'PL2303HX'
  | 'PL2303HXD'
  | 'PL2303HXD-clone' // an HXD look-alike whose GET_LINE and BREAK stall
  | 'PL2303TA'
  | 'PL2303TB'
  | 'PL2303GC'
  | 'PL2303GB'
  | 'PL2303GT'
  | 'PL2303GL'
  | 'PL2303GE'
  | 'PL2303GS';

export interface Pl2303PartInfo {
  readonly part: Pl2303Part;
  /** The chip behaviour the emulation gives it. */
  readonly type: Pl2303Type;
  readonly clone: boolean;
  readonly idProduct: number;
  readonly bcdUSB: number;
  readonly bcdDevice: number;
  readonly bDeviceClass: number;
  readonly bMaxPacketSize0: number;
  /** RX FIFO bytes (datasheet figures where known; unverified for the G series). */
  readonly rxFifo: number;
  readonly product: string;
  readonly serialNumber: string | null;
}

const P = 'USB-Serial Controller';

function part(p: Omit<Pl2303PartInfo, 'clone'> & { clone?: boolean }): Pl2303PartInfo {
  return Object.freeze({ clone: false, ...p });
}

export const PL2303_PARTS: Readonly<Record<Pl2303Part, Pl2303PartInfo>> = Object.freeze({
  'PL2303H': part({ part: 'PL2303H', type: 'H', idProduct: 0x2303, bcdUSB: 0x0110, bcdDevice: 0x0202, bDeviceClass: 0x02, bMaxPacketSize0: 64, rxFifo: 96, product: P, serialNumber: null }),
  'PL2303H-8': part({ part: 'PL2303H-8', type: 'H', idProduct: 0x2303, bcdUSB: 0x0110, bcdDevice: 0x0202, bDeviceClass: 0x00, bMaxPacketSize0: 8, rxFifo: 96, product: P, serialNumber: null }),
  'PL2303HX': part({ part: 'PL2303HX', type: 'HX', idProduct: 0x2303, bcdUSB: 0x0110, bcdDevice: 0x0300, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 256, product: P, serialNumber: null }),
  'PL2303HXD': part({ part: 'PL2303HXD', type: 'HXD', idProduct: 0x2303, bcdUSB: 0x0110, bcdDevice: 0x0400, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 512, product: `${P} D`, serialNumber: null }),
  'PL2303HXD-clone': part({ part: 'PL2303HXD-clone', type: 'HXD', clone: true, idProduct: 0x2303, bcdUSB: 0x0110, bcdDevice: 0x0400, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 256, product: `${P} D`, serialNumber: null }),
  'PL2303TA': part({ part: 'PL2303TA', type: 'TA', idProduct: 0x2303, bcdUSB: 0x0200, bcdDevice: 0x0300, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 512, product: P, serialNumber: null }),
  'PL2303TB': part({ part: 'PL2303TB', type: 'TB', idProduct: 0x2304, bcdUSB: 0x0200, bcdDevice: 0x0500, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 512, product: P, serialNumber: null }),
  // The G series (HXN): each part has its own product ID; GT and GE share bcdDevice with TA/TB.
  'PL2303GC': part({ part: 'PL2303GC', type: 'HXN', idProduct: 0x23a3, bcdUSB: 0x0200, bcdDevice: 0x0100, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 512, product: P, serialNumber: 'GC0001' }),
  // GB: bcdDevice 1.05 is the other value pl2303.c lists beside the GC's 1.00 (unverified for this part).
  'PL2303GB': part({ part: 'PL2303GB', type: 'HXN', idProduct: 0x23b3, bcdUSB: 0x0200, bcdDevice: 0x0105, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 512, product: P, serialNumber: 'GB0001' }),
  'PL2303GT': part({ part: 'PL2303GT', type: 'HXN', idProduct: 0x23c3, bcdUSB: 0x0200, bcdDevice: 0x0300, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 512, product: P, serialNumber: 'GT0001' }),
  'PL2303GL': part({ part: 'PL2303GL', type: 'HXN', idProduct: 0x23d3, bcdUSB: 0x0200, bcdDevice: 0x0400, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 512, product: P, serialNumber: 'GL0001' }),
  'PL2303GE': part({ part: 'PL2303GE', type: 'HXN', idProduct: 0x23e3, bcdUSB: 0x0200, bcdDevice: 0x0500, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 512, product: P, serialNumber: 'GE0001' }),
  'PL2303GS': part({ part: 'PL2303GS', type: 'HXN', idProduct: 0x23f3, bcdUSB: 0x0200, bcdDevice: 0x0600, bDeviceClass: 0x00, bMaxPacketSize0: 64, rxFifo: 512, product: P, serialNumber: 'GS0001' }),
});

export const PL2303_PART_NAMES = Object.freeze(Object.keys(PL2303_PARTS) as Pl2303Part[]);

/** The endpoints of the common HX layout: interrupt IN 0x81 (10 bytes), bulk OUT 0x02, bulk IN 0x83. */
export const PL2303_ENDPOINTS: readonly EndpointSpec[] = Object.freeze([
  Object.freeze({ bEndpointAddress: 0x81, type: 'interrupt' as const, wMaxPacketSize: 10, bInterval: 1 }),
  Object.freeze({ bEndpointAddress: 0x02, type: 'bulk' as const, wMaxPacketSize: 64, bInterval: 0 }),
  Object.freeze({ bEndpointAddress: 0x83, type: 'bulk' as const, wMaxPacketSize: 64, bInterval: 0 }),
]);

export function pl2303PartInfo(p: Pl2303Part): Pl2303PartInfo {
  const info = PL2303_PARTS[p];
  if (!info) throw new MockLabError(`unknown PL2303 part '${String(p)}'; known: ${PL2303_PART_NAMES.join(', ')}`);
  return info;
}

/** The descriptor set a part reports (overrides on top, e.g. an OEM vendor/product ID). */
export function pl2303DeviceSpec(p: Pl2303Part, overrides: Partial<DeviceSpec> = {}): DeviceSpec {
  const i = pl2303PartInfo(p);
  return {
    idVendor: 0x067b,
    idProduct: i.idProduct,
    bcdUSB: i.bcdUSB,
    bDeviceClass: i.bDeviceClass,
    bDeviceSubClass: 0,
    bDeviceProtocol: 0,
    bMaxPacketSize0: i.bMaxPacketSize0,
    bcdDevice: i.bcdDevice,
    manufacturer: 'Prolific Technology Inc.',
    product: i.product,
    serialNumber: i.serialNumber,
    configurations: [
      {
        bConfigurationValue: 1,
        bmAttributes: 0x80,
        maxPowerMa: 100,
        interfaces: [
          {
            bInterfaceNumber: 0,
            bInterfaceClass: 0xff,
            bInterfaceSubClass: 0,
            bInterfaceProtocol: 0,
            endpoints: PL2303_ENDPOINTS.map((e) => ({ ...e })),
          },
        ],
      },
    ],
    ...overrides,
  };
}

/**
 * Which chip behaviour fits a descriptor, from the emulation's side (for descriptors pasted from
 * `lsusb -v`): the legacy parts by class or control endpoint size, HX/HXD on USB 1.1 by
 * bcdDevice, the G series by Prolific's product IDs or the bcdDevice values only G parts use.
 * bcdUSB 2.00 with bcdDevice 3.00 or 5.00 is a TA/TB or a G part: only Prolific's own product
 * IDs say which; on an OEM ID the answer is undefined (the caller must say).
 */
export function pl2303TypeForDescriptor(d: {
  idVendor: number;
  idProduct: number;
  bDeviceClass: number;
  bMaxPacketSize0: number;
  bcdUSB: number;
  bcdDevice: number;
}): Pl2303Type | undefined {
  if (d.bDeviceClass === 0x02 || d.bMaxPacketSize0 !== 64) return 'H';
  if (d.bcdUSB === 0x0110 || d.bcdUSB === 0x0101) return d.bcdDevice === 0x0400 ? 'HXD' : 'HX';
  if (d.bcdUSB !== 0x0200) return undefined;
  const prolific = d.idVendor === 0x067b;
  if (prolific && [0x23a3, 0x23b3, 0x23c3, 0x23d3, 0x23e3, 0x23f3].includes(d.idProduct)) return 'HXN';
  if (d.bcdDevice === 0x0300) return prolific && d.idProduct === 0x2303 ? 'TA' : undefined;
  if (d.bcdDevice === 0x0500) return prolific && (d.idProduct === 0x2304 || d.idProduct === 0x2303) ? 'TB' : undefined;
  if ([0x0100, 0x0105, 0x0305, 0x0400, 0x0405, 0x0505, 0x0600, 0x0605, 0x0700, 0x0705, 0x0905, 0x1005].includes(d.bcdDevice)) return 'HXN';
  return undefined;
}
