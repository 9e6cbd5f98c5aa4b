// The mock USB host: a HostBackend (src/usb/host.ts) and, as `host.webusb`, a WebUSB `USB`
// (navigator.usb's shape). Tests plug and unplug MockUsbDevices into port paths; connect and
// disconnect events go out asynchronously, in order, the way a real hub's do.
import {
  formatPortPath,
  transferError,
  type HostBackend,
  type HostDevice,
  type HostEvent,
  type KernelDriverControl,
  type RawDeviceDescriptor,
  toRawDeviceDescriptor,
  type UsbLocation,
} from '../src/usb/host.ts';
import { childLog } from '../src/log.ts';
import type { MockUsbDevice } from './device.ts';
import { AlreadyPluggedError, KernelDriverError, MockLabError, NotPluggedError, PortPathError, webUsbError } from './errors.ts';
import { nextMacrotask, runSoon } from './macrotask.ts';

export interface MockKernelDriverOptions {
  /** Interfaces a kernel driver is bound to at plug: 'all' (default), 'none', or a list. */
  bound?: 'all' | 'none' | number[];
  /** Its name, for messages (default 'usb_mock', e.g. 'ftdi_sio'). */
  name?: string;
  /** claimInterface on a bound interface fails (NetworkError), as with libusb (default true). */
  blocksClaim?: boolean;
}

export interface MockUsbHostOptions {
  /** HostDevice.maxTransfersInFlight for plugged devices: 4 (libusb-like, the default), 1 (nusb-like: enforced). */
  maxTransfersInFlight?: number;
  kernelDriver?: MockKernelDriverOptions;
  /** Select the first configuration at plug, as Linux's usb core does (default true). */
  configureAtPlug?: boolean;
  /** HostDevice key prefix (default 'mock': keys are mock:1, mock:2, ...). */
  keyPrefix?: string;
}

export interface PlugOptions {
  maxTransfersInFlight?: number;
  kernelDriver?: MockKernelDriverOptions;
  configureAtPlug?: boolean;
}

export interface KernelDriverRecord {
  readonly op: 'detach' | 'attach';
  readonly interfaceNumber: number;
  /** performance.now() */
  readonly at: number;
}

/**
 * The "kernel driver" of one attachment: which interfaces it is bound to, and a record of every
 * detach/attach. Like libusb, the calls need the device open, detach needs a bound driver, and
 * attach refuses an interface that is claimed or already bound.
 */
export class MockKernelDriver implements KernelDriverControl {
  private readonly bound: Set<number>;
  private readonly records: KernelDriverRecord[] = [];

  constructor(
    private readonly attachment: { readonly usb: MockUsbDevice; readonly attached: boolean },
    bound: Iterable<number>,
    readonly name: string,
    readonly blocksClaim: boolean,
  ) {
    this.bound = new Set(bound);
  }

  /** Bound right now (synchronous, no open needed: for tests). */
  isBound(interfaceNumber: number): boolean {
    return this.bound.has(interfaceNumber);
  }

  get boundInterfaces(): number[] {
    return [...this.bound].sort((a, b) => a - b);
  }

  /** Every detach and attach, oldest first. */
  get history(): readonly KernelDriverRecord[] {
    return [...this.records];
  }

  async isActive(interfaceNumber: number): Promise<boolean> {
    this.check(interfaceNumber);
    return this.bound.has(interfaceNumber);
  }

  async detach(interfaceNumber: number): Promise<void> {
    this.check(interfaceNumber);
    if (!this.bound.has(interfaceNumber)) {
      throw new KernelDriverError('NOT_FOUND', `no kernel driver is bound to interface ${interfaceNumber}`);
    }
    this.bound.delete(interfaceNumber);
    this.records.push({ op: 'detach', interfaceNumber, at: performance.now() });
  }

