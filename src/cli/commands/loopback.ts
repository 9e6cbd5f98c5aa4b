// `usb-harness loopback PORT [PORT2]`: sends a known byte stream out of PORT and checks that it
// comes back byte for byte, on PORT itself (a loopback plug) or on PORT2 (a cross-wired cable).
import { SingleBar, Presets } from 'cli-progress';
import type { SerialSettings, UsbSerialPort } from '../../index.ts';
import type { CliContext } from '../context.ts';
import { formatBaud, formatRate, type Output } from '../output.ts';

export interface LoopbackOptions {
  bytes: number;
  settings: Partial<SerialSettings>;
  /** Give up when nothing arrives for this long (ms). */
  idleTimeout: number;
  progress: boolean;
  /** Whether the wire runs at the baud rate (real hardware, or a mock lab with --paced); default true. */
  paced?: boolean;
}

export interface LoopbackResult {
  port: string;
  peer: string;
  bytes: number;
  received: number;
  mismatches: number;
  firstMismatchAt: number | null;
  lineErrors: number;
  seconds: number;
  bytesPerSecond: number;
  /** The rate asked for, and the one the chip runs at. */
  requestedBaudRate: number;
  actualBaudRate: number;
  /** What the line carries at most at these settings (start + data + parity + stop bits per byte). */
  lineBytesPerSecond: number;
  /** False on an emulated wire that is not held to the baud rate: throughput then says nothing of the line. */
  paced: boolean;
  ok: boolean;
}

/** Bytes per second a UART line carries at most: one start bit, the data bits, parity, stop bits per byte. */
export function lineBytesPerSecond(s: Pick<SerialSettings, 'baudRate' | 'dataBits' | 'parity' | 'stopBits'>): number {
  const bits = 1 + s.dataBits + (s.parity === 'none' ? 0 : 1) + s.stopBits;
  return s.baudRate / bits;
}

/** The byte at position i of the test stream: a cheap, non-repeating-looking pattern. */
export const patternByte = (i: number): number => (i * 131 + (i >>> 8) * 7 + (i >>> 16)) & 0xff;

export async function runLoopback(tx: UsbSerialPort, rx: UsbSerialPort, o: LoopbackOptions): Promise<LoopbackResult> {
  const applied = await tx.open(o.settings);
  if (rx !== tx) await rx.open(o.settings);
  let received = 0;
  let mismatches = 0;
  let firstMismatchAt: number | null = null;
  let lineErrors = 0;
  // Activity is data arriving or a write completing; none for idleTimeout ms ends the test.
  let lastActivity = performance.now();
  let gone = false;
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const bar = o.progress ? new SingleBar({ format: ' {bar} {percentage}% | {value}/{total} bytes | {speed} kB/s', stream: process.stderr }, Presets.shades_classic) : null;
  bar?.start(o.bytes, 0, { speed: 0 });
  const t0 = performance.now();
  const sub = rx.events.subscribe((e) => {
    if (e.type === 'data') {
      lastActivity = performance.now();
      for (let k = 0; k < e.data.length; k++) {
        if (e.data[k] !== patternByte(received + k)) {
          mismatches++;
          firstMismatchAt ??= received + k;
        }
      }
      received += e.data.length;
      lineErrors += e.errors.length;
      bar?.update(Math.min(received, o.bytes), { speed: Math.round(received / 1.024 / (performance.now() - t0)) });
      if (received >= o.bytes) finished();
    } else if (e.type === 'disconnect') {
      gone = true;
      finished();
    }
  });
  const idle = setInterval(() => {
    if (performance.now() - lastActivity > o.idleTimeout) finished();
  }, Math.min(250, o.idleTimeout));
  try {
    const CHUNK = 4096;
    // A window: never more than WINDOW bytes sent and not yet back. Without flow control an
    // unpaced sender outruns any UART; this keeps the test about integrity, not overrun.
    const WINDOW = 16384;
    const writing = (async () => {
      for (let at = 0; at < o.bytes; at += CHUNK) {
        while (at - received > WINDOW && !gone) await new Promise((r) => setTimeout(r, 1));
        if (gone) break;
        const n = Math.min(CHUNK, o.bytes - at);
        const buf = new Uint8Array(n);
        for (let k = 0; k < n; k++) buf[k] = patternByte(at + k);
        await tx.write(buf);
        lastActivity = performance.now();
      }
    })();
    await Promise.race([writing.then(() => done), done]);
    await done;
    await writing.catch(() => undefined);
  } finally {
    clearInterval(idle);
    sub.unsubscribe();
    bar?.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  await tx.close().catch(() => undefined);
  if (rx !== tx) await rx.close().catch(() => undefined);
  return {
    port: tx.name,
    peer: rx.name,
    bytes: o.bytes,
    received,
    mismatches,
    firstMismatchAt,
    lineErrors,
    seconds: Number(seconds.toFixed(3)),
    bytesPerSecond: Math.round(received / seconds),
    requestedBaudRate: applied.baudRate,
    actualBaudRate: applied.actualBaudRate,
    lineBytesPerSecond: Math.round(lineBytesPerSecond({ ...applied, baudRate: applied.actualBaudRate })),
    paced: o.paced ?? true,
    ok: received === o.bytes && mismatches === 0 && lineErrors === 0,
  };
}

/** The summary line: '<port> -> <peer>: <received>/<bytes> bytes in <s> s (<rate>) at <baud>'. */
export function describeLoopback(r: LoopbackResult): string {
  return `${r.port} -> ${r.peer}: ${r.received}/${r.bytes} bytes in ${r.seconds} s (${formatRate(r.bytesPerSecond)}) at ${formatBaud(r.actualBaudRate, r.requestedBaudRate)}`;
}

export async function loopbackCommand(ctx: CliContext, out: Output, port: string, peer: string | undefined, o: LoopbackOptions): Promise<boolean> {
  const tx = ctx.findPort(port);
  const rx = peer ? ctx.findPort(peer) : tx;
  const r = await runLoopback(tx, rx, o);
  if (out.json) out.data(r);
  else {
    out.line(describeLoopback(r));
    if (!r.paced) {
      out.line(`note: the mock lab's wire is not paced at the baud rate (a real line carries at most ${formatRate(r.lineBytesPerSecond)} here); --paced runs it at the baud rate`);
    }
    out.line(`mismatches ${r.mismatches}${r.firstMismatchAt !== null ? ` (first at byte ${r.firstMismatchAt})` : ''}, line errors ${r.lineErrors}, lost ${r.bytes - r.received}: ${r.ok ? 'PASS' : 'FAIL'}`);
  }
  return r.ok;
}
