// Where recorded events go: straight into a pcapng file (one EPB per event, written as it
// happens, so a crashed run still leaves a readable file), or into memory for a report to write
// out later (the stress harness attaches the devices a failure involved).
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import type { HostBackend, HostDevice } from '../usb/host.ts';
import { enhancedPacketBlock, interfaceDescriptionBlock, sectionHeaderBlock } from './pcapng.ts';
import { UsbRecorder, type RecorderOptions } from './recorder.ts';
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

/** Records every transfer on `backend`'s devices to a pcapng file at `path` (created or truncated). */
export function captureBackend(backend: HostBackend, path: string, options: RecorderOptions = {}): CaptureHandle {
  const fd = openSync(path, 'w');
  let open = true;
  let events = 0;
  writeSync(fd, pcapngHeader());
  const recorder = new UsbRecorder((e) => {
    if (!open) return;
    writeSync(fd, eventBlock(e));
    events++;
  }, options);
  return {
    backend: recorder.wrapBackend(backend),
    recorder,
    get events() {
      return events;
    },
    async close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

interface Sequenced {
  seq: number;
  event: UsbmonEvent;
}

export interface MemoryCaptureOptions extends RecorderOptions {
  /** Events kept per device (the oldest go first; the enumeration exchange is always kept). Default 100000. */
  limitPerDevice?: number;
}

/**
 * Keeps every device's events in memory. `pcapng(keys)` is the capture of some devices (by
 * HostDevice.key), `writeFile` the same to disk: what a failing run attaches to its report.
 */
export class MemoryCapture {
  readonly recorder: UsbRecorder;
  private readonly perDevice = new Map<string, { head: Sequenced[]; tail: Sequenced[]; dropped: number }>();
  private seq = 0;
  private readonly limit: number;

  constructor(options: MemoryCaptureOptions = {}) {
    this.limit = options.limitPerDevice ?? 100_000;
    this.recorder = new UsbRecorder((event, key) => this.add(event, key), options);
  }

  wrapBackend(backend: HostBackend): HostBackend {
    return this.recorder.wrapBackend(backend);
  }

  wrapDevice(device: HostDevice): HostDevice {
    return this.recorder.wrapDevice(device);
  }

  /** Device keys seen so far. */
  devices(): string[] {
    return [...this.perDevice.keys()];
  }

  /** Events dropped for a device because of the limit. */
  dropped(key: string): number {
    return this.perDevice.get(key)?.dropped ?? 0;
  }

  /** The events of the given devices (default all), in time order. */
  events(keys?: readonly string[]): UsbmonEvent[] {
    const want = keys ? new Set(keys) : undefined;
    const kept: Sequenced[] = [];
    for (const [key, d] of this.perDevice) if (!want || want.has(key)) kept.push(...d.head, ...d.tail);
    return kept.sort((a, b) => a.seq - b.seq).map((s) => s.event);
  }

  pcapng(keys?: readonly string[]): Uint8Array {
    return toPcapng(this.events(keys));
  }

  writeFile(path: string, keys?: readonly string[]): void {
    writeFileSync(path, this.pcapng(keys));
  }

  private add(event: UsbmonEvent, key: string): void {
    let d = this.perDevice.get(key);
    if (!d) this.perDevice.set(key, (d = { head: [], tail: [], dropped: 0 }));
    const s = { seq: this.seq++, event };
    // The first four events are the synthesised GET_DESCRIPTOR exchanges dissectors need.
    const enumerating = d.head.length < 4 && d.tail.length === 0;
    if (enumerating && event.setup?.bRequest === 6 && event.setup.bmRequestType === 0x80) d.head.push(s);
    else if (enumerating && event.type === 'C' && d.head.some((h) => h.event.id === event.id)) d.head.push(s);
    else d.tail.push(s);
    if (d.tail.length > this.limit) {
      d.tail.shift();
      d.dropped++;
    }
  }
}
