// The CP210x parts the lab emulates, with the descriptors they report and how each port's baud
// generator works. Descriptor values follow `lsusb -v` of these parts as commonly published
// (Silicon Labs' default IDs and strings); the CP2102N's endpoint pair (0x01 OUT / 0x82 IN) and the
// serial numbers are stand-ins (unverified).
import type { DeviceSpec } from '../descriptors.ts';
import { MockLabError } from '../errors.ts';

export type Cp210xPart = 'CP2101' | 'CP2102' | 'CP2103' | 'CP2102N' | 'CP2104' | 'CP2105' | 'CP2108';

/**
 * A port's baud generator: 'an205' maps a request to one of AN205 Table 1's rates (the older
 * parts' firmware table, plus a 48 MHz divider at and above 1 M where the part has one); 'divider'
 * runs 48 MHz / (2 * prescale * round(24 MHz / (prescale * rate))) exactly.
 */
export interface Cp210xPortModel {
  readonly generator: 'an205' | 'divider';
  /** Lowest and highest UART rate the port runs; a SET_BAUDRATE mapping outside stalls. */
  readonly minRate: number;
  readonly maxRate: number;
  readonly bulkIn: number;
  readonly bulkOut: number;
  readonly name: string;
  /** CP2101 takes only 8 data bits, 1 stop bit and no mark/space parity (as Linux forces it). */
  readonly eightBitOnly: boolean;
}

export interface Cp210xPartInfo {
  readonly part: Cp210xPart;
  readonly partnum: number;
  readonly idProduct: number;
  readonly bcdUSB: number;
  readonly bcdDevice: number;
  readonly product: string;
  readonly serialNumber: string;
  readonly ports: readonly Cp210xPortModel[];
  /** GET_FW_VER answer where the part has one (CP2105/CP2108: 3 bytes; CP2102N: GET_FW_VER_2N). */
  readonly firmware: readonly number[] | null;
}

const port = (generator: Cp210xPortModel['generator'], minRate: number, maxRate: number, n: number, name: string, bulkIn = 0x81 + n, bulkOut = 0x01 + n): Cp210xPortModel =>
  Object.freeze({ generator, minRate, maxRate, bulkIn, bulkOut, name, eightBitOnly: false });

export const CP210X_PARTS: Readonly<Record<Cp210xPart, Cp210xPartInfo>> = Object.freeze({
  CP2101: { part: 'CP2101', partnum: 0x01, idProduct: 0xea60, bcdUSB: 0x0110, bcdDevice: 0x0100, product: 'CP2101 USB to UART Bridge Controller', serialNumber: '0001', ports: [{ ...port('an205', 300, 921_600, 0, 'CP2101 USB to UART Bridge Controller'), eightBitOnly: true }], firmware: null },
  CP2102: { part: 'CP2102', partnum: 0x02, idProduct: 0xea60, bcdUSB: 0x0110, bcdDevice: 0x0100, product: 'CP2102 USB to UART Bridge Controller', serialNumber: '0001', ports: [port('an205', 300, 921_600, 0, 'CP2102 USB to UART Bridge Controller')], firmware: null },
  CP2103: { part: 'CP2103', partnum: 0x03, idProduct: 0xea60, bcdUSB: 0x0110, bcdDevice: 0x0100, product: 'CP2103 USB to UART Bridge Controller', serialNumber: '0001', ports: [port('an205', 300, 921_600, 0, 'CP2103 USB to UART Bridge Controller')], firmware: null },
  CP2102N: { part: 'CP2102N', partnum: 0x20, idProduct: 0xea60, bcdUSB: 0x0200, bcdDevice: 0x0100, product: 'CP2102N USB to UART Bridge Controller', serialNumber: 'a0b1c2d3e4f5e811a2b3c4d5e6f70001', ports: [port('divider', 300, 3_000_000, 0, 'CP2102N USB to UART Bridge Controller', 0x82, 0x01)], firmware: [1, 0, 8] },
  CP2104: { part: 'CP2104', partnum: 0x04, idProduct: 0xea60, bcdUSB: 0x0200, bcdDevice: 0x0100, product: 'CP2104 USB to UART Bridge Controller', serialNumber: '00A1B2C3', ports: [port('divider', 300, 2_000_000, 0, 'CP2104 USB to UART Bridge Controller')], firmware: null },
  CP2105: {
    part: 'CP2105', partnum: 0x05, idProduct: 0xea70, bcdUSB: 0x0200, bcdDevice: 0x0100, product: 'CP2105 Dual USB to UART Bridge Controller', serialNumber: '00B1C2D3',
    // Interface 0 is the Enhanced Communications Interface, 1 the Standard one (SCI: AN205 table, 2400-921600).
    ports: [port('divider', 300, 2_000_000, 0, 'Enhanced Com Port'), port('an205', 2400, 921_600, 1, 'Standard Com Port')],
    firmware: [1, 0, 2],
  },
  CP2108: {
    part: 'CP2108', partnum: 0x08, idProduct: 0xea71, bcdUSB: 0x0200, bcdDevice: 0x0100, product: 'CP2108 Quad USB to UART Bridge Controller', serialNumber: '00C1D2E3',
    ports: [0, 1, 2, 3].map((n) => port('an205', 300, 2_000_000, n, `CP2108 Interface ${n}`)),
    firmware: [1, 0, 6],
  },
});

export const CP210X_PART_NAMES = Object.freeze(Object.keys(CP210X_PARTS) as Cp210xPart[]);

export function cp210xPartInfo(p: Cp210xPart): Cp210xPartInfo {
  const info = CP210X_PARTS[p];
  if (!info) throw new MockLabError(`unknown CP210x part '${String(p)}'; known: ${CP210X_PART_NAMES.join(', ')}`);
  return info;
}

/** The descriptor set a part reports (overrides on top, e.g. an OEM vendor/product ID). */
export function cp210xDeviceSpec(p: Cp210xPart, overrides: Partial<DeviceSpec> = {}): DeviceSpec {
  const i = cp210xPartInfo(p);
  return {
    idVendor: 0x10c4,
    idProduct: i.idProduct,
    bcdUSB: i.bcdUSB,
    bDeviceClass: 0,
    bMaxPacketSize0: 64,
    bcdDevice: i.bcdDevice,
    manufacturer: 'Silicon Labs',
    product: i.product,
    serialNumber: i.serialNumber,
    configurations: [
      {
        bConfigurationValue: 1,
        bmAttributes: 0x80,
        maxPowerMa: 100,
        interfaces: i.ports.map((pm, n) => ({
          bInterfaceNumber: n,
          bInterfaceClass: 0xff,
          bInterfaceSubClass: 0,
          bInterfaceProtocol: 0,
          interfaceName: pm.name,
          endpoints: [
            { bEndpointAddress: pm.bulkIn, type: 'bulk' as const, wMaxPacketSize: 64 },
            { bEndpointAddress: pm.bulkOut, type: 'bulk' as const, wMaxPacketSize: 64 },
          ],
        })),
      },
    ],
    ...overrides,
  };
}
