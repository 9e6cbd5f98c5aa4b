// A Node Duplex over a usb-serial port. Backpressure both ways: when the readable buffer is
// full the port stops reading from the chip (so the chip's FIFO, then the far end's flow
// control, hold the bytes, instead of memory); a write's callback runs once the chip took the
// bytes. An unplug destroys the stream with PortDisconnectedError (a write cut short says how
// many of its bytes went out); destroying the stream closes the port.
import { Duplex } from 'node:stream';
import type { Subscription } from 'rxjs';
import { childLog } from '../log.ts';
import { PortDisconnectedError, PortStateError, type PortEvent, type UsbSerialPort } from './port.ts';
import type { AppliedSettings, LineError, ModemLines, OutputSignals, SerialSettings } from './settings.ts';

const log = childLog('serial.stream');

export interface SerialStreamOptions {
  /** Bytes the readable side buffers before the port stops reading from the chip (default 64 KiB). */
  highWaterMark?: number;
  /** Bytes the writable side buffers before write() returns false (default 64 KiB). */
  writableHighWaterMark?: number;
  /** Drop DTR and RTS when the stream closes the port (termios HUPCL; default true). */
  hupcl?: boolean;
}

export interface OpenSerialStreamOptions extends SerialStreamOptions {
  /** Raise DTR and RTS once open, as opening a tty does (default true). */
  assertSignals?: boolean;
}

/** A line error with its place in the stream: `offset` counts bytes read since the stream began. */
export interface StreamLineError extends LineError {
  offset: number;
}

export interface SerialStreamEvents {
  /** A line error among received bytes (the chunk with it was pushed just before). */
  'line-error': (error: StreamLineError, chunk: Uint8Array) => void;
  /** CTS/DSR/RI/DCD changed. */
  modem: (lines: ModemLines, changed: (keyof ModemLines)[]) => void;
  /** The adapter went away; the stream is destroyed with this error right after. */
  disconnect: (error: PortDisconnectedError) => void;
}

const EMPTY = Buffer.alloc(0);

/** Streams whose open failed: they never owned the port, so destroying them must not close it. */
const notOwners = new WeakSet<SerialStream>();

// Typed overloads for our own events, merged into the class below.
export interface SerialStream {
  on<E extends keyof SerialStreamEvents>(event: E, listener: SerialStreamEvents[E]): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once<E extends keyof SerialStreamEvents>(event: E, listener: SerialStreamEvents[E]): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off<E extends keyof SerialStreamEvents>(event: E, listener: SerialStreamEvents[E]): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
}

export class SerialStream extends Duplex {
  readonly port: UsbSerialPort;
  /** Bytes received and pushed into the readable side. */
  bytesRead = 0;
  /** Bytes the chip has taken. */
  bytesWritten = 0;
  #sub: Subscription | null;
  #readingPaused = false;
  #chunkBase = 0;
  #writesInFlight = 0;
  #disconnected = false;
  readonly #hupcl: boolean;

  /**
   * Wraps a port: open it before writing (openSerialStream does both). Subscribes at once, so
   * nothing received after the port opens is missed.
   */
  constructor(port: UsbSerialPort, options: SerialStreamOptions = {}) {
    const hupcl = options.hupcl ?? true;
    super({
      readableHighWaterMark: options.highWaterMark ?? 64 * 1024,
      writableHighWaterMark: options.writableHighWaterMark ?? 64 * 1024,
      // A serial line has no half-close: end() finishes writing; close() or destroy() closes.
      allowHalfOpen: true,
      decodeStrings: true,
    });
    this.port = port;
    this.#hupcl = hupcl;
    this.#sub = port.events.subscribe((e) => this.#onPortEvent(e));
    if (port.gone) queueMicrotask(() => this.destroy(new PortDisconnectedError(port.name)));
  }

  get settings(): AppliedSettings | null {
    return this.port.settings;
  }

