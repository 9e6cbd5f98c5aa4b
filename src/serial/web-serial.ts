// The W3C Web Serial API (WICG/serial) over our usb-serial ports: FTDI, PL2303 and any other
// chip with a driver here, where google/web-serial-polyfill speaks only CDC-ACM. Runs in Node
// (on the `usb` package or the mock lab) and in a browser (on navigator.usb through the webusb
// backend). Browser-safe: no Node imports; Node 20 has ReadableStream, WritableStream,
// EventTarget and DOMException as globals.
//
// Streams: web-serial/streams.ts. Reading is byte-accurate: a line error is the readable's error after every byte before it
// has been read; a new `readable` then carries the bytes after it (the byte a parity, framing
// or break error lands on is not data and is dropped; an overrun's byte is the first one kept
// after the loss, so it stays).
import type { Subscription } from 'rxjs';
import { childLog } from '../log.ts';
import type { HostDevice } from '../usb/host.ts';
import type { WebUsbBackend } from '../usb/backends/webusb.ts';
import { PropagatingEventTarget, type EventHandler } from './web-serial/events.ts';
import { checkOutputSignals, checkSerialOptions, convertOutputSignals, convertSerialOptions, DEFAULT_BUFFER_SIZE, type SerialOutputSignals } from './web-serial/options.ts';
import { readyPorts, resolveHost, watchPorts, type UsbSerialHost } from './port-watch.ts';
import { PortDisconnectedError, type PortEvent, type UsbSerialPort } from './port.ts';
import { domError, ReceiveBuffer, SerialPortUnderlyingSink, SerialPortUnderlyingSource } from './web-serial/streams.ts';

const log = childLog('serial.web');

// ---- the spec's dictionaries ---------------------------------------------------------------

export { MAX_BUFFER_SIZE, type FlowControlType, type ParityType, type SerialOptions, type SerialOutputSignals } from './web-serial/options.ts';
import type { SerialOptions } from './web-serial/options.ts';

export interface SerialInputSignals {
  dataCarrierDetect: boolean;
  clearToSend: boolean;
  ringIndicator: boolean;
  dataSetReady: boolean;
}

export interface SerialPortInfo {
  usbVendorId?: number;
  usbProductId?: number;
}

export interface SerialPortFilter {
  usbVendorId?: number;
  usbProductId?: number;
  bluetoothServiceClassId?: number | string;
}

export interface SerialPortRequestOptions {
  filters?: SerialPortFilter[];
  allowedBluetoothServiceClassIds?: (number | string)[];
}

// ---- events ----------------------------------------------------------------------------------

/**
 * connect / disconnect, fired at the SerialPort with bubbles: true, so listeners on the Serial
 * (its parent on the event path, see web-serial/events.ts) hear them with the port as target.
 */
export class SerialConnectionEvent extends Event {
  constructor(
    type: 'connect' | 'disconnect',
    readonly port: SerialPort,
  ) {
    super(type, { bubbles: true });
  }
}

type Handler<T> = EventHandler<T>;

// ---- Serial ----------------------------------------------------------------------------------

export interface WebSerialOptions {
  /** The USB subsystem whose usb-serial ports to offer (default: the default one). */
  usb?: UsbSerialHost & { apply?(event: { type: 'attach' | 'detach'; device: HostDevice }): void };
  /**
   * In a browser: navigator.usb, whose requestDevice shows the chooser (and grants access), with
   * the webusb `backend` the subsystem reads from. Without it, requestPort picks the first port
   * that matches (Node: every device the backend sees is already allowed).
   */
  webusb?: {
    requestDevice(options: USBDeviceRequestOptions): Promise<USBDevice>;
  };
  /** The webusb backend the subsystem reads from: granted and forgotten devices go through it. */
  backend?: Pick<WebUsbBackend, 'adopt' | 'forget'>;
}

export class Serial extends PropagatingEventTarget {
  readonly #usb: NonNullable<WebSerialOptions['usb']>;
  readonly #webusb: WebSerialOptions['webusb'];
  readonly #backend: WebSerialOptions['backend'];
  readonly #ports = new Map<UsbSerialPort, SerialPort>();
  /** Stable paths the page gave up (forget); they come back only through requestPort. */
  readonly #forgotten = new Set<string>();
  #watch: Subscription | null;

