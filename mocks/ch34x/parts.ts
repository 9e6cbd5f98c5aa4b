// The CH34x parts the lab emulates. Descriptors follow `lsusb -v` of common CH340/CH341 boards
// (1a86:7523 "USB2.0-Serial" / 1a86:5523, vendor class ff/01/02, ep0 of 8 bytes, bulk 0x82 IN and
// 0x02 OUT of 32 bytes, interrupt 0x81 IN of 8 bytes); the chip versions are the ones Linux's
// ch341.c distinguishes (0x27: LCR not written, no "send now" flag; 0x30 and up). The quirky part
// is the HL340-style clone whose READ_REG 0x0005 stalls (LIMITED_PRESCALER + SIMULATE_BREAK).
import type { DeviceSpec } from '../descriptors.ts';
import { MockLabError } from '../errors.ts';

export type Ch34xPart = 'CH340' | 'CH340-v27' | 'CH341' | 'CH340-quirky';

export interface Ch34xPartInfo {
  readonly part: Ch34xPart;
  readonly idProduct: number;
  readonly version: number;
  readonly bcdDevice: number;
  /** No break register: READ_REG/WRITE_REG of 0x05 stall, and prescaler codes with bit 2 set below ps 3 run wrong. */
  readonly quirky: boolean;
}

export const CH34X_PARTS: Readonly<Record<Ch34xPart, Ch34xPartInfo>> = Object.freeze({
  'CH340': { part: 'CH340', idProduct: 0x7523, version: 0x31, bcdDevice: 0x0264, quirky: false },
  'CH340-v27': { part: 'CH340-v27', idProduct: 0x7523, version: 0x27, bcdDevice: 0x0254, quirky: false },
  'CH341': { part: 'CH341', idProduct: 0x5523, version: 0x30, bcdDevice: 0x0304, quirky: false },
  'CH340-quirky': { part: 'CH340-quirky', idProduct: 0x7523, version: 0x31, bcdDevice: 0x0264, quirky: true },
});

export const CH34X_PART_NAMES = Object.freeze(Object.keys(CH34X_PARTS) as Ch34xPart[]);

export const CH34X_EP_INTERRUPT_IN = 0x81;
export const CH34X_EP_BULK_IN = 0x82;
export const CH34X_EP_BULK_OUT = 0x02;

export function ch34xPartInfo(p: Ch34xPart): Ch34xPartInfo {
  const i = CH34X_PARTS[p];
  if (!i) throw new MockLabError(`unknown CH34x part '${String(p)}'; known: ${CH34X_PART_NAMES.join(', ')}`);
  return i;
}

export function ch34xDeviceSpec(p: Ch34xPart, overrides: Partial<DeviceSpec> = {}): DeviceSpec {
  const i = ch34xPartInfo(p);
  return {
    idVendor: 0x1a86,
    idProduct: i.idProduct,
    bcdUSB: 0x0110,
    bDeviceClass: 0xff,
    bMaxPacketSize0: 8,
    bcdDevice: i.bcdDevice,
    manufacturer: null,
    product: i.idProduct === 0x7523 ? 'USB2.0-Serial' : 'USB Serial',
    serialNumber: null,
    configurations: [
      {
        bConfigurationValue: 1,
        bmAttributes: 0x80,
        maxPowerMa: 98,
        interfaces: [
          {
            bInterfaceNumber: 0,
            bInterfaceClass: 0xff,
            bInterfaceSubClass: 0x01,
            bInterfaceProtocol: 0x02,
            endpoints: [
              { bEndpointAddress: CH34X_EP_BULK_IN, type: 'bulk', wMaxPacketSize: 32 },
              { bEndpointAddress: CH34X_EP_BULK_OUT, type: 'bulk', wMaxPacketSize: 32 },
              { bEndpointAddress: CH34X_EP_INTERRUPT_IN, type: 'interrupt', wMaxPacketSize: 8, bInterval: 1 },
            ],
          },
        ],
      },
    ],
    ...overrides,
  };
}