  async attach(interfaceNumber: number): Promise<void> {
    this.check(interfaceNumber);
    if (this.bound.has(interfaceNumber)) {
      throw new KernelDriverError('BUSY', `kernel driver '${this.name}' is already bound to interface ${interfaceNumber}`);
    }
    if (this.attachment.usb.claimedInterfaces.includes(interfaceNumber)) {
      throw new KernelDriverError('BUSY', `interface ${interfaceNumber} is claimed: release it before attaching the kernel driver`);
    }
    this.bound.add(interfaceNumber);
    this.records.push({ op: 'attach', interfaceNumber, at: performance.now() });
  }

  private check(interfaceNumber: number): void {
    if (!this.attachment.attached) throw transferError('disconnected', 'The device was disconnected.');
    const usb = this.attachment.usb;
    if (!usb.opened) throw new KernelDriverError('NOT_OPEN', 'the device must be opened first');
    if (!usb.configuration?.interfaces.some((i) => i.interfaceNumber === interfaceNumber)) {
      throw new KernelDriverError('NOT_FOUND', `interface ${interfaceNumber} is not in the current configuration`);
    }
  }
}

/** One attachment of a mock device: the HostDevice a backend hands out. */
export interface MockHostDevice extends HostDevice {
  readonly usb: MockUsbDevice;
  readonly location: UsbLocation;
  readonly kernelDriver: MockKernelDriver;
  /** '1-2.3' */
  readonly portPath: string;
  /** False once unplugged (a new plug is a new attachment). */
  readonly attached: boolean;
}

class Attachment implements MockHostDevice {
  attached = true;
  readonly kernelDriver: MockKernelDriver;
  constructor(
    readonly key: string,
    readonly usb: MockUsbDevice,
    readonly location: UsbLocation,
    readonly maxTransfersInFlight: number,
    kd: MockKernelDriverOptions,
    boundAll: number[],
  ) {
    const bound = kd.bound === 'none' ? [] : kd.bound === undefined || kd.bound === 'all' ? boundAll : kd.bound;
    this.kernelDriver = new MockKernelDriver(this, bound, kd.name ?? 'usb_mock', kd.blocksClaim ?? true);
  }
  get portPath(): string {
    return formatPortPath(this.location);
  }
  /** The raw descriptor, as libusb hands it out without opening the device. */
  get deviceDescriptor(): RawDeviceDescriptor {
    return toRawDeviceDescriptor(this.usb.descriptor, this.usb.descriptor.configurations.length);
  }
}

/** Parses a Linux port path: '1-2.3' -> bus 1, ports [2, 3]. Throws PortPathError. */
export function parsePortPath(path: string): { busNumber: number; portNumbers: number[] } {
  const m = /^(\d{1,3})-(\d{1,3}(?:\.\d{1,3}){0,6})$/.exec(path);
  if (!m) throw new PortPathError(`port path ${JSON.stringify(path)} is not like 1-2 or 1-2.3`);
  const busNumber = Number(m[1]);
  const portNumbers = m[2].split('.').map(Number);
  if (busNumber < 1 || busNumber > 255 || portNumbers.some((p) => p < 1 || p > 255)) {
    throw new PortPathError(`port path ${JSON.stringify(path)}: bus and port numbers run from 1 to 255`);
  }
  return { busNumber, portNumbers };
}

interface Watcher {
  listener: (event: HostEvent) => void;
  since: number;
}

/** A WebUSB connect/disconnect event (USBConnectionEvent has no constructor outside browsers). */
export class MockUsbConnectionEvent extends Event {
  readonly device: USBDevice;
  constructor(type: 'connect' | 'disconnect', init: { device: USBDevice }) {
    super(type);
    this.device = init.device;
  }
}

type ConnectionHandler<T> = ((this: T, ev: USBConnectionEvent) => unknown) | null;

/** navigator.usb's shape over a MockUsbHost. */
export class MockWebUsb extends EventTarget implements USB {
  private handlers: Record<'connect' | 'disconnect', ConnectionHandler<MockWebUsb>> = { connect: null, disconnect: null };
  private installed = new Set<string>();

