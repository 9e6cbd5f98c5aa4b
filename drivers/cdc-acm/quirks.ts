// Linux cdc-acm quirk flags (drivers/usb/class/cdc-acm.h) and the IDs of its table that carry the
// ones that change how the device is found or driven (drivers/usb/class/cdc-acm.c `acm_ids`;
// a sample: the table has many more entries).

export type AcmQuirk =
  | 'NO_UNION_NORMAL' // no union descriptor: interface 0 is the control, 1 the data interface
  | 'NO_UNION_12' // no union descriptor: interface 1 is the control, 2 the data interface
  | 'SINGLE_RX_URB'
  | 'NO_DATA_INTERFACE'
  | 'IGNORE_DEVICE'
  | 'NO_CAP_LINE' // ignore the line-coding capability bit
  | 'CLEAR_HALT_CONDITIONS'
  | 'SEND_ZERO_PACKET'
  | 'DISABLE_ECHO'
  | 'MISSING_CAP_BRK' // the device breaks although its ACM descriptor lacks the capability bit
  | 'ALWAYS_POLL_CTRL';

export interface AcmQuirkEntry {
  readonly idVendor: number;
  readonly idProduct: number;
  readonly quirks: readonly AcmQuirk[];
  readonly note: string;
}

const e = (idVendor: number, idProduct: number, quirks: AcmQuirk[], note: string): AcmQuirkEntry =>
  Object.freeze({ idVendor, idProduct, quirks: Object.freeze(quirks), note });

export const ACM_QUIRK_TABLE: readonly AcmQuirkEntry[] = Object.freeze([
  e(0x0e8d, 0x0003, ['NO_UNION_NORMAL'], 'FRIENDLY_ARM / MediaTek'),
  e(0x22b8, 0x7000, ['NO_UNION_NORMAL'], 'Motorola Q Phone'),
  e(0x0572, 0x1321, ['NO_UNION_NORMAL'], 'Conexant USB MODEM RD02-D400'),
  e(0x1bbb, 0x0003, ['NO_UNION_NORMAL'], 'Alcatel OT-I650'),
  e(0x04b8, 0x0d12, ['NO_UNION_12'], 'Epson'),
  e(0x0ace, 0x1602, ['SINGLE_RX_URB'], 'ZyDAS 56K USB MODEM'),
  e(0x0424, 0x274e, ['DISABLE_ECHO'], 'Microchip'),
  e(0x045b, 0x023c, ['DISABLE_ECHO'], 'Renesas'),
  e(0x2912, 0x0001, ['CLEAR_HALT_CONDITIONS'], 'ATOL FPrint'),
  e(0x1bc7, 0x0021, ['SEND_ZERO_PACKET'], 'Telit'),
  e(0x1a86, 0x55d3, ['MISSING_CAP_BRK'], 'WCH CH343'),
  e(0x17ef, 0x6161, ['ALWAYS_POLL_CTRL'], 'Lenovo'),
]);

export function acmQuirksFor(idVendor: number, idProduct: number): readonly AcmQuirk[] {
  return ACM_QUIRK_TABLE.find((q) => q.idVendor === idVendor && q.idProduct === idProduct)?.quirks ?? [];
}
