// The emulated FTDI parts: what each generation reports in its descriptors and how big its
// buffers are. Kept apart from the driver's chip table (drivers/ftdi/chips.ts) on purpose: the
// emulation must not learn the chips from the code it is there to check.
//
// Descriptor values are those of parts with a blank or factory-default EEPROM as `lsusb -v`
// shows them (FT232R: "FT232R USB UART", bMaxPacketSize0 8, 90 mA; FT2232H: "Dual RS232-HS";
// FT4232H: "Quad RS232-HS"; FT232H: "Single RS232-HS"; FT230X: "FT230X Basic UART"). The HP
// parts' strings are placeholders (no capture at hand). Buffer sizes are the datasheets'
// (RX = line to USB, TX = USB to line); the HP parts take those of the H part with as many
// channels.

import type { FtdiChip } from '../../drivers/ftdi/chips.ts';

export type FtdiGeneration = 'sio' | 'am' | 'bm' | 'h';

export interface FtdiPart {
  readonly chip: FtdiChip;
  readonly generation: FtdiGeneration;
  readonly idProduct: number;
  readonly bcdDevice: number;
  readonly bcdUSB: number;
  readonly bMaxPacketSize0: number;
  readonly product: string;
  /** UART channels, one interface each (endpoints 0x81/0x02, 0x83/0x04, ...). */
  readonly channels: number;
  /** Bulk wMaxPacketSize: 512 on high-speed parts, 64 otherwise. */
  readonly packetSize: number;
  /** Bytes the chip buffers from the line before the host reads them. */
  readonly rxBuffer: number;
  /** Bytes the chip takes from the host before it NAKs bulk OUT. */
  readonly txBuffer: number;
  readonly maxPowerMa: number;
  readonly bmAttributes: number;
  /** GET/SET_LATENCY_TIMER exist (SIO and AM have a fixed timeout). */
  readonly latencyTimer: boolean;
  /** The fixed idle-packet period where there is no latency timer. */
  readonly fixedLatencyMs?: number;
  /** Requests name the channel (1..) in wIndex's low byte; 0 is also taken where `zeroSelector`. */
  readonly channelSelector: boolean;
  readonly zeroSelector: boolean;
}

type Row = [FtdiChip, FtdiGeneration, number, number, number, string, number, number, number];
// chip, generation, idProduct, bcdDevice, bcdUSB, product, channels, rxBuffer, txBuffer
const ROWS: readonly Row[] = [
  ['SIO', 'sio', 0x8372, 0x0001, 0x0110, 'USB <-> Serial', 1, 128, 128],
  ['FT232AM', 'am', 0x6001, 0x0200, 0x0110, 'USB <-> Serial', 1, 384, 128],
  ['FT232BM', 'bm', 0x6001, 0x0400, 0x0200, 'USB <-> Serial', 1, 384, 128],
  ['FT2232C', 'bm', 0x6010, 0x0500, 0x0200, 'Dual RS232', 2, 384, 128],
  ['FT232R', 'bm', 0x6001, 0x0600, 0x0200, 'FT232R USB UART', 1, 256, 128],
  ['FT2232H', 'h', 0x6010, 0x0700, 0x0200, 'Dual RS232-HS', 2, 4096, 4096],
  ['FT4232H', 'h', 0x6011, 0x0800, 0x0200, 'Quad RS232-HS', 4, 2048, 2048],
  ['FT232H', 'h', 0x6014, 0x0900, 0x0200, 'Single RS232-HS', 1, 1024, 1024],
  ['FT-X', 'bm', 0x6015, 0x1000, 0x0200, 'FT230X Basic UART', 1, 512, 512],
  ['FT2233HP', 'h', 0x6040, 0x2800, 0x0200, 'FT2233HP Dual HS UART', 2, 4096, 4096],
  ['FT4233HP', 'h', 0x6041, 0x2900, 0x0200, 'FT4233HP Quad HS UART', 4, 2048, 2048],
  ['FT2232HP', 'h', 0x6042, 0x3000, 0x0200, 'FT2232HP Dual HS UART', 2, 4096, 4096],
  ['FT4232HP', 'h', 0x6043, 0x3100, 0x0200, 'FT4232HP Quad HS UART', 4, 2048, 2048],
  ['FT233HP', 'h', 0x6044, 0x3200, 0x0200, 'FT233HP HS UART', 1, 1024, 1024],
  ['FT232HP', 'h', 0x6045, 0x3300, 0x0200, 'FT232HP HS UART', 1, 1024, 1024],
  ['FT4232HA', 'h', 0x6048, 0x3600, 0x0200, 'FT4232HA Quad HS UART', 4, 2048, 2048],
];

function part([chip, generation, idProduct, bcdDevice, bcdUSB, product, channels, rxBuffer, txBuffer]: Row): FtdiPart {
  const high = generation === 'h';
  // SIO, AM, BM and R take wIndex 0 (libftdi sends 1, which they accept too); FT232H and FT-X
  // also take selector 0 for their single channel.
  const selector = !(generation === 'sio' || generation === 'am' || chip === 'FT232BM' || chip === 'FT232R');
  return Object.freeze({
    chip,
    generation,
    idProduct,
    bcdDevice,
    bcdUSB,
    bMaxPacketSize0: high ? 64 : 8,
    product,
    channels,
    packetSize: high ? 512 : 64,
    rxBuffer,
    txBuffer,
    maxPowerMa: chip === 'FT232R' ? 90 : high ? 500 : 100,
    bmAttributes: chip === 'FT232R' ? 0xa0 : 0x80,
    latencyTimer: generation !== 'sio' && generation !== 'am',
    // SIO: "every 40 ms" (Linux ftdi_sio.h); AM: fixed 16 ms (FTDI D2XX guide).
    fixedLatencyMs: generation === 'sio' ? 40 : generation === 'am' ? 16 : undefined,
    channelSelector: selector,
    zeroSelector: chip === 'FT232H' || chip === 'FT-X',
  });
}

export const FTDI_PARTS: Readonly<Record<FtdiChip, FtdiPart>> = Object.freeze(
  Object.fromEntries(ROWS.map((r) => [r[0], part(r)])) as Record<FtdiChip, FtdiPart>,
);

export const FTDI_PART_LIST: readonly FtdiPart[] = Object.freeze(ROWS.map((r) => FTDI_PARTS[r[0]]));

/**
 * The part a descriptor describes, from its bcdDevice (and, for 0x200, whether it is the
 * FT232BM with the iSerialNumber = 0 bug: `bmQuirk`). Undefined when no part reports it.
 */
export function ftdiPartFor(bcdDevice: number, opts: { bmQuirk?: boolean } = {}): FtdiPart | undefined {
  if (bcdDevice < 0x200) return FTDI_PARTS.SIO;
  if (bcdDevice === 0x200) return opts.bmQuirk ? FTDI_PARTS.FT232BM : FTDI_PARTS.FT232AM;
  return FTDI_PART_LIST.find((p) => p.bcdDevice === bcdDevice && p.generation !== 'sio');
}
