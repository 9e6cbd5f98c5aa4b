// A capture file of any supported form into usbmon events: pcapng or classic pcap with link type
// 189 or 220, or usbmon's text format.
import { readCapture } from './pcapng.ts';
import { decodeUsbmonEvent, LINKTYPE_USB_LINUX, LINKTYPE_USB_LINUX_MMAPPED, UsbmonFormatError, type UsbmonEvent } from './usbmon.ts';
import { parseUsbmonText } from './usbmon-text.ts';

function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, Math.min(bytes.length, 256));
  return head.length > 0 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
}

/** Decodes a capture's bytes; throws CaptureFormatError / UsbmonFormatError naming what is wrong. */
export function readUsbmonEvents(bytes: Uint8Array): UsbmonEvent[] {
  if (looksLikeText(bytes)) return parseUsbmonText(new TextDecoder().decode(bytes));
  const packets = readCapture(bytes);
  return packets.map((p, i) => {
    if (p.linkType !== LINKTYPE_USB_LINUX && p.linkType !== LINKTYPE_USB_LINUX_MMAPPED) {
      throw new UsbmonFormatError(`packet ${i + 1} has link type ${p.linkType}, not usbmon (189 or 220)`);
    }
    return decodeUsbmonEvent(p.data, p.linkType, p.littleEndian);
  });
}
