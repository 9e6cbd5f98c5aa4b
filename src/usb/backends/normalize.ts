// Pieces every backend shares to present host.ts's semantics: named errors, transfer results,
// descriptor/claim bookkeeping, tracking of in-flight transfers so release/close can abort them,
// and the listener fan-out behind `watch`. Browser-safe: no Node imports here.
import { transferError, type HostEvent, type TransferErrorKind } from '../host.ts';
import type { Logger } from '../../log.ts';

/** DOMException-style names this layer rejects with (beyond host.ts's three transfer kinds). */
export type UsbErrorName =
  | 'NotFoundError'
  | 'TimeoutError'
  | 'AbortError'
  | 'InvalidStateError'
  | 'NetworkError'
  | 'NotSupportedError';

const KIND_BY_NAME: Partial<Record<UsbErrorName, Exclude<TransferErrorKind, 'other'>>> = {
  NotFoundError: 'disconnected',
  TimeoutError: 'timeout',
  AbortError: 'aborted',
};

/** An Error carrying a WebUSB-style name; the transfer kinds go through host.ts's transferError. */
export function usbError(name: UsbErrorName, message: string, cause?: unknown): Error {
  const kind = KIND_BY_NAME[name];
  const e = kind ? transferError(kind, message) : new Error(message);
  e.name = name;
  if (cause !== undefined) (e as Error & { cause?: unknown }).cause = cause;
  return e;
}

