// Where recorded events go: straight into a pcapng file (one EPB per event, written as it
// happens, so a crashed run still leaves a readable file), or into memory for a report to write
// out later (the stress harness attaches the devices a failure involved).
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import type { HostBackend, HostDevice } from '../usb/host.ts';
import { enhancedPacketBlock, interfaceDescriptionBlock, sectionHeaderBlock } from './pcapng.ts';
import { UsbRecorder, type CaptureSink, type RecorderOptions } from './recorder.ts';
import { encodeUsbmonEvent, LINKTYPE_USB_LINUX_MMAPPED, type UsbmonEvent } from './usbmon.ts';

const APPLICATION = 'usb-serial-harness';

/** The SHB and IDB every capture starts with (link type 220, microsecond timestamps). */
export function pcapngHeader(): Uint8Array {
  const shb = sectionHeaderBlock(APPLICATION);
  const idb = interfaceDescriptionBlock(LINKTYPE_USB_LINUX_MMAPPED, 6);
  const out = new Uint8Array(shb.length + idb.length);
  out.set(shb);
  out.set(idb, shb.length);
  return out;
}

/** One event as an EPB on interface 0, timestamped in microseconds. */
export function eventBlock(e: UsbmonEvent): Uint8Array {
  return enhancedPacketBlock(0, BigInt(e.tsSec) * 1_000_000n + BigInt(e.tsUsec), encodeUsbmonEvent(e));
}

