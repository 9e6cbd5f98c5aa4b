// The SerialPort's readable and writable: a bounded receive buffer between the chip and the
// readable, and the WHATWG underlying source and sink over a usb-serial port (as
// web-serial-polyfill structures it: SerialPort owns one of each per open stream).
// Browser-safe: no Node imports.
import { childLog } from '../../log.ts';
import { PortDisconnectedError, PortStateError, type UsbSerialPort } from '../port.ts';
import type { LineError, LineErrorKind } from '../settings.ts';

const log = childLog('serial.web.streams');

/** A DOMException with a spec error name; `cause` is our typed error where there is one. */
export function domError(name: string, message: string, cause?: unknown): DOMException {
  const e = new DOMException(message, name);
  if (cause !== undefined) Object.defineProperty(e, 'cause', { value: cause, configurable: true, writable: true });
  return e;
}

const ERROR_NAMES: Record<LineErrorKind, { name: string; message: string }> = {
  break: { name: 'BreakError', message: 'Break received' },
  framing: { name: 'FramingError', message: 'Framing error' },
  parity: { name: 'ParityError', message: 'Parity error' },
  overrun: { name: 'BufferOverrunError', message: 'Buffer overrun' },
};

type RxItem = { data: Uint8Array } | { error: LineErrorKind };

/**
 * What the port received and the page has not read, at most `capacity` (SerialOptions
 * bufferSize) bytes plus what the transfers in flight bring. The spec leaves the mechanism open
 * ("bufferSize: size of the read and write buffers"); Chromium reads into a data pipe of
 * bufferSize bytes and stops reading from the device while the pipe is full
 * (serial_port_underlying_source.cc, device/serial/serial_io_handler.cc). So here: once the
 * buffer holds `capacity` bytes the port stops reading from the chip (pauseReading), until the
 * page has read it down to half. The chip's FIFO then fills; with RTS/CTS the chip holds the
 * sender off, without it the chip reports an overrun, which arrives as BufferOverrunError at
 * its place in the data.
 * The readable itself has highWaterMark 0 (Chromium's byte stream has none either): it pulls
 * only for a pending read, so a line error is raised exactly after the bytes before it.
 */
export class ReceiveBuffer {
  #items: RxItem[] = [];
  #bytes = 0;
  #paused = false;
  #fatal: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(
    private readonly port: UsbSerialPort,
    readonly capacity: number,
  ) {}

  /** Bytes held (not counting errors). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The device was lost: the readable errors once the bytes before are read. */
  get fatal(): Error | null {
    return this.#fatal;
  }

  get isEmpty(): boolean {
    return this.#items.length === 0;
  }

  /** Received data, split at its line errors so each error lands between the right bytes. */
  push(data: Uint8Array, errors: readonly LineError[]): void {
    let at = 0;
    const byPos = new Map<number, LineErrorKind[]>();
    for (const e of errors) byPos.set(e.position, [...(byPos.get(e.position) ?? []), e.kind]);
    for (const pos of [...byPos.keys()].sort((a, b) => a - b)) {
      const kinds = byPos.get(pos)!;
      if (pos > at) this.#add({ data: data.subarray(at, pos) });
      if (kinds.includes('overrun')) this.#add({ error: 'overrun' }); // bytes were lost before this one
      // The byte a parity, framing or break error lands on is not data: it is dropped.
      const bad = (['break', 'framing', 'parity'] as const).find((k) => kinds.includes(k));
      if (bad) this.#add({ error: bad });
      at = bad ? pos + 1 : pos;
    }
    if (at < data.length) this.#add({ data: at === 0 ? data : data.subarray(at) });
    if (this.#bytes >= this.capacity && !this.#paused && this.port.isOpen) {
      this.#paused = true;
      this.port.pauseReading();
    }
    this.#wakeUp();
  }

  #add(item: RxItem): void {
    this.#items.push(item);
    if ('data' in item) this.#bytes += item.data.length;
  }

  shift(): RxItem | undefined {
    const head = this.#items.shift();
    if (head && 'data' in head) {
      this.#bytes -= head.data.length;
      this.#resumeIfDrained();
    }
    return head;
  }

  fail(error: Error): void {
    this.#fatal ??= error;
    this.#wakeUp();
  }

  /** Drops what is held (readable.cancel()). */
  discard(): void {
    this.#items = [];
    this.#bytes = 0;
    this.#resumeIfDrained();
    this.#wakeUp();
  }

  /** Resolves at the next push, failure or discard. */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wake = resolve));
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #resumeIfDrained(): void {
    if (this.#paused && this.#bytes <= this.capacity / 2) {
      this.#paused = false;
      if (this.port.isOpen) this.port.resumeReading();
    }
  }
}