  constructor(private readonly host: MockUsbHost) {
    super();
  }

  get onconnect(): ConnectionHandler<this> {
    return this.handlers.connect as ConnectionHandler<this>;
  }
  set onconnect(h: ConnectionHandler<this>) {
    this.setHandler('connect', h);
  }
  get ondisconnect(): ConnectionHandler<this> {
    return this.handlers.disconnect as ConnectionHandler<this>;
  }
  set ondisconnect(h: ConnectionHandler<this>) {
    this.setHandler('disconnect', h);
  }

  override addEventListener(
    type: 'connect' | 'disconnect',
    listener: (this: this, ev: USBConnectionEvent) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: unknown, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  override removeEventListener(
    type: 'connect' | 'disconnect',
    callback: (this: this, ev: USBConnectionEvent) => unknown,
    options?: EventListenerOptions | boolean,
  ): void;
  override removeEventListener(type: string, callback: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void;
  override removeEventListener(type: string, callback: unknown, options?: EventListenerOptions | boolean): void {
    super.removeEventListener(type, callback as EventListenerOrEventListenerObject | null, options);
  }

  /** Plugged devices this origin may see (not forgotten). */
  async getDevices(): Promise<USBDevice[]> {
    return this.host.devices.filter((d) => !d.usb._forgotten).map((d) => d.usb);
  }

  /** Picks the first plugged device the filters match (no chooser); NotFoundError if none. */
  async requestDevice(options?: USBDeviceRequestOptions): Promise<USBDevice> {
    if (!options || !Array.isArray(options.filters)) throw new TypeError("requestDevice needs { filters: [...] }");
    for (const f of options.filters) checkFilter(f);
    if (options.exclusionFilters !== undefined) {
      if (options.exclusionFilters.length === 0) throw new TypeError('exclusionFilters must not be empty when present');
      for (const f of options.exclusionFilters) checkFilter(f);
    }
    const hit = this.host.devices.find(
      (d) =>
        (options.filters.length === 0 || options.filters.some((f) => filterMatches(f, d.usb))) &&
        !(options.exclusionFilters ?? []).some((f) => filterMatches(f, d.usb)),
    );
    if (!hit) throw webUsbError('NotFoundError', 'No device selected.');
    hit.usb._unforget();
    return hit.usb;
  }

  /** @internal */
  _dispatch(type: 'connect' | 'disconnect', device: USBDevice): void {
    this.dispatchEvent(new MockUsbConnectionEvent(type, { device }));
  }

  private setHandler(type: 'connect' | 'disconnect', h: ConnectionHandler<this>): void {
    this.handlers[type] = h as ConnectionHandler<MockWebUsb>;
    // An event handler attribute is one listener, registered where it was first set.
    if (!this.installed.has(type)) {
      this.installed.add(type);
      super.addEventListener(type, (ev) => {
        this.handlers[type]?.call(this, ev as USBConnectionEvent);
      });
    }
  }
}

function checkFilter(f: USBDeviceFilter): void {
  if (f.productId !== undefined && f.vendorId === undefined) throw new TypeError('a filter with productId needs vendorId');
  if (f.subclassCode !== undefined && f.classCode === undefined) throw new TypeError('a filter with subclassCode needs classCode');
  if (f.protocolCode !== undefined && f.subclassCode === undefined) throw new TypeError('a filter with protocolCode needs subclassCode');
}

/** WebUSB's filter match: class codes match the device or any interface alternate of any configuration. */
export function filterMatches(f: USBDeviceFilter, d: USBDevice): boolean {
  if (f.vendorId !== undefined && f.vendorId !== d.vendorId) return false;
  if (f.productId !== undefined && f.productId !== d.productId) return false;
  if (f.serialNumber !== undefined && f.serialNumber !== d.serialNumber) return false;
  if (f.classCode === undefined) return true;
  const codes = (c: number, s: number, p: number) =>
    c === f.classCode && (f.subclassCode === undefined || s === f.subclassCode) && (f.protocolCode === undefined || p === f.protocolCode);
  if (codes(d.deviceClass, d.deviceSubclass, d.deviceProtocol)) return true;
  return d.configurations.some((c) =>
    c.interfaces.some((i) => i.alternates.some((a) => codes(a.interfaceClass, a.interfaceSubclass, a.interfaceProtocol))),
  );
}

export class MockUsbHost implements HostBackend {
  readonly name = 'mock';
  /** navigator.usb's shape over this host. */
  readonly webusb: MockWebUsb;
  private readonly options: MockUsbHostOptions;
  private readonly attachments = new Map<MockUsbDevice, Attachment>();
  private readonly addresses = new Map<number, number>();
  private nextKey = 1;
  private watchers = new Set<Watcher>();
  private queue: { seq: number; event: HostEvent }[] = [];
  private seq = 0;
  private draining = false;
  private flushWaiters: (() => void)[] = [];
  private closed = false;
  private readonly log = childLog('mocks.host');

  constructor(options: MockUsbHostOptions = {}) {
    this.options = options;
    this.webusb = new MockWebUsb(this);
  }

  /** Attachments now, in plug order. */
  get devices(): MockHostDevice[] {
    return [...this.attachments.values()];
  }

  /** The current attachment of a device, if plugged here. */
  attachmentOf(device: MockUsbDevice): MockHostDevice | undefined {
    return this.attachments.get(device);
  }

  /**
   * Plugs a device into a port (default: the first free root port of bus 1). Each plug is a new
   * attachment with a new key; the device is usable at once, the connect event follows
   * asynchronously. Throws AlreadyPluggedError, PortPathError.
   */
  plug(device: MockUsbDevice, portPath?: string, options: PlugOptions = {}): MockHostDevice {
    if (device.plugged) throw new AlreadyPluggedError(`device ${describe(device)} is already plugged`);
    const { busNumber, portNumbers } = portPath === undefined ? this.freeRootPort() : parsePortPath(portPath);
    const path = formatPortPath({ busNumber, portNumbers });
    for (const a of this.attachments.values()) {
      const other = a.portPath;
      if (other === path || other.startsWith(`${path}.`) || path.startsWith(`${other}.`)) {
        throw new PortPathError(`port ${path} is taken: ${describe(a.usb)} is plugged at ${other}`);
      }
    }
    const maxTransfersInFlight = options.maxTransfersInFlight ?? this.options.maxTransfersInFlight ?? 4;
    if (!Number.isInteger(maxTransfersInFlight) || maxTransfersInFlight < 1) {
      throw new MockLabError(`maxTransfersInFlight must be a positive integer, got ${maxTransfersInFlight}`);
    }
    const configureAtPlug = options.configureAtPlug ?? this.options.configureAtPlug ?? true;
    const kd = { ...this.options.kernelDriver, ...options.kernelDriver };
    const firstConfig = device.descriptor.configurations[0];
    const att = new Attachment(
      `${this.options.keyPrefix ?? 'mock'}:${this.nextKey++}`,
      device,
      { busNumber, portNumbers, deviceAddress: this.nextAddress(busNumber) },
      maxTransfersInFlight,
      kd,
      configureAtPlug ? firstConfig.interfaces.map((i) => i.bInterfaceNumber) : [],
    );
    this.attachments.set(device, att);
    try {
      device._connect({
        unplug: () => {
          if (this.attachments.get(device) === att) this.unplug(device);
        },
        // libusb queues as many as asked (4 is the advice); nusb refuses a second one.
        inFlightLimit: maxTransfersInFlight === 1 ? 1 : undefined,
        claimBlocked: (n) =>
          att.kernelDriver.blocksClaim && att.kernelDriver.isBound(n)
            ? `kernel driver '${att.kernelDriver.name}' is bound to interface ${n}; detach it first`
            : undefined,
        configureAtPlug,
      });
    } catch (err) {
      this.attachments.delete(device);
      att.attached = false;
      throw err;
    }
    this.log.debug({ key: att.key, port: path }, 'plug');
    this.enqueue({ type: 'connect', device: att });
    return att;
  }

  /**
   * Unplugs a device: pending transfers reject NotFoundError at once, the disconnect event follows
   * asynchronously. Throws NotPluggedError if it is not plugged here.
   */
  unplug(device: MockUsbDevice): MockHostDevice {
    const att = this.attachments.get(device);
    if (!att) throw new NotPluggedError(`device ${describe(device)} is not plugged into this host`);
    this.attachments.delete(device);
    att.attached = false;
    device._disconnect();
    this.log.debug({ key: att.key }, 'unplug');
    this.enqueue({ type: 'disconnect', device: att });
    return att;
  }

  unplugAll(): void {
    for (const d of [...this.attachments.keys()]) this.unplug(d);
  }

  async getDevices(): Promise<HostDevice[]> {
    return this.devices;
  }

  /** Live at once: every plug/unplug after this call is delivered (nothing from before it). */
  async watch(listener: (event: HostEvent) => void): Promise<() => void> {
    if (this.closed) throw new MockLabError('the mock host is closed');
    const w: Watcher = { listener, since: this.seq };
    this.watchers.add(w);
    return () => {
      this.watchers.delete(w);
    };
  }

  /** Resolves once every event queued so far has been dispatched. */
  flush(): Promise<void> {
    if (this.queue.length === 0 && !this.draining) return nextMacrotask();
    return new Promise((r) => this.flushWaiters.push(r));
  }

  /** Stops watchers and undelivered events. Devices stay plugged (unplugAll() removes them). */
  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
    this.queue = [];
    for (const r of this.flushWaiters.splice(0)) r();
  }

  private enqueue(event: HostEvent): void {
    if (this.closed) return;
    this.queue.push({ seq: ++this.seq, event });
    if (!this.draining) {
      this.draining = true;
      // Never inside plug()/unplug(): a macrotask later, like a hub's interrupt.
      runSoon(() => this.drain());
    }
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const { seq, event } = this.queue.shift()!;
      for (const w of [...this.watchers]) {
        if (seq <= w.since || !this.watchers.has(w)) continue;
        this.deliver(() => w.listener(event));
      }
      this.deliver(() => this.webusb._dispatch(event.type, event.device.usb));
    }
    this.draining = false;
    for (const r of this.flushWaiters.splice(0)) r();
  }

