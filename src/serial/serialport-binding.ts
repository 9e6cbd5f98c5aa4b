// A node-serialport binding (@serialport/bindings-interface) over our usb-serial ports, so
// `new SerialPortStream({ binding, path, baudRate })` drives an FTDI or PL2303 dongle through
// this userspace stack. Contract points it keeps: a read returns at least one byte; reads and
// the write pending when the port closes reject with `canceled: true`; an unplug makes the
// pending (or next) read reject as a disconnect, so SerialPortStream closes with
// `disconnected: true`; close after an unplug resolves. Paths are stable (see findPort).
// The package's exports map has no types condition for ESM: resolve its types as require would.
import type { BindingInterface, BindingPortInterface, OpenOptions, PortInfo, PortStatus, SetOptions, UpdateOptions } from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import { map, type Observable, type Subscription } from 'rxjs';
import { childLog } from '../log.ts';
import type { PortEvent, UsbSerialPort } from './port.ts';
import { readyPorts, resolveHost, watchPorts, type UsbSerialHost } from './port-watch.ts';
import { byIdName, findPort, locationOf } from './port-resolver.ts';
import { SerialSettingsError, type AppliedSettings, type FlowControl, type SerialSettings } from './settings.ts';

const log = childLog('serial.binding');

export interface UsbSerialHotplugEvent {
  type: 'add' | 'remove';
  /** The port as list() reports it. */
  port: PortInfo;
  /** The ttyUSB name (changes across plugs; accepted as a path too). */
  ttyName: string;
  /** The serial driver bound to it, e.g. 'ftdi_sio'. */
  driver: string;
  /** An 'add' for a port present when watching began. */
  initial: boolean;
}