/**
 * The readable's underlying byte source (https://wicg.github.io/serial/#readable-attribute,
 * https://streams.spec.whatwg.org/#underlying-source-api). Each pull hands over the next chunk
 * of the receive buffer; a line error errors the stream with its named DOMException (the port
 * then offers a new readable for the bytes after it); a lost device errors it with NetworkError
 * once the buffered bytes are read.
 */
export class SerialPortUnderlyingSource implements UnderlyingByteSource {
  readonly type = 'bytes' as const;
  #controller: ReadableByteStreamController | null = null;

  constructor(
    private readonly rx: ReceiveBuffer,
    private readonly port: UsbSerialPort,
    /** The spec's "handle closing the readable stream": the port lets go of this readable. */
    private readonly onClosed: () => void,
  ) {}

  start(controller: ReadableByteStreamController): void {
    this.#controller = controller;
  }

  async pull(controller: ReadableByteStreamController): Promise<void> {
    for (;;) {
      if (this.#controller !== controller) return; // canceled or closed meanwhile
      const head = this.rx.shift();
      if (head && 'data' in head) {
        controller.enqueue(head.data.slice()); // a copy: enqueue detaches the buffer it is given
        return;
      }
      if (head) {
        const { name, message } = ERROR_NAMES[head.error];
        this.#finish(domError(name, message));
        return;
      }
      if (this.rx.fatal) {
        this.#finish(domError('NetworkError', 'The device has been lost.', this.rx.fatal));
        return;
      }
      await this.rx.wait();
    }
  }

  /** readable.cancel(): per spec, what was received and not read is discarded, here and in the chip. */
  async cancel(): Promise<void> {
    if (!this.#controller) return;
    this.#controller = null;
    this.rx.discard();
    if (this.port.isOpen) await this.port.flush({ rx: true }).catch((err: unknown) => log.debug({ err }, 'rx purge on cancel failed'));
    this.onClosed();
  }

  /** The port closes by force (forget, dispose): the readable errors with `reason`. */
  error(reason: unknown): void {
    const c = this.#controller;
    this.#controller = null;
    try {
      c?.error(reason);
    } catch {
      // already errored or closed
    }
  }

  #finish(error: DOMException): void {
    const c = this.#controller!;
    this.#controller = null;
    c.error(error);
    this.onClosed();
  }
}

/**
 * The writable's underlying sink (https://wicg.github.io/serial/#writable-attribute,
 * https://streams.spec.whatwg.org/#underlying-sink-api).
 * - write: hands the chunk to the port; resolves when the chip took it.
 * - close (writer.close()): resolves only once the chip has sent everything (port.drain()).
 * - abort (writer.abort(reason)): the streams standard runs the sink's abort only after the
 *   write in flight settles, so the write listens to the controller's signal itself: on abort it
 *   rejects at once with the abort reason and the port discards the queued and in-flight writes
 *   and purges the chip's TX (port.discardWrites), so bytes stop going out at once.
 */
export class SerialPortUnderlyingSink implements UnderlyingSink<Uint8Array> {
  #controller: WritableStreamDefaultController | null = null;
  /** Writes running (for the port's close: a write held by flow control must be discarded). */
  writing = 0;

  constructor(
    private readonly port: UsbSerialPort,
    /** The spec's "handle closing the writable stream". */
    private readonly onClosed: () => void,
  ) {}

  start(controller: WritableStreamDefaultController): void {
    this.#controller = controller;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const bytes = toBytes(chunk);
    const signal = this.#controller?.signal;
    if (signal?.aborted) throw signal.reason;
    this.writing++;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        reject(signal!.reason);
        void this.#discard(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      const written = this.port.write(bytes);
      // After an abort the race is decided; the port's write then rejects (WriteAbortedError)
      // with nobody left to hear it.
      written.catch(() => undefined);
      await Promise.race([written, aborted]);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      this.onClosed();
      if (err instanceof PortDisconnectedError) throw domError('NetworkError', err.message, err);
      if (err instanceof PortStateError) throw domError('InvalidStateError', err.message, err);
      throw domError('UnknownError', (err as Error).message, err);
    } finally {
      this.writing--;
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** writer.close(): everything written has left the chip. */
  async close(): Promise<void> {
    try {
      await this.port.drain();
    } finally {
      this.onClosed();
    }
  }

  /** writer.abort() with no write in flight: what the chip still holds is discarded. */
  async abort(reason: unknown): Promise<void> {
    try {
      await this.#discard(reason);
    } finally {
      this.onClosed();
    }
  }

  /** The port closes by force, or the device is lost: the writable errors with `reason`. */
  error(reason: unknown): void {
    try {
      this.#controller?.error(reason);
    } catch {
      // already errored
    }
  }

  async #discard(reason: unknown): Promise<void> {
    if (!this.port.isOpen) return;
    await this.port.discardWrites(reason).catch((err: unknown) => log.debug({ err }, 'discarding writes failed'));
  }
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError('The provided value is not of type (ArrayBuffer or ArrayBufferView).');
}