  private deliver(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // One listener's bug must not starve the others; it still surfaces, as a browser reports it.
      this.log.error({ err }, 'hotplug listener threw');
      runSoon(() => {
        throw err;
      });
    }
  }

  private freeRootPort(): { busNumber: number; portNumbers: number[] } {
    const taken = new Set([...this.attachments.values()].map((a) => a.portPath));
    for (let port = 1; port <= 255; port++) {
      const p = `1-${port}`;
      if (![...taken].some((t) => t === p || t.startsWith(`${p}.`))) return { busNumber: 1, portNumbers: [port] };
    }
    throw new PortPathError('bus 1 has no free root port');
  }

  private nextAddress(bus: number): number {
    const used = new Set([...this.attachments.values()].filter((a) => a.location.busNumber === bus).map((a) => a.location.deviceAddress));
    let a = this.addresses.get(bus) ?? 1;
    // Like Linux: addresses count up from 2 (1 is the root hub) and wrap at 127.
    for (let k = 0; k < 127; k++) {
      a = a >= 127 ? 2 : a + 1;
      if (!used.has(a)) {
        this.addresses.set(bus, a);
        return a;
      }
    }
    throw new PortPathError(`bus ${bus} has no free device address`);
  }
}

function describe(d: MockUsbDevice): string {
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  return `${hex(d.vendorId)}:${hex(d.productId)}${d.serialNumber ? ` (${d.serialNumber})` : ''}`;
}
