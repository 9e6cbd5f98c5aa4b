// CDC-ACM boards the lab emulates, with the descriptors they report (functional descriptors and
// IADs as raw class-specific bytes):
// - 'uno': an Arduino Uno R3's ATmega16U2 (2341:0043, device class 02, ACM caps 0x06, union 0 -> 1,
//   notification EP 0x82 of 8 bytes, data EP 0x04 OUT / 0x83 IN of 64). Its firmware
//   (Arduino-usbserial, on LUFA) sends no notification at all: its control-line handler only
//   drives the ATmega328P's reset from DTR, it never calls CDC_Device_SendControlLineStateChange,
//   and the board wires no modem input to the 16U2. So Linux's cdc-acm reads DSR/DCD/RI as 0
//   (acm->ctrlin is never set) and CTS as 1 (acm_tty_tiocmget), whatever is on the header pins;
// - 'pico': a Raspberry Pi Pico's SDK stdio (2e8a:000a, device class EF/02/01, an IAD over 0/1,
//   caps 0x02, EP 0x81 of 8 bytes, data 0x02 / 0x82, plus the vendor "Reset" interface 2 with no
//   endpoints; pico-sdk stdio_usb_descriptors.c);
// - 'no-union': a Motorola Q (22b8:7000), which Linux drives through NO_UNION_NORMAL: no class
//   descriptors at all, interface 0 control, 1 data.
// Strings and bcdDevice values are stand-ins where the sources do not give them (unverified).
import type { DeviceSpec } from '../descriptors.ts';
import { MockLabError } from '../errors.ts';

export type CdcAcmBoard = 'uno' | 'pico' | 'no-union';

export interface CdcAcmBoardInfo {
  readonly board: CdcAcmBoard;
  readonly commInterface: number;
  readonly dataInterface: number;
  readonly notifyEndpoint: number;
  readonly notifyPacket: number;
  readonly bulkIn: number;
  readonly bulkOut: number;
  /** ACM bmCapabilities the board reports (0 without an ACM descriptor). */
  readonly capabilities: number;
  /** Vendor interface with reset requests (the Pico's). */
  readonly resetInterface: number | null;
  /**
   * Whether the firmware reports its UART's input lines and line errors in SERIAL_STATE
   * notifications; without them the host reads only the driver's idle values (DSR/DCD/RI 0).
   */
  readonly serialState: boolean;
}

const header = (bcd: number) => [5, 0x24, 0x00, bcd & 0xff, bcd >> 8];
const callMgmt = (caps: number, data: number) => [5, 0x24, 0x01, caps, data];
const acm = (caps: number) => [4, 0x24, 0x02, caps];
const union = (master: number, slave: number) => [5, 0x24, 0x06, master, slave];

export const CDC_ACM_BOARDS: Readonly<Record<CdcAcmBoard, CdcAcmBoardInfo>> = Object.freeze({
  'uno': { board: 'uno', commInterface: 0, dataInterface: 1, notifyEndpoint: 0x82, notifyPacket: 8, bulkIn: 0x83, bulkOut: 0x04, capabilities: 0x06, resetInterface: null, serialState: false },
  'pico': { board: 'pico', commInterface: 0, dataInterface: 1, notifyEndpoint: 0x81, notifyPacket: 8, bulkIn: 0x82, bulkOut: 0x02, capabilities: 0x02, resetInterface: 2, serialState: true },
  'no-union': { board: 'no-union', commInterface: 0, dataInterface: 1, notifyEndpoint: 0x81, notifyPacket: 16, bulkIn: 0x82, bulkOut: 0x03, capabilities: 0, resetInterface: null, serialState: true },
});

export const CDC_ACM_BOARD_NAMES = Object.freeze(Object.keys(CDC_ACM_BOARDS) as CdcAcmBoard[]);

export function cdcAcmBoardInfo(b: CdcAcmBoard): CdcAcmBoardInfo {
  const i = CDC_ACM_BOARDS[b];
  if (!i) throw new MockLabError(`unknown CDC-ACM board '${String(b)}'; known: ${CDC_ACM_BOARD_NAMES.join(', ')}`);
  return i;
}

