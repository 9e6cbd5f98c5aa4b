// A usb-serial port: a device on the usb-serial bus (Linux: usb_serial_port, ttyUSB<n>), one
// per interface or channel of a bound adapter: its state machine, settings, signals, writes,
// drain, discarding writes, and the events its users see.
import { Subject, type Observable } from 'rxjs';
import { CoreError, Device } from '../core/index.ts';
import { childLog } from '../log.ts';
import type { PortCapabilities, PortSink } from './port-ops.ts';
import {
  normalizeSettings,
  type AppliedSettings,
  type LineError,
  type ModemLines,
  type OutputSignals,
  type SerialSettings,
} from './settings.ts';
import type { UsbDeviceId } from '../usb/ids.ts';
import type { UsbDevice, UsbInterface } from '../usb/device.ts';
import type { SerialDriver } from './driver.ts';

/** One bound adapter interface (Linux: struct usb_serial). */
export class UsbSerial {
  readonly ports: UsbSerialPort[] = [];
  /** Whatever the serial driver keeps for the whole adapter (chip type, quirks...). */
  driverData: unknown = undefined;

  constructor(
    readonly intf: UsbInterface,
    readonly type: SerialDriver,
    readonly id: UsbDeviceId | null,
  ) {}

  get usbDevice(): UsbDevice {
    return this.intf.usbDevice;
  }

  get gone(): boolean {
    return this.intf.usbDevice.gone;
  }
}

const log = childLog('serial.port');

export type PortState = 'closed' | 'opening' | 'open' | 'closing';

export type PortEvent =
  | { type: 'data'; data: Uint8Array; errors: readonly LineError[] }
  | { type: 'line-error'; error: LineError; data: Uint8Array }
  | { type: 'modem'; lines: ModemLines; changed: (keyof ModemLines)[] }
  | { type: 'disconnect'; error: PortDisconnectedError }
  | { type: 'open'; settings: AppliedSettings }
  | { type: 'close' };

/** The port's adapter was unplugged (or unbound) while in use. */
export class PortDisconnectedError extends CoreError {
  constructor(
    readonly port: string,
    /** For a write cut short: how many bytes the chip had taken. */
    readonly bytesWritten = 0,
    options?: { cause?: unknown },
  ) {
    super(
      'ENODEV',
      `port ${port} was disconnected${bytesWritten ? ` after ${bytesWritten} bytes of the write went out` : ''}`,
      options,
    );
  }
}

/** A write cut short by discardWrites: `bytesWritten` of it reached the chip, the rest was dropped. */
export class WriteAbortedError extends Error {
  override readonly name = 'WriteAbortedError';
  readonly code = 'ECANCELED';
  /** node-serialport's mark for an operation cancelled on purpose. */
  readonly canceled = true;
  constructor(
    readonly port: string,
    readonly bytesWritten: number,
    options?: { cause?: unknown },
  ) {
    super(`write on ${port} was discarded after ${bytesWritten} bytes reached the chip`, options);
  }
}

export class PortStateError extends CoreError {
  constructor(port: string, state: PortState | 'gone', wanted: string) {
    super('EBUSY', `port ${port} is ${state}; ${wanted}`);
  }
}

/** Bytes per write handed to the chip driver at once, so a disconnect can say how far it got. */
const WRITE_CHUNK = 16384;

export class UsbSerialPort extends Device {
  #state: PortState = 'closed';
  #settings: AppliedSettings | null = null;
  #lines: ModemLines | null = null;
  #events = new Subject<PortEvent>();
  #writing: Promise<unknown> = Promise.resolve();
  /** Control calls running now (through call()): close waits for them. */
  readonly #calls = new Set<Promise<unknown>>();
  #gone = false;
  /** Bumped by discardWrites: writes started under an older value are discarded. */
  #writeEpoch = 0;
  #discardReason: unknown = undefined;
  /** Counters for tests and the stress harness. */
  readonly stats = { bytesRead: 0, bytesWritten: 0, lineErrors: 0 };

  constructor(
    readonly serial: UsbSerial,
    /** Index of the port within its adapter interface. */
    readonly portNumber: number,
    /** ttyUSB<minor>. */
    readonly minor: number,
  ) {
    super(`ttyUSB${minor}`, serial.intf);
  }

  /** Everything that happens on the port, in order. */
  get events(): Observable<PortEvent> {
    return this.#events.asObservable();
  }

