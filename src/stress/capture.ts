// What a stress run keeps of its USB traffic: every transfer of every dongle, recorded at the
// host backend (src/capture), in a bounded ring per dongle (all attachments of a dongle share
// it). A failing run's report gets the capture of the dongles its violations involve; with
// `--capture FILE` the whole run also goes to that file as it happens.
import { MemoryCapture, pcapngFileSink, toPcapng, type UsbRecorder } from '../capture/index.ts';
import type { HostBackend, HostDevice } from '../usb/host.ts';
import type { VirtualClock } from './clock.ts';
import type { Violation } from './monitor.ts';
import { StressOptionError, type Topology } from './schedule.ts';
import type { Target } from './target.ts';
import { realNow } from './time.ts';

export interface StressCaptureOptions {
  /** Also write every transfer of the run to this pcapng file as it happens (the CLI's --capture). */
  file?: string;
  /** Events kept in memory per dongle (default 20000). */
  eventsPerDongle?: number;
  /** Bytes of transfer data kept in memory per dongle (default 4 MiB). */
  bytesPerDongle?: number;
}

/** What a stress result carries of the run's traffic, for its report. */
export interface StressCapture {
  /** Dongles (by topology name) with events kept; devices that are no dongle go under `device <key>`. */
  dongles(): string[];
  /** The capture of one dongle's attachments, as a pcapng file's bytes. */
  pcapng(dongle: string): Uint8Array;
  /** Events kept and dropped (over the bound) for one dongle. */
  stats(dongle: string): { events: number; dropped: number };
  /** The file the whole run went to (--capture), if any. */
  readonly file?: string;
  /** The report's JSON shows what was kept, not the bytes. */
  toJSON(): unknown;
}

export class RunCapture implements StressCapture {
  private readonly memory: MemoryCapture;
  private readonly recorder: UsbRecorder;
  private readonly dongleOfKey = new Map<string, string>();
  private readonly out: ReturnType<typeof pcapngFileSink> | undefined;
  readonly file?: string;

  constructor(o: StressCaptureOptions, clock: VirtualClock | null) {
    // Timestamps: the wall clock at the start plus the run's own time (logical on the mock lab).
    const base = BigInt(Date.now()) * 1000n;
    const start = realNow();
    const micros = () => BigInt(Math.max(0, Math.round((clock ? clock.elapsed : realNow() - start) * 1000)));
    if (o.file !== undefined) {
      try {
        this.out = pcapngFileSink(o.file);
      } catch (err) {
        throw new StressOptionError(`cannot write capture '${o.file}': ${err instanceof Error ? err.message : String(err)}`);
      }
      this.file = o.file;
    }
    this.memory = new MemoryCapture({
      clock: () => base + micros(),
      limitPerDevice: o.eventsPerDongle ?? 20_000,
      bytesPerDevice: o.bytesPerDongle ?? 4 << 20,
      groupOf: (key) => this.dongleOfKey.get(key) ?? `device ${key}`,
      ...(this.out ? { tee: this.out.sink } : {}),
    });
    this.recorder = this.memory.recorder;
  }

  /**
   * The target with a recording backend. Its devices are the recorder's wrappers, so the
   * target's questions about a device (which dongle, whether gone) get the backend's own.
   */
  wrap(target: Target): Target {
    const inner = target.backend;
    const wrapDevice = (d: HostDevice): HostDevice => {
      if (!this.dongleOfKey.has(d.key)) this.dongleOfKey.set(d.key, target.dongleOf(d) ?? `device ${d.key}`);
      return this.recorder.wrapDevice(d);
    };
    const backend: HostBackend = {
      name: inner.name,
      getDevices: async () => (await inner.getDevices()).map(wrapDevice),
      watch: (listener) => inner.watch((e) => listener({ type: e.type, device: wrapDevice(e.device) })),
      close: () => inner.close(),
    };
    const original = (h: HostDevice) => this.recorder.original(h);
    const overrides: Partial<Record<keyof Target, unknown>> = {
      backend,
      dongleOf: (h: HostDevice) => target.dongleOf(original(h)),
      hostGone: (h: HostDevice) => target.hostGone(original(h)),
    };
    return new Proxy(target, {
      get(t, prop) {
        if (typeof prop === 'string' && prop in overrides) return overrides[prop as keyof Target];
        const v: unknown = Reflect.get(t, prop, t);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  }

  dongles(): string[] {
    return [...new Set(this.memory.devices().map((k) => this.dongleOfKey.get(k) ?? `device ${k}`))];
  }

  private keysOf(dongle: string): string[] {
    return this.memory.devicesOf(dongle);
  }

  pcapng(dongle: string): Uint8Array {
    return toPcapng(this.memory.events(this.keysOf(dongle)));
  }

  stats(dongle: string): { events: number; dropped: number } {
    const keys = this.keysOf(dongle);
    return { events: this.memory.events(keys).length, dropped: keys.reduce((n, k) => n + this.memory.dropped(k), 0) };
  }

  /** Stops writing the --capture file (the memory stays for the report). */
  close(): void {
    this.out?.close();
  }

  toJSON(): unknown {
    return { ...(this.file ? { file: this.file } : {}), dongles: Object.fromEntries(this.dongles().map((d) => [d, this.stats(d)])) };
  }
}

/**
 * The dongles a violation involves: those its message or details name (by dongle or port slot);
 * else those bound by a driver set it names; else every dongle of the lab (a violation about the
 * core as a whole).
 */
export function involvedDongles(v: Violation, topology: Topology): string[] {
  const text = `${v.message} ${v.details ? JSON.stringify(v.details) : ''}`;
  const names = (s: string) => new RegExp(`(^|[^\\w-])${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w-])`).test(text);
  const named = topology.dongles.filter((d) => names(d.name) || d.ports.some((p) => names(p.slot)));
  if (named.length) return named.map((d) => d.name);
  const sets = topology.driverSets.filter((s) => names(s.name) || s.serialDrivers.some(names)).map((s) => s.name);
  const bySet = topology.dongles.filter((d) => d.driverSet !== undefined && sets.includes(d.driverSet));
  if (bySet.length) return bySet.map((d) => d.name);
  return topology.dongles.map((d) => d.name);
}
