// pcapng blocks (IETF draft-ietf-opsawg-pcapng §3-4): every block is type u32, total length u32,
// body padded to 4 bytes, total length again. A capture here is one Section Header Block, one
// Interface Description Block (link type and if_tsresol), then Enhanced Packet Blocks. The
// reader also takes classic pcap files (what QEMU's usb pcap= option and tcpdump -w write).
// Written little-endian; read in either byte order (the SHB's byte-order magic says which).

export const BLOCK = { SHB: 0x0a0d0d0a, IDB: 0x00000001, SPB: 0x00000003, EPB: 0x00000006 } as const;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_ENDOFOPT = 0;
const SHB_USERAPPL = 4;
const IF_TSRESOL = 9;

export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Options as (code, value) pairs, each padded, ended by opt_endofopt. */
function options(opts: [number, Uint8Array][]): Uint8Array {
  if (!opts.length) return new Uint8Array(0);
  const size = opts.reduce((n, [, v]) => n + 4 + pad4(v.length), 0) + 4;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const [code, v] of opts) {
    dv.setUint16(at, code, true);
    dv.setUint16(at + 2, v.length, true);
    out.set(v, at + 4);
    at += 4 + pad4(v.length);
  }
  dv.setUint16(at, OPT_ENDOFOPT, true);
  return out;
}

function block(type: number, body: Uint8Array): Uint8Array {
  const total = 12 + pad4(body.length);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, total, true);
  out.set(body, 8);
  dv.setUint32(total - 4, total, true);
  return out;
}

/** SHB, version 1.0, section length -1 (not known while writing), shb_userappl. */
export function sectionHeaderBlock(application: string): Uint8Array {
  const opts = options([[SHB_USERAPPL, new TextEncoder().encode(application)]]);
  const body = new Uint8Array(16 + opts.length);
  const dv = new DataView(body.buffer);
  dv.setUint32(0, BYTE_ORDER_MAGIC, true);
  dv.setUint16(4, 1, true);
  dv.setUint16(6, 0, true);
  dv.setBigInt64(8, -1n, true);
  body.set(opts, 16);
  return block(BLOCK.SHB, body);
}

/** IDB with if_tsresol = 10^-tsresol s (6: microseconds). snaplen 0: no limit. */
export function interfaceDescriptionBlock(linkType: number, tsresol = 6, snaplen = 0): Uint8Array {
  const opts = options([[IF_TSRESOL, Uint8Array.of(tsresol)]]);
  const body = new Uint8Array(8 + opts.length);
  const dv = new DataView(body.buffer);
  dv.setUint16(0, linkType, true);
  dv.setUint32(4, snaplen, true);
  body.set(opts, 8);
  return block(BLOCK.IDB, body);
}

/** EPB on interface `interfaceId`; `timestamp` in the interface's if_tsresol units. */
export function enhancedPacketBlock(interfaceId: number, timestamp: bigint, packet: Uint8Array, originalLength = packet.length): Uint8Array {
  const body = new Uint8Array(20 + pad4(packet.length));
  const dv = new DataView(body.buffer);
  dv.setUint32(0, interfaceId, true);
  dv.setUint32(4, Number(timestamp >> 32n), true);
  dv.setUint32(8, Number(timestamp & 0xffffffffn), true);
  dv.setUint32(12, packet.length, true);
  dv.setUint32(16, originalLength, true);
  body.set(packet, 20);
  return block(BLOCK.EPB, body);
}

export interface CapturedPacket {
  linkType: number;
  /** Microseconds since the epoch. */
  timestampUs: bigint;
  data: Uint8Array;
  /** The byte order of the section (or pcap file) the packet came from. */
  littleEndian: boolean;
}

/** Reads a pcapng or classic pcap file into its packets. Throws CaptureFormatError. */
export function readCapture(bytes: Uint8Array): CapturedPacket[] {
  if (bytes.length < 24) throw new CaptureFormatError(`a capture of ${bytes.length} bytes is too short for pcap or pcapng`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) === BLOCK.SHB) return readPcapng(bytes, dv);
  return readPcap(bytes, dv);
}

