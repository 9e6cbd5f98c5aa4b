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
import { closeDiscarding, readyPorts, resolveHost, watchPorts, type UsbSerialHost } from './port-watch.ts';
import { byIdName, findPort, locationOf } from './port-resolver.ts';
import { SerialSettingsError, type FlowControl, type SerialSettings } from './settings.ts';

const log = childLog('serial.binding');

/** PortInfo plus what we know beyond it. `path` is the port's stable path. */
export interface UsbSerialPortInfo extends PortInfo {
  /** The ttyUSB name (changes across plugs; accepted as a path too). */
  ttyName: string;
  /** The serial driver bound to it, e.g. 'ftdi_sio'. */
  driver: string;
  interfaceNumber: number;
}

export interface UsbSerialHotplugEvent {
  type: 'add' | 'remove';
  port: UsbSerialPortInfo;
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

export function portInfo(port: UsbSerialPort): UsbSerialPortInfo {
  const dev = port.serial.usbDevice;
  return {
    path: port.stablePath,
    manufacturer: dev.manufacturer,
    serialNumber: dev.serialNumber,
    pnpId: byIdName(port),
    locationId: locationOf(port),
    vendorId: hex4(dev.vendorId),
    productId: hex4(dev.productId),
    ttyName: port.name,
    driver: port.typeName,
    interfaceNumber: port.serial.intf.interfaceNumber,
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

export class UsbSerialBinding implements BindingInterface<UsbSerialBindingPort, OpenOptions, UsbSerialPortInfo> {
  readonly usb: UsbSerialHost;
  readonly #readBufferSize: number;

  constructor(options: UsbSerialBindingOptions = {}) {
    this.usb = resolveHost(options.usb);
    this.#readBufferSize = options.readBufferSize ?? 64 * 1024;
  }

  async list(): Promise<UsbSerialPortInfo[]> {
    await this.usb.settled?.();
    return readyPorts(this.usb).map(portInfo);
  }

  async open(options: OpenOptions): Promise<UsbSerialBindingPort> {
    if (!options || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('"options" is not an object');
    if (!options.path) throw new TypeError('"path" is not a valid port');
    if (typeof options.baudRate !== 'number' || !options.baudRate) throw new TypeError('"baudRate" is not a valid baudRate');
    await this.usb.settled?.();
    const port = findPort(this.usb, options.path);
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
    // Subscribe before opening: nothing received after open is missed.
    const bp = new UsbSerialBindingPort(port, openOptions, this.#readBufferSize);
    try {
      await port.open(settings);
      await port.setSignals({ dtr: true, rts: true }); // as opening a tty does
    } catch (err) {
      await bp.abandon();
      throw err;
    }
    log.debug({ port: port.name, path: port.stablePath }, 'opened through the serialport binding');
    return bp;
  }

  /** Ports appearing and disappearing (serialport users ask for this: #307, #2338). */
  hotplug(options: { initial?: boolean } = {}): Observable<UsbSerialHotplugEvent> {
    return watchPorts(this.usb, options).pipe(map((c) => ({ type: c.type, port: portInfo(c.port), initial: c.initial })));
  }
}

export function createUsbSerialBinding(options: UsbSerialBindingOptions = {}): UsbSerialBinding {
  return new UsbSerialBinding(options);
}

interface PendingRead {
  buffer: Buffer;
  offset: number;
  length: number;
  resolve: (r: { buffer: Buffer; bytesRead: number }) => void;
  reject: (err: Error) => void;
}

export class UsbSerialBindingPort implements BindingPortInterface {
  #open = true;
  #sub: Subscription | null;
  #rx: Uint8Array[] = [];
  #rxBytes = 0;
  #paused = false;
  #reads: PendingRead[] = [];
  #failure: Error | null = null;
  #write: { reject: (err: Error) => void; done: Promise<unknown> } | null = null;

  constructor(
    readonly port: UsbSerialPort,
    readonly openOptions: Required<OpenOptions>,
    private readonly readBufferSize: number,
  ) {
    this.#sub = port.events.subscribe((e) => this.#onPortEvent(e));
  }

  /** Open until close() is called, even after an unplug (so the stream sees the disconnect). */
  get isOpen(): boolean {
    return this.#open;
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
      this.#failure ??= new SerialBindingError(
        e.type === 'disconnect' ? `${this.port.stablePath} (${this.port.name}) was disconnected` : `${this.port.stablePath} was closed elsewhere`,
        { disconnected: true, cause },
      );
      this.#serveReads();
    }
  }

  /** Hands buffered bytes (or the failure, once they are all read) to pending reads. */
  #serveReads(): void {
    while (this.#reads.length > 0) {
      if (this.#rxBytes > 0) {
        const r = this.#reads.shift()!;
        r.resolve({ buffer: r.buffer, bytesRead: this.#take(r.buffer, r.offset, r.length) });
      } else if (this.#failure) {
        this.#reads.shift()!.reject(this.#failure);
      } else {
        return;
      }
    }
  }

  #take(buffer: Buffer, offset: number, length: number): number {
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
    if (this.#paused && this.#rxBytes <= this.readBufferSize / 2 && this.port.isOpen) {
      this.#paused = false;
      this.port.resumeReading();
    }
    return n;
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
    if (this.#rxBytes > 0) return { buffer, bytesRead: this.#take(buffer, offset, length) };
    if (this.#failure) throw this.#failure;
    return new Promise((resolve, reject) => this.#reads.push({ buffer, offset, length, resolve, reject }));
  }

  async write(buffer: Buffer): Promise<void> {
    if (!Buffer.isBuffer(buffer)) throw new TypeError('"buffer" is not a Buffer');
    if (!this.#open) throw new SerialBindingError('Port is not open', { canceled: true });
    if (this.#write) throw new Error('a write is already pending (the interface allows one at a time)');
    if (buffer.length === 0) return;
    if (this.#failure) throw this.#failure;
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

  /** The rate the chip really runs at (rounded), which may differ slightly from the one asked. */
  async getBaudRate(): Promise<{ baudRate: number }> {
    this.#requireOpen();
    const s = this.port.settings;
    if (!s) throw new Error('Port is not open');
    return { baudRate: Math.round(s.actualBaudRate) };
  }

  /** Discards received-unread and written-unsent data (the chip's and this binding's). */
  async flush(): Promise<void> {
    this.#requireOpen();
    this.#rx = [];
    this.#rxBytes = 0;
    await this.port.flush({ rx: true, tx: true });
    if (this.#paused && this.port.isOpen) {
      this.#paused = false;
      this.port.resumeReading();
    }
  }

  /** Resolves once the pending write and everything before it have been taken by the chip. */
  async drain(): Promise<void> {
    this.#requireOpen();
    await this.#write?.done;
    await this.port.drain();
  }

  async close(): Promise<void> {
    this.#requireOpen();
    this.#open = false;
    const canceled = () => new SerialBindingError('Port closed while the operation was pending', { canceled: true });
    for (const r of this.#reads.splice(0)) r.reject(canceled());
    const write = this.#write;
    this.#write = null;
    write?.reject(canceled());
    this.#sub?.unsubscribe();
    this.#sub = null;
    this.#rx = [];
    this.#rxBytes = 0;
    if (this.port.portState !== 'open') return; // unplugged: nothing left to close
    if (this.openOptions.hupcl && !write) {
      await this.port.setSignals({ dtr: false, rts: false }).catch((err: unknown) => log.debug({ err, port: this.port.name }, 'hupcl failed'));
    }
    await closeDiscarding(this.port, write !== null);
  }

  /** @internal open failed: let go of everything. */
  async abandon(): Promise<void> {
    this.#open = false;
    this.#sub?.unsubscribe();
    this.#sub = null;
    if (this.port.portState === 'open') await this.port.close().catch(() => undefined);
  }
}
