// One usbmon event and its binary form (Linux Documentation/usb/usbmon.rst, "Raw binary format
// and API"; libpcap pcap/usb.h pcap_usb_header_mmapped). The 64-byte header is what pcap's
// LINKTYPE_USB_LINUX_MMAPPED (220) carries per packet; LINKTYPE_USB_LINUX (189) carries its
// first 48 bytes. Fields are in the byte order of the file's writer: this module writes and
// reads little-endian (the section's byte order is checked by the pcap/pcapng reader).

/** usbmon's transfer types (the xfer_type byte; note: not the endpoint descriptor's bit order). */
export const XFER = { isochronous: 0, interrupt: 1, control: 2, bulk: 3 } as const;
export type UsbmonTransferType = keyof typeof XFER;

export const LINKTYPE_USB_LINUX = 189;
export const LINKTYPE_USB_LINUX_MMAPPED = 220;
export const USBMON_HEADER_MMAPPED = 64;
export const USBMON_HEADER = 48;

/** URB status values usbmon shows (negative errno, include/uapi/asm-generic/errno*.h). */
export const URB_STATUS = {
  ok: 0,
  /** -ENOENT: the URB was killed (usb_kill_urb: a timeout in usb_start_wait_urb, usbfs discarding it). */
  killed: -2,
  /** -EPIPE: the endpoint stalled. */
  stall: -32,
  /** -EPROTO: a transfer error the host controller could not name better. */
  protocol: -71,
  /** -EOVERFLOW: babble. */
  babble: -75,
  /** -ESHUTDOWN: the device is gone (the HCD flushes its endpoints on disconnect). */
  shutdown: -108,
  /** -EINPROGRESS: what every 'S' event carries. */
  submitted: -115,
} as const;

/** URB_DIR_IN in urb->transfer_flags (include/linux/usb.h), which usbmon copies to xfer_flags. */
export const URB_DIR_IN = 0x0200;

export interface UsbSetupPacket {
  bmRequestType: number;
  bRequest: number;
  wValue: number;
  wIndex: number;
  wLength: number;
}

export interface UsbmonEvent {
  /** The URB's id: the same for its 'S' and its 'C' event. */
  id: bigint;
  /** 'S' submit, 'C' complete (callback), 'E' submission error. */
  type: 'S' | 'C' | 'E';
  transfer: UsbmonTransferType;
  /** Endpoint number with the transfer's direction in bit 7 (also for control: 0x80 = a control IN). */
  endpoint: number;
  device: number;
  bus: number;
  /** The setup packet ('S' of a control transfer), else undefined (flag_setup '-'). */
  setup?: UsbSetupPacket;
  /** Seconds and microseconds since the epoch. */
  tsSec: number;
  tsUsec: number;
  status: number;
  /** The URB's length: what was asked ('S') or what was transferred ('C'). */
  length: number;
  /** The captured data, or undefined with its flag: '<' (an IN submit) or '>' (an OUT completion). */
  data?: Uint8Array;
  dataFlag?: string;
  interval: number;
  startFrame: number;
  xferFlags: number;
}

export function isIn(e: Pick<UsbmonEvent, 'endpoint'>): boolean {
  return (e.endpoint & 0x80) !== 0;
}

export class UsbmonFormatError extends Error {
  override readonly name = 'UsbmonFormatError';
}