function readPcap(bytes: Uint8Array, dv: DataView): CapturedPacket[] {
  const magicLe = dv.getUint32(0, true);
  const variants: Record<number, { le: boolean; nano: boolean }> = {
    0xa1b2c3d4: { le: true, nano: false },
    0xa1b23c4d: { le: true, nano: true },
  };
  const magicBe = dv.getUint32(0, false);
  const fmt = variants[magicLe] ?? (variants[magicBe] ? { ...variants[magicBe]!, le: false } : undefined);
  if (!fmt) throw new CaptureFormatError(`not a pcap or pcapng file (magic 0x${magicLe.toString(16)})`);
  const le = fmt.le;
  const linkType = dv.getUint32(20, le) & 0xffff;
  const out: CapturedPacket[] = [];
  let at = 24;
  while (at < bytes.length) {
    if (at + 16 > bytes.length) throw new CaptureFormatError(`pcap record header at byte ${at} is cut short`);
    const sec = BigInt(dv.getUint32(at, le));
    const frac = BigInt(dv.getUint32(at + 4, le));
    const incl = dv.getUint32(at + 8, le);
    if (at + 16 + incl > bytes.length) throw new CaptureFormatError(`pcap record at byte ${at} is cut short`);
    out.push({ linkType, timestampUs: sec * 1_000_000n + (fmt.nano ? frac / 1000n : frac), data: bytes.slice(at + 16, at + 16 + incl), littleEndian: le });
    at += 16 + incl;
  }
  return out;
}

interface Iface {
  linkType: number;
  /** Ticks per second. */
  ticks: bigint;
}

function readPcapng(bytes: Uint8Array, dv: DataView): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  let le = true;
  let ifaces: Iface[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw new CaptureFormatError(`pcapng block at byte ${at} is cut short`);
    let type = dv.getUint32(at, le);
    if (dv.getUint32(at, true) === BLOCK.SHB) {
      type = BLOCK.SHB;
      const magic = dv.getUint32(at + 8, true);
      if (magic === BYTE_ORDER_MAGIC) le = true;
      else if (magic === 0x4d3c2b1a) le = false;
      else throw new CaptureFormatError(`pcapng section at byte ${at} has no byte-order magic`);
      ifaces = [];
    }
    const total = dv.getUint32(at + 4, le);
    if (total < 12 || total % 4 !== 0 || at + total > bytes.length) throw new CaptureFormatError(`pcapng block at byte ${at} has a bad length ${total}`);
    if (dv.getUint32(at + total - 4, le) !== total) throw new CaptureFormatError(`pcapng block at byte ${at}: trailing length differs from ${total}`);
    const body = at + 8;
    if (type === BLOCK.IDB) {
      ifaces.push({ linkType: dv.getUint16(body, le), ticks: tsresolTicks(bytes, dv, body + 8, at + total - 4, le) });
    } else if (type === BLOCK.EPB) {
      const iface = ifaces[dv.getUint32(body, le)];
      if (!iface) throw new CaptureFormatError(`pcapng packet at byte ${at} names an interface not described`);
      const ts = (BigInt(dv.getUint32(body + 4, le)) << 32n) | BigInt(dv.getUint32(body + 8, le));
      const caplen = dv.getUint32(body + 12, le);
      if (body + 20 + caplen > at + total - 4) throw new CaptureFormatError(`pcapng packet at byte ${at} is longer than its block`);
      out.push({ linkType: iface.linkType, timestampUs: (ts * 1_000_000n) / iface.ticks, data: bytes.slice(body + 20, body + 20 + caplen), littleEndian: le });
    } else if (type === BLOCK.SPB) {
      const iface = ifaces[0];
      if (!iface) throw new CaptureFormatError(`pcapng simple packet at byte ${at} before any interface`);
      const len = Math.min(dv.getUint32(body, le), total - 16);
      out.push({ linkType: iface.linkType, timestampUs: 0n, data: bytes.slice(body + 4, body + 4 + len), littleEndian: le });
    }
    at += total;
  }
  return out;
}

/** if_tsresol: bit 7 clear = 10^-n, set = 2^-n seconds; default 10^-6. */
function tsresolTicks(bytes: Uint8Array, dv: DataView, from: number, end: number, le: boolean): bigint {
  let at = from;
  while (at + 4 <= end) {
    const code = dv.getUint16(at, le);
    const len = dv.getUint16(at + 2, le);
    if (code === OPT_ENDOFOPT) break;
    if (code === IF_TSRESOL && len >= 1) {
      const r = bytes[at + 4]!;
      return r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
    }
    at += 4 + pad4(len);
  }
  return 1_000_000n;
}