/** An error of the binding; `canceled` marks a read or write cut short by close. */
export class SerialBindingError extends Error {
  readonly canceled: boolean;
  readonly disconnected: boolean;
  constructor(message: string, options: { canceled?: boolean; disconnected?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SerialBindingError';
    this.canceled = options.canceled ?? false;
    this.disconnected = options.disconnected ?? false;
  }
}

export interface UsbSerialBindingOptions {
  /** The USB subsystem whose ports to serve (default: the default one). */
  usb?: UsbSerialHost;
  /** Bytes a port buffers for read() before it stops reading from the chip (default 64 KiB). */
  readBufferSize?: number;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/**
 * A port as the Linux binding lists it (bindings-cpp linux-list.ts, from `udevadm info -e`):
 * only PortInfo's fields, a value udev does not have is `undefined`. pnpId is the udev by-id
 * name, which carries the interface and port (`usb-FTDI_Dual_RS232-H_FT1-if01-port0`): that is
 * how the Linux binding tells the ports of one multi-interface adapter apart. The Linux binding
 * leaves locationId unset (udev has no property it maps there); ours is the USB interface's
 * sysfs name (`1-2.3:1.1`, bus-ports:config.interface, as in udev's ID_PATH), so it too names
 * the interface. `path` is our stable path (ttyUSB names and by-id names open the same port).
 */
export function portInfo(port: UsbSerialPort): PortInfo {
  const dev = port.serial.usbDevice;
  const location = locationOf(port);
  return {
    path: port.stablePath,
    manufacturer: dev.manufacturer || undefined,
    serialNumber: dev.serialNumber || undefined,
    pnpId: byIdName(port),
    locationId: location ? `${location}:${port.serial.intf.configurationValue}.${port.serial.intf.interfaceNumber}` : undefined,
    productId: hex4(dev.productId),
    vendorId: hex4(dev.vendorId),
  };
}

/** Maps node-serialport open options to our settings; refuses what has no meaning here. */
export function settingsFromOpenOptions(o: OpenOptions): Partial<SerialSettings> {
  if (o.xany) throw new SerialSettingsError('flowControl', 'xany (restart output on any character) is not supported; use xon/xoff without it');
  if (o.rtscts && (o.xon || o.xoff)) throw new SerialSettingsError('flowControl', 'rtscts and xon/xoff cannot both be on; pick one flow control');
  const flowControl: FlowControl = o.rtscts ? 'rts-cts' : o.xon || o.xoff ? 'xon-xoff' : 'none';
  return {
    baudRate: o.baudRate,
    dataBits: o.dataBits,
    stopBits: o.stopBits,
    parity: o.parity as SerialSettings['parity'] | undefined,
    flowControl,
  };
}

/** The lock an open with `lock: true` takes is held: the Linux binding's flock(LOCK_EX | LOCK_NB) failing. */
export class PortLockedError extends SerialBindingError {
  readonly code = 'EAGAIN';
  constructor(readonly path: string) {
    super(`Error Resource temporarily unavailable Cannot lock port ${path}`);
    this.name = 'PortLockedError';
  }
}

/** The port is open through another API (the Node stream, Web Serial): the binding leaves it alone. */
export class PortBusyError extends SerialBindingError {
  readonly code = 'EBUSY';
  constructor(readonly path: string, state: string) {
    super(`${path} is ${state} through another API; close it there first`);
    this.name = 'PortBusyError';
  }
}

/**
 * The node-serialport binding. A plain object, as every upstream binding is: its methods do not
 * use `this`, so `const { list, open } = binding` works (upstream's SerialPort.list does this).
 */
export interface UsbSerialBinding extends BindingInterface<UsbSerialBindingPort, OpenOptions, PortInfo> {
  readonly usb: UsbSerialHost;
  list(): Promise<PortInfo[]>;
  open(options: OpenOptions): Promise<UsbSerialBindingPort>;
  /** Ports appearing and disappearing (serialport users ask for this: #307, #2338). */
  hotplug(options?: { initial?: boolean }): Observable<UsbSerialHotplugEvent>;
}

export function createUsbSerialBinding(options: UsbSerialBindingOptions = {}): UsbSerialBinding {
  const usb = resolveHost(options.usb);
  const readBufferSize = options.readBufferSize ?? 64 * 1024;
  return {
    usb,
    async list() {
      await usb.settled?.();
      return readyPorts(usb).map(portInfo);
    },
    async open(options) {
      if (!options || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('"options" is not an object');
      if (!options.path) throw new TypeError('"path" is not a valid port');
      if (typeof options.baudRate !== 'number' || !options.baudRate) throw new TypeError('"baudRate" is not a valid baudRate');
      await usb.settled?.();
      const port = findPort(usb, options.path);
      const settings = settingsFromOpenOptions(options);
      const openOptions: Required<OpenOptions> = {
        dataBits: 8,
        lock: true,
        stopBits: 1,
        parity: 'none',
        rtscts: false,
        xon: false,
        xoff: false,
        xany: false,
        hupcl: true,
        ...options,
      };
      const tty = await SharedTty.open(port, settings, readBufferSize, openOptions);
      const bp = new UsbSerialBindingPort(tty, openOptions);
      log.debug({ port: port.name, path: port.stablePath, openers: tty.openers }, 'opened through the serialport binding');
      return bp;
    },
    hotplug(options = {}) {
      return watchPorts(usb, options).pipe(map((c) => ({ type: c.type, port: portInfo(c.port), ttyName: c.port.name, driver: c.port.typeName, initial: c.initial })));
    },
  };
}

interface PendingRead {
  owner: UsbSerialBindingPort;
  buffer: Buffer;
  offset: number;
  length: number;
  resolve: (r: { buffer: Buffer; bytesRead: number }) => void;
  reject: (err: Error) => void;
}

/** The open usb-serial port under each path, shared by the binding's openers (as one tty is). */
const ttys = new WeakMap<UsbSerialPort, SharedTty>();

/**
 * One usb-serial port opened through the binding, shared by every binding port that opened it
 * (Linux: one tty, several open file descriptions). As there, the openers share one receive
 * buffer (a byte goes to whichever read asks first), settings and lines are the port's, and
 * the last close hangs up (when HUPCL is set) and closes the port. `lock` is the Linux binding's
 * advisory flock(LOCK_EX | LOCK_NB): an open with `lock: true` is refused while another opener
 * holds the lock; `lock: false` takes no lock and is never refused.
 */
class SharedTty {
  readonly #openers = new Set<UsbSerialBindingPort>();
  #lockHolder: UsbSerialBindingPort | null = null;
  /** The termios HUPCL flag: the latest open's `hupcl` (each open sets the tty's termios). */
  hupcl = true;
  #sub: Subscription | null = null;
  #rx: Uint8Array[] = [];
  #rxBytes = 0;
  #paused = false;
  #reads: PendingRead[] = [];
  failure: Error | null = null;
  /** Resolves once the first opener has opened the port (later openers wait for it). */
  #ready: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: UsbSerialPort,
    private readonly readBufferSize: number,
  ) {}

  get openers(): number {
    return this.#openers.size;
  }

  static async open(port: UsbSerialPort, settings: Partial<SerialSettings>, readBufferSize: number, o: Required<OpenOptions>): Promise<SharedTty> {
    const existing = ttys.get(port);
    if (existing) {
      await existing.#ready;
      if (ttys.get(existing.port) === existing) return existing.#join(settings, o);
      return SharedTty.open(port, settings, readBufferSize, o); // the opening failed: start over
    }
    // Opened elsewhere (the Node stream, Web Serial): refused before anything is touched.
    if (port.portState !== 'closed') throw new PortBusyError(port.stablePath, port.portState);
    const tty = new SharedTty(port, readBufferSize);
    ttys.set(port, tty);
    let opened!: () => void;
    tty.#ready = new Promise<void>((r) => (opened = r));
    try {
      // Subscribe before opening: nothing received after open is missed.
      tty.#sub = port.events.subscribe((e) => tty.#onPortEvent(e));
      await port.open(settings);
      await port.setSignals({ dtr: true, rts: true }); // as opening a tty does
    } catch (err) {
      ttys.delete(port);
      tty.#sub?.unsubscribe();
      tty.#sub = null;
      if (port.isOpen) await port.close().catch(() => undefined);
      throw err;
    } finally {
      opened();
    }
    tty.hupcl = o.hupcl;
    return tty;
  }

  /** A further open: refused only for a lock another opener holds; its settings apply to the port. */
  async #join(settings: Partial<SerialSettings>, o: Required<OpenOptions>): Promise<SharedTty> {
    if (o.lock && this.#lockHolder) throw new PortLockedError(this.port.stablePath);
    if (this.failure) throw this.failure;
    await this.port.setSettings(settings);
    this.hupcl = o.hupcl;
    return this;
  }

  /** @internal a binding port made for this open. */
  add(bp: UsbSerialBindingPort, lock: boolean): void {
    this.#openers.add(bp);
    if (lock && !this.#lockHolder) this.#lockHolder = bp;
  }

  #onPortEvent(e: PortEvent): void {
    if (e.type === 'data') {
      this.#rx.push(e.data);
      this.#rxBytes += e.data.length;
      this.#serveReads();
      if (this.#rxBytes > this.readBufferSize && !this.#paused) {
        this.#paused = true;
        this.port.pauseReading();
      }
    } else if (e.type === 'disconnect' || e.type === 'close') {
      const cause = e.type === 'disconnect' ? e.error : undefined;
      this.failure ??= new SerialBindingError(
        e.type === 'disconnect' ? `${this.port.stablePath} (${this.port.name}) was disconnected` : `${this.port.stablePath} was closed elsewhere`,
        { disconnected: true, cause },
      );
      this.#serveReads();
    }
  }

  get buffered(): number {
    return this.#rxBytes;
  }

  /** Hands buffered bytes (or the failure, once they are all read) to pending reads, oldest first. */
  #serveReads(): void {
    while (this.#reads.length > 0) {
      if (this.#rxBytes > 0) {
        const r = this.#reads.shift()!;
        r.resolve({ buffer: r.buffer, bytesRead: this.take(r.buffer, r.offset, r.length) });
      } else if (this.failure) {
        this.#reads.shift()!.reject(this.failure);
      } else {
        return;
      }
    }
  }