/** The 64-byte mmapped header followed by the data, as one LINKTYPE 220 packet. */
export function encodeUsbmonEvent(e: UsbmonEvent): Uint8Array {
  const data = e.data ?? new Uint8Array(0);
  const out = new Uint8Array(USBMON_HEADER_MMAPPED + data.length);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, e.id, true);
  out[8] = e.type.charCodeAt(0);
  out[9] = XFER[e.transfer];
  out[10] = e.endpoint & 0xff;
  out[11] = e.device & 0xff;
  v.setUint16(12, e.bus, true);
  out[14] = e.setup ? 0 : '-'.charCodeAt(0);
  out[15] = e.data ? 0 : (e.dataFlag ?? '>').charCodeAt(0);
  v.setBigInt64(16, BigInt(e.tsSec), true);
  v.setInt32(24, e.tsUsec, true);
  v.setInt32(28, e.status, true);
  v.setUint32(32, e.length, true);
  v.setUint32(36, data.length, true);
  if (e.setup) {
    out[40] = e.setup.bmRequestType;
    out[41] = e.setup.bRequest;
    v.setUint16(42, e.setup.wValue, true);
    v.setUint16(44, e.setup.wIndex, true);
    v.setUint16(46, e.setup.wLength, true);
  }
  v.setInt32(48, e.interval, true);
  v.setInt32(52, e.startFrame, true);
  v.setUint32(56, e.xferFlags, true);
  v.setUint32(60, 0, true); // ndesc: no isochronous descriptors
  out.set(data, USBMON_HEADER_MMAPPED);
  return out;
}

const TYPES = new Map<number, UsbmonTransferType>(Object.entries(XFER).map(([k, n]) => [n, k as UsbmonTransferType]));

/**
 * Decodes one packet of link type 189 (48-byte header) or 220 (64-byte header). ISO descriptors
 * (220 with ndesc > 0) are skipped. `littleEndian` is the writer's byte order.
 */
export function decodeUsbmonEvent(packet: Uint8Array, linkType: number, littleEndian = true): UsbmonEvent {
  const header = linkType === LINKTYPE_USB_LINUX_MMAPPED ? USBMON_HEADER_MMAPPED : linkType === LINKTYPE_USB_LINUX ? USBMON_HEADER : 0;
  if (!header) throw new UsbmonFormatError(`link type ${linkType} is not usbmon (189 or 220)`);
  if (packet.length < header) throw new UsbmonFormatError(`usbmon packet of ${packet.length} bytes is shorter than its ${header}-byte header`);
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const le = littleEndian;
  const type = String.fromCharCode(packet[8]!);
  if (type !== 'S' && type !== 'C' && type !== 'E') throw new UsbmonFormatError(`usbmon event type '${type}' is not S, C or E`);
  const transfer = TYPES.get(packet[9]!);
  if (!transfer) throw new UsbmonFormatError(`usbmon transfer type ${packet[9]} is unknown`);
  const lenCap = v.getUint32(36, le);
  const ndesc = header === USBMON_HEADER_MMAPPED ? v.getUint32(60, le) : 0;
  const dataAt = header + (transfer === 'isochronous' ? 16 * ndesc : 0);
  // QEMU's hw/usb/pcap.c counts the header in len_cap; usbmon counts the data only: take what is there.
  const available = Math.max(0, packet.length - dataAt);
  const take = Math.min(available, lenCap);
  const e: UsbmonEvent = {
    id: v.getBigUint64(0, le),
    type,
    transfer,
    endpoint: packet[10]!,
    device: packet[11]!,
    bus: v.getUint16(12, le),
    tsSec: Number(v.getBigInt64(16, le)),
    tsUsec: v.getInt32(24, le),
    status: v.getInt32(28, le),
    length: v.getUint32(32, le),
    interval: header === USBMON_HEADER_MMAPPED ? v.getInt32(48, le) : 0,
    startFrame: header === USBMON_HEADER_MMAPPED ? v.getInt32(52, le) : 0,
    xferFlags: header === USBMON_HEADER_MMAPPED ? v.getUint32(56, le) : 0,
  };
  if (packet[14] === 0 && transfer === 'control') {
    e.setup = {
      bmRequestType: packet[40]!,
      bRequest: packet[41]!,
      wValue: v.getUint16(42, true),
      wIndex: v.getUint16(44, true),
      wLength: v.getUint16(46, true),
    };
  }
  if (packet[15] === 0) e.data = packet.slice(dataAt, dataAt + take);
  else e.dataFlag = String.fromCharCode(packet[15]!);
  return e;
}