  #onPortEvent(e: PortEvent): void {
    switch (e.type) {
      case 'data': {
        this.#chunkBase = this.bytesRead;
        this.bytesRead += e.data.length;
        const more = this.push(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
        if (!more && !this.#readingPaused) {
          this.#readingPaused = true;
          this.port.pauseReading();
        }
        break;
      }
      case 'line-error':
        this.emit('line-error', { ...e.error, offset: this.#chunkBase + e.error.position }, e.data);
        break;
      case 'modem':
        this.emit('modem', e.lines, e.changed);
        break;
      case 'disconnect':
        this.#noteDisconnect(e.error);
        this.destroy(e.error);
        break;
      case 'close':
        // Closed by someone else (we unsubscribe before closing it ourselves): no more data.
        if (!this.destroyed) {
          this.push(null);
          this.destroy();
        }
        break;
      case 'open':
        break;
    }
  }

  /** 'disconnect' once, whichever notices first: the port's event or a write cut short. */
  #noteDisconnect(error: PortDisconnectedError): void {
    if (this.#disconnected) return;
    this.#disconnected = true;
    log.debug({ port: this.port.name }, 'port disconnected under the stream');
    this.emit('disconnect', error);
  }

  override _read(): void {
    if (this.#readingPaused) {
      this.#readingPaused = false;
      if (this.port.isOpen) this.port.resumeReading();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (chunk.length === 0) return callback();
    this.#send(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#send(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  #send(data: Buffer, callback: (error?: Error | null) => void): void {
    let pending: Promise<number>;
    try {
      pending = this.port.write(data);
    } catch (err) {
      return callback(err as Error);
    }
    this.#writesInFlight++;
    pending.then(
      (n) => {
        this.#writesInFlight--;
        this.bytesWritten += n;
        callback();
      },
      (err: unknown) => {
        this.#writesInFlight--;
        if (err instanceof PortDisconnectedError) {
          this.bytesWritten += err.bytesWritten;
          this.#noteDisconnect(err);
        }
        callback(err as Error);
      },
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.port.isOpen) return callback();
    this.port.drain().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#sub?.unsubscribe();
    this.#sub = null;
    if (this.port.portState !== 'open' || notOwners.has(this)) return callback(error);
    this.port.close({ hupcl: this.#hupcl, discardWrites: this.#writesInFlight > 0 }).then(
      () => callback(error),
      (closeErr: unknown) => callback(error ?? (closeErr as Error)),
    );
  }

  /** Resolves once everything written so far has been taken by the chip. */
  async drain(): Promise<void> {
    if (this.destroyed) throw new PortStateError(this.port.name, 'closed', 'drain needs an open stream');
    if (!this.writableEnded) {
      await new Promise<void>((resolve, reject) => this.write(EMPTY, (err) => (err ? reject(err) : resolve())));
    }
    await this.port.drain();
  }

  /** Discards what the chip holds: `rx` received and unread, `tx` written and unsent (default both). */
  flush(what: { rx?: boolean; tx?: boolean } = { rx: true, tx: true }): Promise<void> {
    return this.port.flush(what);
  }

  setSignals(signals: OutputSignals): Promise<void> {
    return this.port.setSignals(signals);
  }

  getSignals(): Promise<ModemLines> {
    return this.port.getSignals();
  }

  /** Changes line settings (a baud rate the chip cannot do rejects with SerialSettingsError). */
  update(settings: Partial<SerialSettings>): Promise<AppliedSettings> {
    return this.port.setSettings(settings);
  }

  /**
   * Finishes writing (the chip takes everything written, for up to `drainTimeoutMs`, default
   * 30 s as Linux's closing_wait), then closes the port; what is still unsent then is discarded.
   * destroy() closes at once, discarding.
   */
  async close(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (!this.destroyed && !this.writableFinished) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.off('error', done);
          this.off('finish', done);
          resolve();
        };
        const timer = setTimeout(done, options.drainTimeoutMs ?? 30_000);
        this.once('error', done);
        this.once('finish', done);
        if (!this.writableEnded) this.end();
      });
    }
    if (!this.closed) {
      await new Promise<void>((resolve) => {
        this.once('close', () => resolve());
        this.destroy();
      });
    }
  }
}

/**
 * Opens a port and wraps it in a SerialStream. Bad settings reject with SerialSettingsError
 * (checked by the port, then by the chip driver), leaving the port closed.
 */
export async function openSerialStream(
  port: UsbSerialPort,
  settings: Partial<SerialSettings> = {},
  options: OpenSerialStreamOptions = {},
): Promise<SerialStream> {
  const stream = new SerialStream(port, options);
  try {
    await port.open(settings);
    if (options.assertSignals ?? true) await port.setSignals({ dtr: true, rts: true });
    return stream;
  } catch (err) {
    notOwners.add(stream);
    await new Promise<void>((resolve) => {
      stream.once('close', () => resolve());
      stream.on('error', () => undefined); // the caller gets err; nothing else to report
      stream.destroy();
    });
    throw err;
  }
}