  take(buffer: Buffer, offset: number, length: number): number {
    let n = 0;
    while (n < length && this.#rx.length > 0) {
      const head = this.#rx[0]!;
      const k = Math.min(head.length, length - n);
      buffer.set(head.subarray(0, k), offset + n);
      n += k;
      if (k === head.length) this.#rx.shift();
      else this.#rx[0] = head.subarray(k);
    }
    this.#rxBytes -= n;
    this.#resumeIfDrained();
    return n;
  }

  wait(read: PendingRead): void {
    this.#reads.push(read);
  }

  /** Discards what was received and not read (flush). */
  discardReceived(): void {
    this.#rx = [];
    this.#rxBytes = 0;
    this.#resumeIfDrained();
  }

  #resumeIfDrained(): void {
    if (this.#paused && this.#rxBytes <= this.readBufferSize / 2 && this.port.isOpen) {
      this.#paused = false;
      this.port.resumeReading();
    }
  }

  /**
   * One opener closes: its pending reads are canceled. The last one closes the port, dropping
   * DTR and RTS if HUPCL is set (Linux: tty_port_shutdown's dtr_rts(0) only with C_HUPCL).
   */
  async leave(bp: UsbSerialBindingPort, canceled: () => Error, writePending: boolean): Promise<void> {
    for (const r of this.#reads.filter((r) => r.owner === bp)) r.reject(canceled());
    this.#reads = this.#reads.filter((r) => r.owner !== bp);
    this.#openers.delete(bp);
    if (this.#lockHolder === bp) this.#lockHolder = null;
    if (this.#openers.size > 0) return; // another opener keeps the port (and what it queued)
    ttys.delete(this.port);
    this.#sub?.unsubscribe();
    this.#sub = null;
    this.#rx = [];
    this.#rxBytes = 0;
    if (!this.port.isOpen) return; // unplugged: nothing left to close
    await this.port.close({ hupcl: this.hupcl, discardWrites: writePending });
  }
}

export class UsbSerialBindingPort implements BindingPortInterface {
  #open = true;
  #write: { reject: (err: Error) => void; done: Promise<unknown> } | null = null;
  readonly #tty: SharedTty;

  /** @internal made by the binding's open() */
  constructor(
    tty: SharedTty,
    readonly openOptions: Required<OpenOptions>,
  ) {
    this.#tty = tty;
    tty.add(this, openOptions.lock);
  }

  /** The usb-serial port underneath (shared with any other opener of the same path). */
  get port(): UsbSerialPort {
    return this.#tty.port;
  }

  /** Open until close() is called, even after an unplug (so the stream sees the disconnect). */
  get isOpen(): boolean {
    return this.#open;
  }

  #requireOpen(): void {
    if (!this.#open) throw new Error('Port is not open');
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    if (!Buffer.isBuffer(buffer)) throw new TypeError('"buffer" is not a Buffer');
    if (typeof offset !== 'number' || Number.isNaN(offset)) throw new TypeError(`"offset" is not an integer got "${typeof offset}"`);
    if (typeof length !== 'number' || Number.isNaN(length) || length < 1) throw new TypeError(`"length" must be at least 1, got ${String(length)}`);
    if (buffer.length < offset + length) throw new Error('buffer is too small');
    if (!this.#open) throw new SerialBindingError('Port is not open', { canceled: true });
    const tty = this.#tty;
    if (tty.buffered > 0) return { buffer, bytesRead: tty.take(buffer, offset, length) };
    if (tty.failure) throw tty.failure;
    return new Promise((resolve, reject) => tty.wait({ owner: this, buffer, offset, length, resolve, reject }));
  }

  async write(buffer: Buffer): Promise<void> {
    if (!Buffer.isBuffer(buffer)) throw new TypeError('"buffer" is not a Buffer');
    if (!this.#open) throw new SerialBindingError('Port is not open', { canceled: true });
    if (this.#write) throw new Error('a write is already pending (the interface allows one at a time)');
    if (buffer.length === 0) return;
    if (this.#tty.failure) throw this.#tty.failure;
    const writing = this.port.write(buffer);
    await new Promise<void>((resolve, reject) => {
      const entry = { reject, done: writing.catch(() => undefined) };
      this.#write = entry;
      writing.then(
        () => {
          if (this.#write === entry) this.#write = null;
          resolve();
        },
        (err: unknown) => {
          if (this.#write === entry) this.#write = null;
          reject(err as Error); // PortDisconnectedError keeps bytesWritten
        },
      );
    });
  }

  async update(options: UpdateOptions): Promise<void> {
    if (!options || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('"options" is not an object');
    if (typeof options.baudRate !== 'number') throw new TypeError('"options.baudRate" is not a number');
    this.#requireOpen();
    await this.port.setSettings({ baudRate: options.baudRate });
  }

  /** DTR, RTS and break (cts and dsr are inputs: ignored). Flags left out keep their state. */
  async set(options: SetOptions): Promise<void> {
    if (!options || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('"options" is not an object');
    this.#requireOpen();
    const signals: { dtr?: boolean; rts?: boolean; brk?: boolean } = {};
    if (options.dtr !== undefined) signals.dtr = !!options.dtr;
    if (options.rts !== undefined) signals.rts = !!options.rts;
    if (options.brk !== undefined) signals.brk = !!options.brk;
    await this.port.setSignals(signals);
  }

  async get(): Promise<PortStatus> {
    this.#requireOpen();
    const l = await this.port.getSignals();
    return { cts: l.cts, dsr: l.dsr, dcd: l.dcd };
  }

  /**
   * The rate the Linux OS binding reports (TCGETS2's c_ospeed): what the kernel driver wrote
   * back into termios, which is per chip: ftdi_sio keeps the requested rate, pl2303 stores the
   * rate its divisor encodes. The rate the chip really runs at is `port.settings.actualBaudRate`.
   */
  async getBaudRate(): Promise<{ baudRate: number }> {
    this.#requireOpen();
    const s = this.port.settings as (AppliedSettings & { reportedBaudRate?: number }) | null;
    if (!s) throw new Error('Port is not open');
    return { baudRate: s.reportedBaudRate ?? s.baudRate };
  }

  /** Discards received-unread and written-unsent data (the chip's and this binding's). */
  async flush(): Promise<void> {
    this.#requireOpen();
    this.#tty.discardReceived();
    await this.port.flush({ rx: true, tx: true });
  }

  /** Resolves once the pending write and everything before it have been sent by the chip. */
  async drain(): Promise<void> {
    this.#requireOpen();
    await this.#write?.done;
    await this.port.drain();
  }

  async close(): Promise<void> {
    this.#requireOpen();
    this.#open = false;
    const canceled = () => new SerialBindingError('Port closed while the operation was pending', { canceled: true });
    const write = this.#write;
    this.#write = null;
    write?.reject(canceled());
    await this.#tty.leave(this, canceled, write !== null);
  }
}
