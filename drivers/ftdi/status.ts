// Parsing FTDI bulk IN transfers (pure). The chip sends one packet per wMaxPacketSize chunk,
// each starting with two status bytes: modem status, then line status (16550 MSR/LSR layout).
// A 2-byte packet is status only; the chip sends one each latency period while idle.
// Error attribution follows Linux's ftdi_process_packet.

export const FTDI_MODEM_STATUS = Object.freeze({
  CTS: 0x10,
  DSR: 0x20,
  RI: 0x40,
  DCD: 0x80,
});

export const FTDI_LINE_STATUS = Object.freeze({
  DATA_READY: 0x01,
  OVERRUN: 0x02,
  PARITY: 0x04,
  FRAMING: 0x08,
  BREAK: 0x10,
  THRE: 0x20,
  TEMT: 0x40,
  FIFO_ERROR: 0x80,
});

export interface FtdiModemStatus {
  readonly raw: number;
  readonly cts: boolean;
  readonly dsr: boolean;
  readonly ri: boolean;
  /** Carrier detect (RLSD). */
  readonly dcd: boolean;
}

export interface FtdiLineStatus {
  readonly raw: number;
  readonly dataReady: boolean;
  readonly overrun: boolean;
  readonly parity: boolean;
  readonly framing: boolean;
  readonly break: boolean;
  /** Transmit holding register empty. */
  readonly thre: boolean;
  /** Transmitter empty: everything written has left the UART. */
  readonly temt: boolean;
  readonly fifoError: boolean;
}

export type FtdiLineErrorKind = 'break' | 'parity' | 'framing' | 'overrun';

export interface FtdiLineError {
  readonly kind: FtdiLineErrorKind;
  /**
   * Index in the returned payload of the first byte the error applies to. For an overrun, the
   * index before which bytes were lost (Linux inserts a NUL flagged TTY_OVERRUN there).
   */
  readonly position: number;
  /** How many payload bytes it covers: 0 for overrun, 1 for break, the packet's bytes otherwise. */
  readonly length: number;
}

export interface FtdiBulkIn {
  /** Data bytes of every packet, status bytes removed. */
  readonly payload: Uint8Array;
  /** Modem status of the last packet, undefined if the transfer held none. */
  readonly modem: FtdiModemStatus | undefined;
  /** Line status of the last packet. */
  readonly line: FtdiLineStatus | undefined;
  /** Line errors in payload order. */
  readonly errors: readonly FtdiLineError[];
  /**
   * The modem status of the first packet, then of every packet whose modem byte differs from the
   * packet before it, with the payload index where that packet's data starts. Lets a driver
   * report a CTS pulse that starts and ends within one transfer, in order with the data.
   */
  readonly modemChanges: readonly { readonly position: number; readonly modem: FtdiModemStatus }[];
  /** Packets parsed (including status-only ones). */
  readonly packets: number;
  /** Chunks too short to hold the status bytes (skipped, as Linux does). */
  readonly malformed: number;
}

export class FtdiPacketSizeError extends Error {
  override readonly name = 'FtdiPacketSizeError';
  constructor(readonly maxPacketSize: number) {
    super(`bulk IN max packet size must be a positive integer (or 0 for 64), got ${String(maxPacketSize)}`);
  }
}

export function parseFtdiModemStatus(byte: number): FtdiModemStatus {
  return {
    raw: byte,
    cts: (byte & FTDI_MODEM_STATUS.CTS) !== 0,
    dsr: (byte & FTDI_MODEM_STATUS.DSR) !== 0,
    ri: (byte & FTDI_MODEM_STATUS.RI) !== 0,
    dcd: (byte & FTDI_MODEM_STATUS.DCD) !== 0,
  };
}

export function parseFtdiLineStatus(byte: number): FtdiLineStatus {
  const L = FTDI_LINE_STATUS;
  return {
    raw: byte,
    dataReady: (byte & L.DATA_READY) !== 0,
    overrun: (byte & L.OVERRUN) !== 0,
    parity: (byte & L.PARITY) !== 0,
    framing: (byte & L.FRAMING) !== 0,
    break: (byte & L.BREAK) !== 0,
    thre: (byte & L.THRE) !== 0,
    temt: (byte & L.TEMT) !== 0,
    fifoError: (byte & L.FIFO_ERROR) !== 0,
  };
}

/**
 * Splits a bulk IN transfer into `maxPacketSize` chunks and strips their status bytes.
 *
 * Errors are reported only for packets carrying data (a status-only packet would repeat them).
 * Within a packet: break applies to the last byte, and only if that byte is NUL (the chip puts
 * a NUL in for the break); parity, else framing, applies to the packet's other bytes (all of
 * them when there is no break); overrun is reported at the packet's first byte, covering none.
 */
export function parseFtdiBulkIn(transfer: Uint8Array, maxPacketSize: number): FtdiBulkIn {
  // Linux treats a wMaxPacketSize of 0 (seen on badly programmed FT232R EEPROMs) as 64. A size
  // of 1 or 2 is taken as it is (ftdi_process_read_urb): every chunk is then malformed or
  // status only, and no data is delivered.
  const size = maxPacketSize === 0 ? 64 : maxPacketSize;
  if (!Number.isInteger(size) || size < 1) throw new FtdiPacketSizeError(maxPacketSize);

  let total = 0;
  for (let i = 0; i < transfer.length; i += size) total += Math.max(0, Math.min(size, transfer.length - i) - 2);
  const payload = new Uint8Array(total);
  const errors: FtdiLineError[] = [];
  let modem: FtdiModemStatus | undefined;
  const modemChanges: { position: number; modem: FtdiModemStatus }[] = [];
  let lastModem = 0;
  let lastLine = -1;
  let packets = 0;
  let malformed = 0;
  let out = 0;
  const L = FTDI_LINE_STATUS;

  for (let i = 0; i < transfer.length; i += size) {
    const len = Math.min(size, transfer.length - i);
    if (len < 2) {
      malformed++;
      continue;
    }
    packets++;
    // Only the line bits count (bits 0..3 are reserved; bit 0 is always 1).
    lastModem = transfer[i]!;
    if (!modem || ((modem.raw ^ lastModem) & 0xf0) !== 0) {
      modem = parseFtdiModemStatus(lastModem);
      modemChanges.push({ position: out, modem });
    }
    const lsr = transfer[i + 1]!;
    lastLine = lsr;
    const n = len - 2;
    if (n === 0) continue;
    payload.set(transfer.subarray(i + 2, i + len), out);

    if (lsr & (L.OVERRUN | L.PARITY | L.FRAMING | L.BREAK)) {
      if (lsr & L.OVERRUN) errors.push({ kind: 'overrun', position: out, length: 0 });
      const brk = (lsr & L.BREAK) !== 0 && transfer[i + len - 1] === 0;
      const flagged = brk ? n - 1 : n;
      const kind: FtdiLineErrorKind | undefined = lsr & L.PARITY ? 'parity' : lsr & L.FRAMING ? 'framing' : undefined;
      if (kind && flagged > 0) errors.push({ kind, position: out, length: flagged });
      if (brk) errors.push({ kind: 'break', position: out + n - 1, length: 1 });
    }
    out += n;
  }
  // The last packet's status byte exactly (its reserved bits may differ from the last change's).
  if (modem && modem.raw !== lastModem) modem = parseFtdiModemStatus(lastModem);
  const line = lastLine < 0 ? undefined : parseFtdiLineStatus(lastLine);
  return { payload, modem, line, errors, modemChanges, packets, malformed };
}