/** A whole capture of these events. */
export function toPcapng(events: Iterable<UsbmonEvent>): Uint8Array {
  const parts = [pcapngHeader()];
  for (const e of events) parts.push(eventBlock(e));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface CaptureHandle {
  /** The backend to use instead of the one given: its devices record. */
  readonly backend: HostBackend;
  readonly recorder: UsbRecorder;
  /** Events written so far. */
  readonly events: number;
  /** Stops writing and closes the file (the backend itself is closed by whoever owns it). */
  close(): Promise<void>;
}

/** A sink writing each event to a pcapng file at `path` (created or truncated) as it comes. */
export function pcapngFileSink(path: string): { readonly sink: CaptureSink; readonly events: number; close(): void } {
  const fd = openSync(path, 'w');
  let open = true;
  let events = 0;
  try {
    writeSync(fd, pcapngHeader());
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return {
    sink: (e) => {
      if (!open) return;
      writeSync(fd, eventBlock(e));
      events++;
    },
    get events() {
      return events;
    },
    close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

/** Records every transfer on `backend`'s devices to a pcapng file at `path` (created or truncated). */
export function captureBackend(backend: HostBackend, path: string, options: RecorderOptions = {}): CaptureHandle {
  const file = pcapngFileSink(path);
  const recorder = new UsbRecorder(file.sink, options);
  return {
    backend: recorder.wrapBackend(backend),
    recorder,
    get events() {
      return file.events;
    },
    async close() {
      file.close();
    },
  };
}

interface Sequenced {
  seq: number;
  key: string;
  event: UsbmonEvent;
}

export interface MemoryCaptureOptions extends RecorderOptions {
  /** Events kept per ring, the oldest going first (enumeration exchanges are kept apart). Default 100000. */
  limitPerDevice?: number;
  /** Bytes of transfer data kept per ring, the oldest going first. Default 64 MiB. */
  bytesPerDevice?: number;
  /**
   * Which ring a device's events go to (default: one per device key). The stress harness keeps
   * one per dongle, so that every attachment of a dongle shares its bound.
   */
  groupOf?: (deviceKey: string) => string;
  /** Also hands every event to this sink (e.g. pcapngFileSink: the whole run on disk as it happens). */
  tee?: CaptureSink;
}

/** One device attachment: its enumeration exchange and how many of its events the ring holds. */
interface KeyState {
  group: string;
  head: Sequenced[];
  inRing: number;
  dropped: number;
}

/** A bounded FIFO of events (by count and by data bytes), dropping from the front. */
class Ring {
  private items: Sequenced[] = [];
  private start = 0;
  private bytes = 0;

  constructor(
    private readonly limit: number,
    private readonly byteLimit: number,
  ) {}

  /** Adds one event; returns the ones that fell out. */
  push(s: Sequenced): Sequenced[] {
    this.items.push(s);
    this.bytes += s.event.data?.length ?? 0;
    const out: Sequenced[] = [];
    while (this.items.length - this.start > this.limit || (this.bytes > this.byteLimit && this.items.length - this.start > 1)) {
      const old = this.items[this.start++]!;
      this.bytes -= old.event.data?.length ?? 0;
      out.push(old);
    }
    // Compact now and then, so dropping stays O(1) amortised.
    if (this.start > 1024 && this.start * 2 > this.items.length) {
      this.items = this.items.slice(this.start);
      this.start = 0;
    }
    return out;
  }

  values(): Sequenced[] {
    return this.items.slice(this.start);
  }
}

/**
 * Keeps devices' events in memory, in bounded rings. `pcapng(keys)` is the capture of some
 * devices (by HostDevice.key), `writeFile` the same to disk: what a failing run attaches to its
 * report. A device's enumeration exchange is kept apart from the ring while any of its events
 * are still in it, so that Wireshark can dissect what is left; once all of them fell out of the
 * ring it goes too.
 */
export class MemoryCapture {
  readonly recorder: UsbRecorder;
  private readonly keys = new Map<string, KeyState>();
  private readonly rings = new Map<string, Ring>();
  private seq = 0;
  private readonly limit: number;
  private readonly byteLimit: number;
  private readonly groupOf: (deviceKey: string) => string;

  constructor(options: MemoryCaptureOptions = {}) {
    this.limit = options.limitPerDevice ?? 100_000;
    this.byteLimit = options.bytesPerDevice ?? 64 << 20;
    if (!(this.limit >= 1) || !(this.byteLimit >= 1)) throw new RangeError(`MemoryCapture limits must be >= 1 (events ${this.limit}, bytes ${this.byteLimit})`);
    this.groupOf = options.groupOf ?? ((key) => key);
    const tee = options.tee;
    this.recorder = new UsbRecorder((event, key, enumeration) => {
      this.add(event, key, enumeration);
      tee?.(event, key, enumeration);
    }, options);
  }

  wrapBackend(backend: HostBackend): HostBackend {
    return this.recorder.wrapBackend(backend);
  }

  wrapDevice(device: HostDevice): HostDevice {
    return this.recorder.wrapDevice(device);
  }

  /** Device keys with events kept. */
  devices(): string[] {
    return [...this.keys.keys()];
  }

  /** Device keys with events kept in one ring (see `groupOf`). */
  devicesOf(group: string): string[] {
    return [...this.keys].filter(([, k]) => k.group === group).map(([key]) => key);
  }

  /** Events dropped for a device because of the limits. */
  dropped(key: string): number {
    return this.keys.get(key)?.dropped ?? 0;
  }

  /** The events of the given devices (default all), in time order. */
  events(keys?: readonly string[]): UsbmonEvent[] {
    const want = keys ? new Set(keys) : undefined;
    const kept: Sequenced[] = [];
    for (const [key, k] of this.keys) if (!want || want.has(key)) kept.push(...k.head);
    const groups = new Set([...this.keys].filter(([key]) => !want || want.has(key)).map(([, k]) => k.group));
    for (const g of groups) for (const s of this.rings.get(g)?.values() ?? []) if (!want || want.has(s.key)) kept.push(s);
    return kept.sort((a, b) => a.seq - b.seq).map((s) => s.event);
  }

  pcapng(keys?: readonly string[]): Uint8Array {
    return toPcapng(this.events(keys));
  }

  writeFile(path: string, keys?: readonly string[]): void {
    writeFileSync(path, this.pcapng(keys));
  }

  private add(event: UsbmonEvent, key: string, enumeration: boolean): void {
    let k = this.keys.get(key);
    if (!k) this.keys.set(key, (k = { group: this.groupOf(key), head: [], inRing: 0, dropped: 0 }));
    const s = { seq: this.seq++, key, event };
    if (enumeration) {
      k.head.push(s);
      return;
    }
    let ring = this.rings.get(k.group);
    if (!ring) this.rings.set(k.group, (ring = new Ring(this.limit, this.byteLimit)));
    k.inRing++;
    for (const old of ring.push(s)) {
      const o = this.keys.get(old.key)!;
      o.inRing--;
      o.dropped++;
      if (o.inRing === 0 && old.key !== key) this.keys.delete(old.key);
    }
  }
}