/** A backend failed outside a transfer (enumeration, starting the hotplug watcher, loading). */
export class HostBackendError extends Error {
  override readonly name = 'HostBackendError';
  constructor(
    readonly backend: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${backend}: ${message}`, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Transfer results

/** A successful IN result over exactly `bytes` (respecting its offset: never `bytes.buffer` whole). */
export function inOk(bytes: Uint8Array): USBInTransferResult {
  return { status: 'ok', data: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

export function inStatus(status: 'stall' | 'babble'): USBInTransferResult {
  return { status, data: new DataView(new ArrayBuffer(0)) };
}

export function outResult(status: USBTransferStatus, bytesWritten: number): USBOutTransferResult {
  return { status, bytesWritten };
}

/** Any BufferSource as a Uint8Array view (no copy). */
export function toBytes(data: BufferSource | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

export function describeSetup(setup: USBControlTransferParameters): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return (
    `${setup.requestType}/${setup.recipient} request 0x${hex(setup.request, 2)} ` +
    `value 0x${hex(setup.value, 4)} index 0x${hex(setup.index, 4)}`
  );
}

// ---------------------------------------------------------------------------------------------
// Descriptors, configuration and claim state

/**
 * Holds a device's descriptors (as plain WebUSB-shaped objects) plus what changes while it is
 * open: the active configuration, claimed interfaces, selected alternates. The views it hands
 * out stay the same objects until that state changes, as in browsers.
 */
export class ConfigurationTracker {
  private active: number | null;
  private readonly claimed = new Set<number>();
  private readonly alternates = new Map<number, number>();
  private view: { configuration: USBConfiguration | null; configurations: USBConfiguration[] } | null =
    null;

  constructor(
    private readonly descriptors: readonly USBConfiguration[],
    activeConfigurationValue: number | null,
  ) {
    this.active = activeConfigurationValue;
  }

  get activeValue(): number | null {
    return this.active;
  }

  get configuration(): USBConfiguration | null {
    return this.build().configuration;
  }

  get configurations(): USBConfiguration[] {
    return this.build().configurations;
  }

  hasConfiguration(value: number): boolean {
    return this.descriptors.some((c) => c.configurationValue === value);
  }

  /** The active configuration's interface descriptor, or undefined. */
  interfaceDescriptor(interfaceNumber: number): USBInterface | undefined {
    const cfg = this.descriptors.find((c) => c.configurationValue === this.active);
    return cfg?.interfaces.find((i) => i.interfaceNumber === interfaceNumber);
  }

  selectConfiguration(value: number): void {
    if (this.active === value) return;
    this.active = value;
    this.claimed.clear();
    this.alternates.clear();
    this.view = null;
  }

  claim(interfaceNumber: number): void {
    this.claimed.add(interfaceNumber);
    this.view = null;
  }

  release(interfaceNumber: number): void {
    this.claimed.delete(interfaceNumber);
    this.alternates.delete(interfaceNumber);
    this.view = null;
  }

  /** Forgets claims and alternates (device closed). */
  reset(): void {
    this.claimed.clear();
    this.alternates.clear();
    this.view = null;
  }

  isClaimed(interfaceNumber: number): boolean {
    return this.claimed.has(interfaceNumber);
  }

  claimedInterfaces(): number[] {
    return [...this.claimed];
  }

  selectAlternate(interfaceNumber: number, alternateSetting: number): void {
    this.alternates.set(interfaceNumber, alternateSetting);
    this.view = null;
  }

  /** The endpoint with this number and direction in a claimed interface's selected alternate. */
  findEndpoint(
    direction: USBDirection,
    endpointNumber: number,
  ): { interfaceNumber: number; endpoint: USBEndpoint } | undefined {
    const cfg = this.configuration;
    if (!cfg) return undefined;
    for (const iface of cfg.interfaces) {
      if (!iface.claimed) continue;
      const endpoint = iface.alternate.endpoints.find(
        (e) => e.endpointNumber === endpointNumber && e.direction === direction,
      );
      if (endpoint) return { interfaceNumber: iface.interfaceNumber, endpoint };
    }
    return undefined;
  }

  private build(): { configuration: USBConfiguration | null; configurations: USBConfiguration[] } {
    if (this.view) return this.view;
    const configurations = this.descriptors.map((cfg) => {
      if (cfg.configurationValue !== this.active) return cfg;
      const interfaces = cfg.interfaces.map((iface) => {
        const altSetting = this.alternates.get(iface.interfaceNumber);
        const alternate =
          (altSetting !== undefined &&
            iface.alternates.find((a) => a.alternateSetting === altSetting)) ||
          iface.alternate;
        const claimed = this.claimed.has(iface.interfaceNumber);
        if (!claimed && alternate === iface.alternate) return iface;
        return { ...iface, alternate, claimed };
      });
      return { ...cfg, interfaces };
    });
    const configuration = configurations.find((c) => c.configurationValue === this.active) ?? null;
    this.view = { configuration, configurations };
    return this.view;
  }
}

// ---------------------------------------------------------------------------------------------
// In-flight transfers

interface PendingEntry {
  readonly interfaceNumber: number | undefined;
  /** Asks the transfer to end; it must then settle (the backend decides how). */
  abort(reason: Error): void;
  readonly settled: Promise<void>;
}

/**
 * Tracks transfers in flight on one device so releaseInterface/close can end them with
 * AbortError and wait until the native side has let go of them.
 */
export class PendingTransfers {
  private readonly entries = new Set<PendingEntry>();

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `start`, which gets an `onAbort` registration; the returned promise is tracked until it
   * settles. If the backend registers no abort hook, an abort rejects the caller at once and the
   * native result, when it comes, is dropped.
   */
  track<T>(
    interfaceNumber: number | undefined,
    start: (onAbort: (hook: (reason: Error) => void) => void) => Promise<T>,
  ): Promise<T> {
    let hook: ((reason: Error) => void) | undefined;
    let rejectEarly!: (reason: Error) => void;
    const early = new Promise<never>((_, reject) => {
      rejectEarly = reject;
    });
    let result: Promise<T>;
    try {
      result = start((h) => {
        hook = h;
      });
    } catch (err) {
      result = Promise.reject(err);
    }
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    const entry: PendingEntry = {
      interfaceNumber,
      abort: (reason) => {
        if (hook) hook(reason);
        else rejectEarly(reason);
      },
      settled,
    };
    this.entries.add(entry);
    void settled.then(() => this.entries.delete(entry));
    // Whichever comes first: the transfer's own outcome or an early abort.
    const raced = Promise.race([result, early]);
    early.catch(() => undefined);
    return raced;
  }

  /** Aborts transfers of one interface (or all when undefined); resolves when they settled. */
  async abort(interfaceNumber: number | undefined, reason: () => Error, waitMs = 2000): Promise<boolean> {
    const hit = [...this.entries].filter(
      (e) => interfaceNumber === undefined || e.interfaceNumber === interfaceNumber,
    );
    for (const e of hit) e.abort(reason());
    if (hit.length === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    });
    const all = Promise.all(hit.map((e) => e.settled)).then(() => true as const);
    const ok = await Promise.race([all, timedOut]);
    clearTimeout(timer);
    return ok;
  }
}

/** Runs async jobs one at a time per key (nusb allows one transfer per endpoint). */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(job, job);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

// ---------------------------------------------------------------------------------------------
// The devices a native backend has handed out, one HostDevice per attachment

/** What the registry needs of a backend's HostDevice. */
interface TrackedDevice {
  readonly usb: { markGone(): void; close(): Promise<void> };
}

/**
 * One HostDevice per attachment, keyed by what the native side names an attachment with (libusb:
 * its device object; nusb: its handle), so getDevices and hotplug events hand out the same one.
 */
export class DeviceRegistry<K, D extends TrackedDevice> {
  private readonly known = new Map<K, D>();

  /** The attachment's HostDevice, made by `make` on first sight. */
  get(key: K, make: () => D): D {
    let hd = this.known.get(key);
    if (!hd) {
      hd = make();
      this.known.set(key, hd);
    }
    return hd;
  }

  /** The attachment left: its HostDevice fails what is pending (NotFoundError); undefined if never handed out. */
  remove(key: K): D | undefined {
    const hd = this.known.get(key);
    if (!hd) return undefined;
    this.known.delete(key);
    hd.usb.markGone();
    return hd;
  }

  /** Not watching, a listing is the only news of departures: every attachment not in it left. */
  keepOnly(present: ReadonlySet<K>): void {
    for (const key of [...this.known.keys()]) if (!present.has(key)) this.remove(key);
  }

  /** Closes every device (an open native handle keeps the process alive) and forgets them. */
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.known.values()].map((d) => d.usb.close()));
    this.known.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// watch(): listener fan-out over one native watcher

type Listener = (event: HostEvent) => void;

/**
 * One native watcher shared by every `watch` caller: started by the first, stopped after the
 * last leaves. Events are delivered in order through a queue, so an async step (wrapping a new
 * device) never lets a later disconnect overtake its connect.
 */
export class WatchHub {
  private readonly listeners = new Set<Listener>();
  private running: Promise<void> | null = null;
  private stopping: Promise<void> = Promise.resolve();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly startNative: () => Promise<void>,
    private readonly stopNative: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  get active(): boolean {
    return this.listeners.size > 0;
  }

  async add(listener: Listener): Promise<() => void> {
    await this.stopping;
    if (!this.running) {
      const starting = this.startNative();
      this.running = starting;
      try {
        await starting;
      } catch (err) {
        this.running = null;
        throw err;
      }
    } else {
      await this.running;
    }
    const entry: Listener = (e) => listener(e);
    this.listeners.add(entry);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.listeners.delete(entry);
      if (this.listeners.size === 0) this.stopNow();
    };
  }

  /** Queues work that produces events (e.g. wrapping a new device); keeps native order. */
  enqueue(job: () => Promise<HostEvent | undefined> | HostEvent | undefined): void {
    this.queue = this.queue.then(async () => {
      try {
        const event = await job();
        if (event) this.emit(event);
      } catch (err) {
        this.log.warn({ err }, 'hotplug event handling failed');
      }
    });
  }

  /** Waits for queued events to be delivered (tests, close). */
  drain(): Promise<void> {
    return this.queue;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.stopNow();
    await this.stopping;
    await this.queue;
  }

  private emit(event: HostEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.log.error({ err, event: event.type, key: event.device.key }, 'hotplug listener threw');
      }
    }
  }

  private stopNow(): void {
    if (!this.running) return;
    const wasRunning = this.running;
    this.running = null;
    this.stopping = wasRunning
      .catch(() => undefined)
      .then(() => this.stopNative())
      .catch((err: unknown) => {
        this.log.warn({ err }, 'stopping the hotplug watcher failed');
      });
  }
}
