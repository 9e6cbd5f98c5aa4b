// usbmon's text 'u' format (Linux Documentation/usb/usbmon.rst, "Data Format"), as
// /sys/kernel/debug/usb/usbmon/<bus>u prints it, one event a line:
//   URB-tag timestamp(µs) S|C|E  Ci:1:001:0  status-or-setup  length  data-tag [data words]
// e.g. `d5ea89a0 3575914555 S Ci:1:001:0 s a3 00 0000 0003 0004 4 <`. The address word is
// transfer type (C control, Z isochronous, I interrupt, B bulk) and direction (i/o), bus, device,
// endpoint. Interrupt and isochronous status words carry `:interval` (and more for ISO). Data
// words are the byte stream in hex, split into groups of up to four bytes.
import { UsbmonFormatError, type UsbmonEvent, type UsbmonTransferType } from './usbmon.ts';

const TEXT_TYPES: Record<string, UsbmonTransferType> = { C: 'control', Z: 'isochronous', I: 'interrupt', B: 'bulk' };

function hex(word: string | undefined, what: string, line: number): number {
  if (word === undefined || !/^[0-9a-fA-F]+$/.test(word)) throw new UsbmonFormatError(`line ${line}: ${what} '${word ?? ''}' is not hex`);
  return parseInt(word, 16);
}

function int(word: string | undefined, what: string, line: number): number {
  if (word === undefined || !/^-?\d+$/.test(word)) throw new UsbmonFormatError(`line ${line}: ${what} '${word ?? ''}' is not a number`);
  return Number(word);
}

/** Parses the text format; blank lines are skipped, anything malformed throws UsbmonFormatError naming the line. */
export function parseUsbmonText(text: string): UsbmonEvent[] {
  const events: UsbmonEvent[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const w = raw.trim().split(/\s+/);
    if (w.length === 1 && w[0] === '') return;
    if (w.length < 5) throw new UsbmonFormatError(`line ${line}: too few fields for a usbmon event`);
    const id = BigInt(`0x${hex(w[0], 'URB tag', line).toString(16)}`);
    const ts = int(w[1], 'timestamp', line);
    const type = w[2];
    if (type !== 'S' && type !== 'C' && type !== 'E') throw new UsbmonFormatError(`line ${line}: event type '${type}' is not S, C or E`);
    const addr = /^([CZIB])([io]):(\d+):(\d+):(\d+)$/.exec(w[3]!);
    if (!addr) throw new UsbmonFormatError(`line ${line}: address '${w[3]}' is not like Ci:1:001:0`);
    const transfer = TEXT_TYPES[addr[1]!]!;
    const dirIn = addr[2] === 'i';
    let at = 4;
    let setup: UsbmonEvent['setup'];
    let status = 0;
    let interval = 0;
    let startFrame = 0;
    if (w[at] === 's') {
      setup = {
        bmRequestType: hex(w[at + 1], 'bmRequestType', line),
        bRequest: hex(w[at + 2], 'bRequest', line),
        wValue: hex(w[at + 3], 'wValue', line),
        wIndex: hex(w[at + 4], 'wIndex', line),
        wLength: hex(w[at + 5], 'wLength', line),
      };
      status = -115;
      at += 6;
    } else {
      const parts = (w[at] ?? '').split(':');
      status = int(parts[0], 'status', line);
      if (parts[1] !== undefined) interval = int(parts[1], 'interval', line);
      if (parts[2] !== undefined) startFrame = int(parts[2], 'start frame', line);
      at += 1;
      // ISO: an error count and descriptor count, then the descriptors; the data length follows them.
      if (transfer === 'isochronous' && parts.length >= 4) {
        const ndesc = int(w[at], 'descriptor count', line);
        at += 1 + ndesc;
      }
    }
    const length = int(w[at], 'data length', line);
    const tag = w[at + 1];
    const e: UsbmonEvent = {
      id,
      type,
      transfer,
      endpoint: (dirIn ? 0x80 : 0) | int(addr[5], 'endpoint', line),
      device: int(addr[4], 'device', line),
      bus: int(addr[3], 'bus', line),
      ...(setup ? { setup } : {}),
      tsSec: Math.floor(ts / 1e6),
      tsUsec: ts % 1e6,
      status,
      length,
      interval,
      startFrame,
      xferFlags: dirIn ? 0x200 : 0,
    };
    if (tag === '=') {
      const bytes: number[] = [];
      for (const word of w.slice(at + 2)) {
        if (word.length % 2 !== 0) throw new UsbmonFormatError(`line ${line}: data word '${word}' has an odd number of digits`);
        for (let k = 0; k < word.length; k += 2) bytes.push(hex(word.slice(k, k + 2), 'data byte', line));
      }
      e.data = Uint8Array.from(bytes);
    } else if (tag !== undefined) {
      e.dataFlag = tag;
    }
    events.push(e);
  });
  return events;
}

function h(n: number, digits: number): string {
  return n.toString(16).padStart(digits, '0');
}

/** One event in the text format (the inverse of parseUsbmonText, data words of four bytes). */
export function formatUsbmonText(e: UsbmonEvent): string {
  const letter = { control: 'C', isochronous: 'Z', interrupt: 'I', bulk: 'B' }[e.transfer];
  const addr = `${letter}${e.endpoint & 0x80 ? 'i' : 'o'}:${e.bus}:${String(e.device).padStart(3, '0')}:${e.endpoint & 0x0f}`;
  const ts = e.tsSec * 1e6 + e.tsUsec;
  const s = e.setup;
  const statusWord = s
    ? `s ${h(s.bmRequestType, 2)} ${h(s.bRequest, 2)} ${h(s.wValue, 4)} ${h(s.wIndex, 4)} ${h(s.wLength, 4)}`
    : e.transfer === 'interrupt'
      ? `${e.status}:${e.interval}`
      : `${e.status}`;
  let data = e.dataFlag ?? '>';
  if (e.data) {
    const words: string[] = [];
    for (let i = 0; i < e.data.length; i += 4) words.push([...e.data.subarray(i, i + 4)].map((b) => h(b, 2)).join(''));
    data = ['=', ...words].join(' ');
  }
  return `${h(Number(e.id & 0xffffffffn), 8)} ${ts} ${e.type} ${addr} ${statusWord} ${e.length} ${data}`;
}
