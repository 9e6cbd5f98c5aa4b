// Plug-to-open latency: from connecting a dongle (cable in, or its hub port powered again) to its
// usb-serial port open, through whatever the backend and the kernel do in between. The scaling
// benchmark measures the mock lab with it and the VM tier a real kernel behind QEMU's hub, so
// the two figures come from the same code.
import { usbSerialBusOf, type UsbSerialPort } from '../serial/index.ts';
import type { HostDevice } from '../usb/host.ts';
import type { UsbSubsystem } from '../usb/index.ts';

export interface PlugToOpenOptions {
  usb: UsbSubsystem;
  /** The dongles to cycle, in turn. */
  dongles: readonly string[];
  samples: number;
  /** Connects (true) or disconnects (false) a dongle: a mock lab's plug, or hub port power. */
  connect(dongle: string, on: boolean): Promise<unknown>;
  dongleOf(host: HostDevice): string | undefined;
  baudRate?: number;
  /** How long one step (going, coming back) may take (ms, default 20,000). */
  timeoutMs?: number;
}

export interface PlugToOpenResult {
  /** Every sample, ms, sorted. */
  samples: number[];
  byDongle: Record<string, number[]>;
  p50: number;
  p99: number;
  max: number;
}

export class PlugToOpenError extends Error {
  override readonly name = 'PlugToOpenError';
}

/** The p-th percentile of sorted samples (nearest rank below). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function measurePlugToOpen(o: PlugToOpenOptions): Promise<PlugToOpenResult> {
  if (o.dongles.length === 0) throw new PlugToOpenError('no dongles to measure');
  if (!Number.isInteger(o.samples) || o.samples < 1) throw new PlugToOpenError(`samples must be a positive whole number, got ${o.samples}`);
  const serialBus = usbSerialBusOf(o.usb.bus);
  const limit = o.timeoutMs ?? 20_000;
  const portOf = (d: string): UsbSerialPort | undefined =>
    serialBus.listDevices().find((p) => p.state === 'live' && !p.gone && o.dongleOf(p.serial.usbDevice.host) === d);

  /** Resolves once `cond` holds: checked at every uevent (the fast path) and every 25 ms. */
  const until = (cond: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (cond()) return resolve();
      const done = (err?: Error) => {
        sub.unsubscribe();
        clearInterval(tick);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const check = () => cond() && done();
      const sub = o.usb.model.uevents.subscribe(check);
      const tick = setInterval(check, 25);
      const timer = setTimeout(() => done(new PlugToOpenError(`${what} did not happen within ${limit} ms`)), limit);
    });

  const byDongle: Record<string, number[]> = {};
  for (let i = 0; i < o.samples; i++) {
    const d = o.dongles[i % o.dongles.length]!;
    await o.connect(d, false);
    await until(() => !portOf(d), `${d}'s port going away`);
    await o.usb.settled();
    const t0 = performance.now();
    await o.connect(d, true);
    await until(() => Boolean(portOf(d)), `${d}'s port coming back`);
    const port = portOf(d)!;
    await port.open({ baudRate: o.baudRate ?? 115200 });
    (byDongle[d] ??= []).push(performance.now() - t0);
    await port.close();
  }
  const samples = Object.values(byDongle).flat().sort((a, b) => a - b);
  for (const list of Object.values(byDongle)) list.sort((a, b) => a - b);
  return { samples, byDongle, p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1]! };
}