export function cdcAcmDeviceSpec(b: CdcAcmBoard, overrides: Partial<DeviceSpec> = {}): DeviceSpec {
  const i = cdcAcmBoardInfo(b);
  const data = { bInterfaceNumber: i.dataInterface, bInterfaceClass: 0x0a, bInterfaceSubClass: 0, bInterfaceProtocol: 0 };
  switch (b) {
    case 'uno':
      return {
        idVendor: 0x2341, idProduct: 0x0043, bcdUSB: 0x0110, bDeviceClass: 0x02, bMaxPacketSize0: 8, bcdDevice: 0x0001,
        manufacturer: 'Arduino (www.arduino.cc)', product: null, serialNumber: '85736323838351F0E1E1',
        configurations: [{ bmAttributes: 0xc0, maxPowerMa: 100, interfaces: [
          { bInterfaceNumber: 0, bInterfaceClass: 0x02, bInterfaceSubClass: 0x02, bInterfaceProtocol: 0x01, extra: [...header(0x0110), ...acm(0x06), ...union(0, 1), ...callMgmt(0x00, 1)], endpoints: [{ bEndpointAddress: 0x82, type: 'interrupt', wMaxPacketSize: 8, bInterval: 0xff }] },
          { ...data, endpoints: [{ bEndpointAddress: 0x04, type: 'bulk', wMaxPacketSize: 64 }, { bEndpointAddress: 0x83, type: 'bulk', wMaxPacketSize: 64 }] },
        ] }],
        ...overrides,
      };
    case 'pico':
      return {
        idVendor: 0x2e8a, idProduct: 0x000a, bcdUSB: 0x0200, bDeviceClass: 0xef, bDeviceSubClass: 0x02, bDeviceProtocol: 0x01, bMaxPacketSize0: 64, bcdDevice: 0x0100,
        manufacturer: 'Raspberry Pi', product: 'Pico', serialNumber: 'E660583883724A2B',
        configurations: [{ bmAttributes: 0x80, maxPowerMa: 250,
          associations: [{ bFirstInterface: 0, bInterfaceCount: 2, bFunctionClass: 0x02, bFunctionSubClass: 0x02, bFunctionProtocol: 0x00, iFunction: 0 }],
          interfaces: [
            { bInterfaceNumber: 0, bInterfaceClass: 0x02, bInterfaceSubClass: 0x02, bInterfaceProtocol: 0x00, interfaceName: 'Board CDC', extra: [...header(0x0120), ...callMgmt(0x00, 1), ...acm(0x02), ...union(0, 1)], endpoints: [{ bEndpointAddress: 0x81, type: 'interrupt', wMaxPacketSize: 8, bInterval: 16 }] },
            { ...data, endpoints: [{ bEndpointAddress: 0x02, type: 'bulk', wMaxPacketSize: 64 }, { bEndpointAddress: 0x82, type: 'bulk', wMaxPacketSize: 64 }] },
            { bInterfaceNumber: 2, bInterfaceClass: 0xff, bInterfaceSubClass: 0x00, bInterfaceProtocol: 0x01, interfaceName: 'Reset', endpoints: [] },
          ] }],
        ...overrides,
      };
    case 'no-union':
      return {
        idVendor: 0x22b8, idProduct: 0x7000, bcdUSB: 0x0110, bDeviceClass: 0x02, bMaxPacketSize0: 64, bcdDevice: 0x0001,
        manufacturer: 'Motorola Inc.', product: 'Motorola Q', serialNumber: null,
        configurations: [{ interfaces: [
          { bInterfaceNumber: 0, bInterfaceClass: 0x02, bInterfaceSubClass: 0x02, bInterfaceProtocol: 0x01, endpoints: [{ bEndpointAddress: 0x81, type: 'interrupt', wMaxPacketSize: 16, bInterval: 8 }] },
          { ...data, endpoints: [{ bEndpointAddress: 0x82, type: 'bulk', wMaxPacketSize: 64 }, { bEndpointAddress: 0x03, type: 'bulk', wMaxPacketSize: 64 }] },
        ] }],
        ...overrides,
      };
  }
}
