// Helpers for the captures of real kernels (test/fixtures/captures, hardware-tests/vm/capture):
// cutting a capture down to one device, and a replay diff told in FTDI's request names.
import { readCapture, sectionHeaderBlock, interfaceDescriptionBlock, enhancedPacketBlock } from '../../src/capture/index.ts';
import type { ReplayDiff } from '../../mocks/replay/diff.ts';

/**
 * The packets of one device (bus:device) of a usbmon capture, the kernel's bytes untouched, in a
 * pcapng of the same link type (the device byte is at offset 11, the bus at 12, in both usbmon
 * headers).
 */
export function trimToDevice(bytes: Uint8Array, bus: number, device: number): Uint8Array {
  const packets = readCapture(bytes).filter((p) => p.data[11] === device && new DataView(p.data.buffer, p.data.byteOffset).getUint16(12, p.littleEndian) === bus);
  if (!packets.length) throw new Error(`no packets of device ${bus}:${device}`);
  const blocks = [sectionHeaderBlock('usb-serial-harness (trimmed usbmon capture)'), interfaceDescriptionBlock(packets[0]!.linkType, 6)];
  for (const p of packets) blocks.push(enhancedPacketBlock(0, p.timestampUs, p.data));
  return Buffer.concat(blocks);
}

// ftdi_sio.h's request numbers.
const FTDI: Record<number, string> = {
  0: 'RESET',
  1: 'SET_MODEM_CTRL',
  2: 'SET_FLOW_CTRL',
  3: 'SET_BAUD_RATE',
  4: 'SET_DATA',
  5: 'GET_MODEM_STATUS',
  9: 'SET_LATENCY_TIMER',
  10: 'GET_LATENCY_TIMER',
};

const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/** The diff's operations by mark: `SET_BAUD_RATE 0x001a`, `GET_MODEM_STATUS`, `bulk OUT hello`. */
export function ftdiDiff(diff: ReplayDiff): { same: string[]; kernelOnly: string[]; oursOnly: string[] } {
  const name = (e: ReplayDiff['entries'][number]): string => {
    const op = e.op;
    if (op.kind !== 'control') return `${op.kind} OUT ${new TextDecoder().decode(op.data)}`;
    const n = FTDI[op.bRequest] ?? `request ${op.bRequest}`;
    if (op.bmRequestType & 0x80) return n;
    return `${n} ${hex4(op.wValue)}${op.wIndex ? `/${hex4(op.wIndex)}` : ''}`;
  };
  return {
    same: diff.entries.filter((e) => e.mark === '=').map(name),
    kernelOnly: diff.entries.filter((e) => e.mark === '-').map(name),
    oursOnly: diff.entries.filter((e) => e.mark === '+').map(name),
  };
}

/**
 * The kernel's ftdi_sio against ours on QEMU's FT232BM, the session of
 * hardware-tests/vm/jobs/capture.ts (probe; stty to 115200 8N1 raw; printf of 5 bytes), and why
 * each difference is there.
 */
export const KERNEL_VS_OURS = {
  // Our open (115200 8N1, no flow control) is the kernel's second open request for request:
  // reset, SET_DATA 8N1, 115200 (divisor 26), no flow control, DTR/RTS up; the bytes; at close
  // flow control off and DTR/RTS down (ftdi_dtr_rts, HUPCL).
  same: [
    'GET_LATENCY_TIMER',
    'RESET 0x0000',
    'SET_DATA 0x0008',
    'SET_BAUD_RATE 0x001a',
    'SET_FLOW_CTRL 0x0000',
    'SET_MODEM_CTRL 0x0303',
    'bulk OUT hello',
    'SET_FLOW_CTRL 0x0000',
    'SET_MODEM_CTRL 0x0300',
  ],
  kernelOnly: [
    // ftdi_port_probe writes back the latency QEMU reported (0); ours writes 16 when it reads 0.
    'SET_LATENCY_TIMER 0x0000',
    // stty's own open, at the tty's default termios (9600, IXON: XON/XOFF flow with DC3/DC1),
    // then stty's tcsetattr to 115200 raw; ftdi_tiocmget and ftdi_tx_empty read the modem status.
    'RESET 0x0000',
    'SET_DATA 0x0008',
    'SET_BAUD_RATE 0x4138',
    'SET_FLOW_CTRL 0x1311/0x0400',
    'SET_MODEM_CTRL 0x0303',
    'GET_MODEM_STATUS',
    'SET_BAUD_RATE 0x001a',
    'SET_FLOW_CTRL 0x0000',
    'GET_MODEM_STATUS',
    'SET_FLOW_CTRL 0x0000',
    'SET_MODEM_CTRL 0x0300',
    // at the second close: tty_wait_until_sent asks ftdi_tx_empty, which reads the line status
    // (TEMT) from GET_MODEM_STATUS; ours has no such wait.
    'GET_MODEM_STATUS',
  ],
  oursOnly: ['SET_LATENCY_TIMER 0x0010'],
};