  /** closed / opening / open / closing (the device-model state is `state`). */
  get portState(): PortState {
    return this.#state;
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** Whether the adapter is gone (unplugged or unbound); the port can no longer be opened. */
  get gone(): boolean {
    return this.#gone || this.serial.gone;
  }

  get settings(): AppliedSettings | null {
    return this.#settings;
  }

  /** The last modem lines the chip reported. */
  get modemLines(): ModemLines | null {
    return this.#lines;
  }

  async open(options: Partial<SerialSettings> = {}): Promise<AppliedSettings> {
    const ops = this.ops();
    if (this.gone) throw new PortDisconnectedError(this.name);
    if (this.#state !== 'closed') throw new PortStateError(this.name, this.#state, 'open needs a closed port');
    const settings = normalizeSettings(options);
    this.#state = 'opening';
    try {
      const applied = await ops.open(this, settings, this.sink());
      if (this.#state !== 'opening') throw new PortDisconnectedError(this.name); // unplugged meanwhile
      this.#settings = applied;
      this.#state = 'open';
      this.#events.next({ type: 'open', settings: applied });
      return applied;
    } catch (err) {
      if (this.#state === 'opening') {
        this.#state = 'closed';
        await ops.close(this).catch(() => undefined);
      }
      throw this.disconnectedOr(err);
    }
  }

  /**
   * Closes the port. Queued writes get up to `closingWaitMs` (Linux's closing_wait, 30 s by
   * default) to go out; after that the port closes anyway, so a write held by flow control
   * cannot hang the close: the write then rejects with how far it got. `hupcl: false` leaves
   * DTR and RTS as they are (Linux: HUPCL clear); by default close drops them. With
   * `discardWrites` the pending and queued writes are not waited for: they are discarded first,
   * as discardWrites() does (Web Serial's close with a writer aborted, a stream destroyed).
   */
  async close(options: { closingWaitMs?: number; hupcl?: boolean; discardWrites?: boolean } = {}): Promise<void> {
    if (this.#state === 'closed') return;
    if (this.#state === 'closing') throw new PortStateError(this.name, 'closing', 'close is already running');
    if (options.discardWrites && this.#state === 'open' && !this.gone) {
      await this.discardWrites(new PortStateError(this.name, 'closing', 'the write was discarded by close')).catch((err: unknown) => log.debug({ err, port: this.name }, 'discarding writes at close failed'));
    }
    this.#state = 'closing';
    // Control calls already running (signals, settings, modem lines, purge) finish before the chip
    // is closed and its interface let go, as the tty lock orders ioctls and close in Linux; new
    // ones are refused from here on (requireOpen).
    await Promise.allSettled([...this.#calls]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#writing.catch(() => undefined),
      new Promise<void>((r) => (timer = setTimeout(r, options.closingWaitMs ?? 30_000))),
    ]);
    clearTimeout(timer);
    try {
      if (!this.gone) await this.ops().close(this, { hupcl: options.hupcl ?? true });
    } finally {
      this.#state = 'closed';
      this.#settings = null;
      this.#events.next({ type: 'close' });
    }
  }

  async setSettings(options: Partial<SerialSettings>): Promise<AppliedSettings> {
    this.requireOpen('setSettings');
    const settings = normalizeSettings(options, this.#settings ?? undefined);
    this.#settings = await this.call(() => this.ops().setSettings(this, settings));
    return this.#settings;
  }

  async setSignals(signals: OutputSignals): Promise<void> {
    this.requireOpen('setSignals');
    await this.call(() => this.ops().setSignals(this, signals));
  }

  async getSignals(): Promise<ModemLines> {
    this.requireOpen('getSignals');
    const lines = await this.call(() => this.ops().getModemLines(this));
    this.noteModem(lines);
    return lines;
  }

  /** Discards buffered data: `rx` received and unread, `tx` written and unsent. */
  async flush(what: { rx?: boolean; tx?: boolean } = { rx: true, tx: true }): Promise<void> {
    this.requireOpen('flush');
    await this.call(() => this.ops().purge(this, { rx: what.rx ?? false, tx: what.tx ?? false }));
  }

  /**
   * Writes bytes; resolves with the count once the chip has taken them all. Writes are queued
   * in order. On unplug it rejects with PortDisconnectedError saying how many bytes went out.
   */
  write(data: Uint8Array): Promise<number> {
    this.requireOpen('write');
    const epoch = this.#writeEpoch;
    const run = this.#writing.catch(() => undefined).then(() => this.writeNow(data, epoch));
    this.#writing = run;
    return run;
  }

  /**
   * Resolves when every queued write has left the chip: the chip's transmitter-empty status where
   * it has one, else the time its FIFO takes at the line rate (usb_serial_generic_wait_until_sent).
   */
  async drain(): Promise<void> {
    await this.#writing.catch(() => undefined);
    if (this.#state === 'open' && !this.gone) await this.ops().waitUntilSent?.(this);
  }

  /**
   * Discards every pending and queued write: the bulk-OUT transfer in flight is cancelled, then
   * the chip's transmit FIFO purged, so nothing of those writes reaches the line once this
   * resolves. Each of their promises rejects with WriteAbortedError (cause: `reason`). The port
   * stays open.
   */
  async discardWrites(reason?: unknown): Promise<void> {
    this.requireOpen('discardWrites');
    this.#writeEpoch++;
    this.#discardReason = reason;
    const ops = this.ops();
    if (ops.cancelWrites) await ops.cancelWrites(this);
    else await ops.purge(this, { rx: false, tx: true });
    await this.#writing.catch(() => undefined);
  }

  /** What the chip can do (refusals for the rest are typed errors). */
  get capabilities(): PortCapabilities | undefined {
    return this.serial.type.spec.port?.capabilities?.(this);
  }

  /** Backpressure: stop / restart reading from the chip. */
  pauseReading(): void {
    this.serial.type.spec.port?.pauseReading?.(this);
  }

  resumeReading(): void {
    this.serial.type.spec.port?.resumeReading?.(this);
  }

  /**
   * @internal the adapter is going (unplug or unbind): the port closes with a clear error and
   * its user hears `disconnect`. Called by usb-serial before the driver's own disconnect.
   */
  markGone(): void {
    if (this.#gone) return;
    this.#gone = true;
    const error = new PortDisconnectedError(this.name);
    const wasOpen = this.#state !== 'closed';
    this.#state = 'closed';
    this.#settings = null;
    this.#events.next({ type: 'disconnect', error });
    if (wasOpen) this.#events.next({ type: 'close' });
    this.#events.complete();
  }

  private async writeNow(data: Uint8Array, epoch: number): Promise<number> {
    let sent = 0;
    const discarded = () => new WriteAbortedError(this.name, sent, { cause: this.#discardReason });
    while (sent < data.length) {
      if (epoch !== this.#writeEpoch) throw discarded();
      if (this.gone) throw new PortDisconnectedError(this.name, sent);
      if (this.#state !== 'open') throw new PortStateError(this.name, this.#state, 'the port closed during the write');
      const chunk = data.subarray(sent, sent + WRITE_CHUNK);
      let taken = 0;
      try {
        await this.ops().write(this, chunk, (n) => {
          taken += n;
          this.stats.bytesWritten += n;
        });
      } catch (err) {
        sent += taken;
        if (this.gone || (err as { name?: string })?.name === 'NotFoundError') throw new PortDisconnectedError(this.name, sent);
        if (epoch !== this.#writeEpoch) throw discarded();
        throw err;
      }
      // Drivers that report no progress: the whole chunk was taken.
      if (taken === 0) this.stats.bytesWritten += chunk.length;
      sent += chunk.length;
    }
    return sent;
  }

  private sink(): PortSink {
    return {
      data: (data, errors) => {
        if (this.#state === 'closed' || this.#gone) return;
        this.stats.bytesRead += data.length;
        this.#events.next({ type: 'data', data, errors });
        for (const error of errors) {
          this.stats.lineErrors++;
          this.#events.next({ type: 'line-error', error, data });
        }
      },
      modem: (lines) => this.noteModem(lines),
      failed: (error) => {
        log.debug({ port: this.name, err: error }, 'read side failed');
        this.markGone();
      },
    };
  }

  private noteModem(lines: ModemLines): void {
    const prev = this.#lines;
    this.#lines = { ...lines };
    const changed = (['cts', 'dsr', 'ri', 'dcd'] as const).filter((k) => !prev || prev[k] !== lines[k]);
    if (prev && changed.length && !this.#gone) this.#events.next({ type: 'modem', lines: { ...lines }, changed });
  }

  /**
   * Unplugged or unbound under a call: the backend's error (a closed handle, an aborted transfer,
   * a vanished device) is a symptom; the user gets the port's own error, from every call alike.
   */
  private async call<T>(op: () => Promise<T>): Promise<T> {
    const running = op();
    this.#calls.add(running);
    try {
      return await running;
    } catch (err) {
      throw this.disconnectedOr(err);
    } finally {
      this.#calls.delete(running);
    }
  }

  private disconnectedOr(err: unknown): unknown {
    if (!(err instanceof PortDisconnectedError) && (this.gone || (err as { name?: string })?.name === 'NotFoundError')) {
      return new PortDisconnectedError(this.name, 0, { cause: err });
    }
    return err;
  }

  private requireOpen(what: string): void {
    if (this.gone) throw new PortDisconnectedError(this.name);
    if (this.#state !== 'open') throw new PortStateError(this.name, this.#state, `${what} needs an open port`);
  }

  private ops() {
    const ops = this.serial.type.spec.port;
    if (!ops) throw new CoreError('EINVAL', `serial driver '${this.serial.type.name}' has no port operations`);
    return ops;
  }

  /** The serial driver's type name (what the usb-serial bus matches ports by). */
  get typeName(): string {
    return this.serial.type.name;
  }

  /**
   * A stable name for the port: the adapter's serial number and interface when it has a serial
   * number, else its bus/port path and interface (ttyUSB numbers change across plugs).
   */
  get stablePath(): string {
    const dev = this.serial.usbDevice;
    const where = dev.serialNumber ? `serial:${dev.serialNumber}` : `port:${dev.name}`;
    const port = this.serial.ports.length > 1 ? `.${this.portNumber}` : '';
    return `${where}:if${this.serial.intf.interfaceNumber}${port}`;
  }
}
