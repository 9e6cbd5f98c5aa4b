// The CDC line coding (USB CDC PSTN120 §6.3.11, Linux's struct usb_cdc_line_coding): 7 bytes,
// dwDTERate u32 LE, bCharFormat (0 = 1, 1 = 1.5, 2 = 2 stop bits), bParityType (0 none, 1 odd,
// 2 even, 3 mark, 4 space), bDataBits (5-8 or 16).

export type AcmParity = 'none' | 'odd' | 'even' | 'mark' | 'space';
export type AcmStopBits = 1 | 1.5 | 2;
export type AcmDataBits = 5 | 6 | 7 | 8 | 16;

export interface AcmLineCoding {
  baudRate: number;
  stopBits: AcmStopBits;
  parity: AcmParity;
  dataBits: AcmDataBits;
}

export const ACM_LINE_CODING_LENGTH = 7;
const STOP: readonly AcmStopBits[] = [1, 1.5, 2];
const PARITY: readonly AcmParity[] = ['none', 'odd', 'even', 'mark', 'space'];

export class AcmLineCodingError extends Error {
  override readonly name = 'AcmLineCodingError';
}

export function encodeAcmLineCoding(c: AcmLineCoding): Uint8Array {
  if (!Number.isInteger(c.baudRate) || c.baudRate <= 0 || c.baudRate > 0xffffffff) {
    throw new AcmLineCodingError(`dwDTERate must be a positive 32-bit integer, got ${String(c.baudRate)}`);
  }
  const stop = STOP.indexOf(c.stopBits);
  if (stop < 0) throw new AcmLineCodingError(`stop bits must be 1, 1.5 or 2, got ${String(c.stopBits)}`);
  const parity = PARITY.indexOf(c.parity);
  if (parity < 0) throw new AcmLineCodingError(`unknown parity ${String(c.parity)}`);
  if (![5, 6, 7, 8, 16].includes(c.dataBits)) throw new AcmLineCodingError(`data bits must be 5-8 or 16, got ${String(c.dataBits)}`);
  const out = new Uint8Array(ACM_LINE_CODING_LENGTH);
  new DataView(out.buffer).setUint32(0, c.baudRate, true);
  out[4] = stop;
  out[5] = parity;
  out[6] = c.dataBits;
  return out;
}

/** Decodes 7 bytes (a GET_LINE_CODING answer); a field out of range is a typed error naming it. */
export function decodeAcmLineCoding(b: Uint8Array): AcmLineCoding {
  if (b.length < ACM_LINE_CODING_LENGTH) throw new AcmLineCodingError(`line coding is 7 bytes, got ${b.length}`);
  const baudRate = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
  const stopBits = STOP[b[4]];
  const parity = PARITY[b[5]];
  const dataBits = b[6];
  if (stopBits === undefined) throw new AcmLineCodingError(`bCharFormat ${b[4]} is not 0-2`);
  if (parity === undefined) throw new AcmLineCodingError(`bParityType ${b[5]} is not 0-4`);
  if (![5, 6, 7, 8, 16].includes(dataBits)) throw new AcmLineCodingError(`bDataBits ${dataBits} is not 5-8 or 16`);
  return { baudRate, stopBits, parity, dataBits: dataBits as AcmDataBits };
}