  constructor(options: WebSerialOptions = {}) {
    super();
    this.#usb = resolveHost(options.usb);
    this.#webusb = options.webusb;
    this.#backend = options.backend;
    if (this.#webusb && !this.#backend) throw new TypeError('webusb needs the webusb backend the USB subsystem reads from (options.backend)');
    this.#watch = watchPorts(this.#usb).subscribe((c) => {
      if (c.type === 'add') {
        const sp = this.#wrap(c.port);
        if (!c.initial && !this.#forgotten.has(c.port.stablePath)) sp._dispatchConnection('connect');
      } else {
        const sp = this.#ports.get(c.port);
        this.#ports.delete(c.port);
        sp?._lost();
      }
    });
  }

  get onconnect(): Handler<this> {
    return this.getHandler('connect');
  }
  set onconnect(h: Handler<this>) {
    this.setHandler('connect', h);
  }
  get ondisconnect(): Handler<this> {
    return this.getHandler('disconnect');
  }
  set ondisconnect(h: Handler<this>) {
    this.setHandler('disconnect', h);
  }

  /** Ports this page may use: present, and not forgotten. */
  async getPorts(): Promise<SerialPort[]> {
    await this.#usb.settled?.();
    return readyPorts(this.#usb)
      .filter((p) => !this.#forgotten.has(p.stablePath))
      .map((p) => this.#wrap(p));
  }

  /**
   * Asks for a port. In a browser, navigator.usb's chooser picks the device; in Node the first
   * port that matches the filters is taken. Rejects NotFoundError when none matches.
   */
  async requestPort(options: SerialPortRequestOptions = {}): Promise<SerialPort> {
    const filters = options.filters ?? [];
    if (!Array.isArray(filters)) throw new TypeError("requestPort: 'filters' must be an array");
    for (const f of filters) {
      if (f.bluetoothServiceClassId !== undefined) continue;
      if (f.usbVendorId === undefined) {
        throw new TypeError(f.usbProductId !== undefined ? 'A filter containing a usbProductId must also specify a usbVendorId.' : 'A filter must provide a property to filter by.');
      }
    }
    const usbFilters = filters.filter((f) => f.usbVendorId !== undefined);
    const matches = (p: UsbSerialPort) =>
      filters.length === 0 ||
      usbFilters.some((f) => f.usbVendorId === p.serial.usbDevice.vendorId && (f.usbProductId === undefined || f.usbProductId === p.serial.usbDevice.productId));
    let candidates: UsbSerialPort[];
    if (this.#webusb) {
      const device = await this.#webusb.requestDevice({ filters: usbFilters.map((f) => ({ vendorId: f.usbVendorId, ...(f.usbProductId !== undefined ? { productId: f.usbProductId } : {}) })) });
      await this.#feed(device);
      candidates = readyPorts(this.#usb).filter((p) => p.serial.usbDevice.usb === device && matches(p));
      if (candidates.length === 0) throw domError('NotFoundError', 'The chosen USB device has no serial port a driver here serves.');
    } else {
      await this.#usb.settled?.();
      candidates = readyPorts(this.#usb).filter(matches);
      if (candidates.length === 0) throw domError('NotFoundError', 'No port selected by the user.');
    }
    const port = candidates[0]!;
    this.#forgotten.delete(port.stablePath);
    return this.#wrap(port);
  }

  /** Stops watching for ports and closes the open ones (Node: end of use; not in the spec). */
  async dispose(): Promise<void> {
    this.#watch?.unsubscribe();
    this.#watch = null;
    await Promise.all([...this.#ports.values()].map((p) => p._forceClose()));
    this.#ports.clear();
  }

  /** @internal access comes from navigator.usb's chooser (a browser), not from the backend seeing everything. */
  get _grantsByChooser(): boolean {
    return this.#webusb !== undefined;
  }

  /** @internal */
  _isForgotten(sp: SerialPort): boolean {
    return this.#forgotten.has(sp.usbSerialPort.stablePath);
  }

  /** @internal */
  _forget(sp: SerialPort): void {
    this.#forgotten.add(sp.usbSerialPort.stablePath);
  }

  /** @internal whether another port of the same USB device is still in use by the page. */
  _deviceStillWanted(sp: SerialPort): boolean {
    const dev = sp.usbSerialPort.serial.usbDevice;
    return readyPorts(this.#usb).some((p) => p !== sp.usbSerialPort && p.serial.usbDevice === dev && !this.#forgotten.has(p.stablePath));
  }

  /**
   * @internal The page gives the USB device up: the subsystem lets it go first (as an unplug:
   * the driver releases it), then navigator.usb forgets it. requestPort can grant it again.
   */
  async _revoke(sp: SerialPort): Promise<void> {
    const host = sp.usbSerialPort.serial.usbDevice.host;
    if (this.#backend) {
      // The backend tells every watcher (the subsystem too) and revokes the permission.
      await this.#backend.forget(host.usb as USBDevice);
      await this.#usb.settled?.();
      return;
    }
    this.#usb.apply?.({ type: 'detach', device: host });
    await this.#usb.settled?.();
    await (host.usb as USBDevice & { forget?: () => Promise<void> }).forget?.().catch((err: unknown) => log.debug({ err }, 'USBDevice.forget failed'));
  }

  #wrap(port: UsbSerialPort): SerialPort {
    let sp = this.#ports.get(port);
    if (!sp) {
      sp = new SerialPort(port, this);
      this.#ports.set(port, sp);
    }
    return sp;
  }

  /** A device the chooser granted: announced through the backend, so the subsystem binds it. */
  async #feed(device: USBDevice): Promise<void> {
    await this.#backend!.adopt(device);
    await this.#usb.settled?.();
  }
}

export function createWebSerial(options: WebSerialOptions = {}): Serial {
  return new Serial(options);
}

// ---- SerialPort ------------------------------------------------------------------------------

type PortStateName = 'closed' | 'opening' | 'opened' | 'closing' | 'forgotten';

export class SerialPort extends PropagatingEventTarget {
  #state: PortStateName = 'closed';
  #connected = true;
  #bufferSize = DEFAULT_BUFFER_SIZE;
  #sub: Subscription | null = null;
  /** What was received and not read; outlives a readable ended by a line error. */
  #rx: ReceiveBuffer | null = null;
  #readable: ReadableStream<Uint8Array> | null = null;
  #source: SerialPortUnderlyingSource | null = null;
  #writable: WritableStream<Uint8Array> | null = null;
  #sink: SerialPortUnderlyingSink | null = null;
  #pendingClose: (() => void) | null = null;

  /** @internal made by Serial */
  constructor(
    /** The usb-serial port underneath (not in the spec). */
    readonly usbSerialPort: UsbSerialPort,
    private readonly serial: Serial,
  ) {
    super();
  }

  /** The spec's "get the parent" of a SerialPort: its Serial (navigator.serial). */
  protected override get parentTarget(): Serial {
    return this.serial;
  }

  /** Bytes received and held for the readable (bounded by bufferSize; not in the spec). */
  get bufferedBytes(): number {
    return this.#rx?.bytes ?? 0;
  }

  get onconnect(): Handler<this> {
    return this.getHandler('connect');
  }
  set onconnect(h: Handler<this>) {
    this.setHandler('connect', h);
  }
  get ondisconnect(): Handler<this> {
    return this.getHandler('disconnect');
  }
  set ondisconnect(h: Handler<this>) {
    this.setHandler('disconnect', h);
  }

  get connected(): boolean {
    return this.#connected;
  }

  getInfo(): SerialPortInfo {
    const dev = this.usbSerialPort.serial.usbDevice;
    return { usbVendorId: dev.vendorId, usbProductId: dev.productId };
  }

  async open(options: SerialOptions): Promise<void> {
    // https://wicg.github.io/serial/#dom-serialport-open: the WebIDL conversion (TypeErrors in
    // any state), then the state check, then the values.
    const converted = convertSerialOptions(options);
    if (this.#state === 'forgotten') throw domError('InvalidStateError', 'The port has been forgotten.');
    if (this.#state !== 'closed') throw domError('InvalidStateError', 'The port is already open.');
    const settings = checkSerialOptions(converted);
    const bufferSize = converted.bufferSize;
    const port = this.usbSerialPort;
    if (!this.#connected || port.gone) throw domError('NetworkError', 'Failed to open serial port: the device is disconnected.');
    this.#state = 'opening';
    this.#reset();
    this.#rx = new ReceiveBuffer(port, bufferSize);
    this.#sub = port.events.subscribe((e) => this.#onPortEvent(e));
    try {
      await port.open(settings);
      await port.setSignals({ dtr: true, rts: true }); // as opening a tty does
    } catch (err) {
      this.#sub.unsubscribe();
      this.#sub = null;
      this.#state = 'closed';
      if (port.portState === 'open') await port.close().catch(() => undefined);
      throw domError('NetworkError', `Failed to open serial port: ${(err as Error).message}`, err);
    }
    this.#bufferSize = bufferSize;
    this.#state = 'opened';
  }

  get readable(): ReadableStream<Uint8Array> | null {
    if (this.#readable) return this.#readable;
    const rx = this.#rx;
    if (this.#state !== 'opened' || !rx || (rx.fatal && rx.isEmpty)) return null;
    const source: SerialPortUnderlyingSource = new SerialPortUnderlyingSource(rx, this.usbSerialPort, () => {
      if (this.#source !== source) return;
      this.#readable = null;
      this.#source = null;
      this.#streamClosed();
    });
    // highWaterMark 0: pull only for a pending read (see ReceiveBuffer for where bufferSize bounds).
    this.#readable = new ReadableStream(source, { highWaterMark: 0 }) as ReadableStream<Uint8Array>;
    this.#source = source;
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> | null {
    if (this.#writable) return this.#writable;
    if (this.#state !== 'opened' || this.#rx?.fatal) return null;
    const sink: SerialPortUnderlyingSink = new SerialPortUnderlyingSink(this.usbSerialPort, () => {
      if (this.#sink !== sink) return;
      this.#writable = null;
      this.#sink = null;
      this.#streamClosed();
    });
    this.#writable = new WritableStream<Uint8Array>(sink, { highWaterMark: this.#bufferSize, size: (chunk) => chunk.byteLength });
    this.#sink = sink;
    return this.#writable;
  }

  /** https://wicg.github.io/serial/#dom-serialport-setsignals: conversion, state check (step 1), then the dictionary (step 2). */
  async setSignals(value: SerialOutputSignals = {}): Promise<void> {
    const signals = convertOutputSignals(value);
    this.#requireOpened();
    checkOutputSignals(signals);
    try {
      await this.usbSerialPort.setSignals({
        ...(signals.dataTerminalReady !== undefined ? { dtr: !!signals.dataTerminalReady } : {}),
        ...(signals.requestToSend !== undefined ? { rts: !!signals.requestToSend } : {}),
        ...(signals.break !== undefined ? { brk: !!signals.break } : {}),
      });
    } catch (err) {
      throw domError('NetworkError', `Failed to set control signals: ${(err as Error).message}`, err);
    }
  }

  async getSignals(): Promise<SerialInputSignals> {
    this.#requireOpened();
    try {
      const l = await this.usbSerialPort.getSignals();
      return { dataCarrierDetect: l.dcd, clearToSend: l.cts, ringIndicator: l.ri, dataSetReady: l.dsr };
    } catch (err) {
      throw domError('NetworkError', `Failed to get control signals: ${(err as Error).message}`, err);
    }
  }

  /**
   * Closes the port. As the spec has it, the readable and writable are canceled and aborted
   * first: a locked one (a reader or writer still holds it) makes close reject with TypeError;
   * release the locks (reader.cancel(), releaseLock()) before closing.
   */
  async close(): Promise<void> {
    if (this.#state !== 'opened') throw domError('InvalidStateError', 'The port is already closed.');
    // The reason the streams keep: a write through the old writable rejects with it.
    const closed = domError('InvalidStateError', 'The port is closed.');
    const cancel = this.#readable ? this.#readable.cancel(closed) : Promise.resolve();
    const abort = this.#writable ? this.#writable.abort(closed) : Promise.resolve();
    const pending = new Promise<void>((resolve) => {
      this.#pendingClose = resolve;
      this.#streamClosed();
    });
    this.#state = 'closing';
    try {
      await Promise.all([cancel, abort, pending]);
    } catch (err) {
      this.#pendingClose = null;
      this.#state = 'opened';
      throw err;
    }
    await this.#closePort();
  }

  /** Gives the port up: closed if open, no longer in getPorts() until requestPort picks it again. */
  async forget(): Promise<void> {
    if (this.#state === 'forgotten') return;
    await this._forceClose();
    this.#state = 'forgotten';
    this.serial._forget(this);
    // In a browser the USB permission goes too, once no other port of the device is wanted.
    if (this.serial._grantsByChooser && !this.serial._deviceStillWanted(this)) await this.serial._revoke(this);
  }

  // ---- internals ----

  /** @internal connect / disconnect: fired at the port, bubbling to the Serial. */
  _dispatchConnection(type: 'connect' | 'disconnect'): void {
    this.dispatchEvent(new SerialConnectionEvent(type, this));
  }

  /** @internal the device went away (unplug or unbind). */
  _lost(): void {
    this.#fail(new PortDisconnectedError(this.usbSerialPort.name));
    if (!this.#connected) return;
    this.#connected = false;
    // A port the page forgot is not the page's to hear about.
    if (this.#state !== 'forgotten' && !this.serial._isForgotten(this)) this._dispatchConnection('disconnect');
  }

  /** @internal close whatever is open, locks or not (forget, Serial.dispose). */
  async _forceClose(): Promise<void> {
    if (this.#state !== 'opened' && this.#state !== 'closing') return;
    this.#state = 'closing';
    const closed = domError('AbortError', 'The port was closed.');
    this.#source?.error(closed);
    this.#sink?.error(closed);
    this.#readable = null;
    this.#source = null;
    this.#writable = null;
    this.#sink = null;
    this.#rx?.discard();
    await this.#closePort();
  }

  async #closePort(): Promise<void> {
    this.#sub?.unsubscribe();
    this.#sub = null;
    const writesPending = (this.#sink?.writing ?? 0) > 0;
    try {
      if (this.usbSerialPort.portState === 'open') await this.usbSerialPort.close({ discardWrites: writesPending });
    } finally {
      this.#state = this.#state === 'forgotten' ? 'forgotten' : 'closed';
      this.#reset();
    }
  }

  #reset(): void {
    this.#rx = null;
    this.#pendingClose = null;
  }

  #requireOpened(): void {
    if (this.#state !== 'opened') throw domError('InvalidStateError', 'The port is not open.');
  }

  #onPortEvent(e: PortEvent): void {
    if (e.type === 'data') {
      this.#rx?.push(e.data, e.errors);
    } else if (e.type === 'disconnect') {
      this._lost();
    } else if (e.type === 'close' && this.#state === 'opened') {
      this.#fail(new Error('The port was closed underneath.'));
    }
  }

  /** The device is gone: the writable errors now; the readable after the bytes it still holds. */
  #fail(error: Error): void {
    const rx = this.#rx;
    if (!rx || rx.fatal || (this.#state !== 'opened' && this.#state !== 'closing')) return;
    rx.fail(error);
    this.#sink?.error(domError('NetworkError', 'The device has been lost.', error));
    this.#writable = null;
    this.#sink = null;
    this.#streamClosed();
  }

  /** The spec's "handle closing the readable/writable stream": close() waits for both. */
  #streamClosed(): void {
    if (this.#readable === null && this.#writable === null && this.#pendingClose) {
      const done = this.#pendingClose;
      this.#pendingClose = null;
      done();
    }
  }
}
