// Control transfers of one adapter (Linux: usb_control_msg as the chip drivers wrap it). A gone
// device becomes PortDisconnectedError when a port is named; a stall or a short answer becomes
// the chip's own error through `fail`, or UsbSerialControlError. Multi-request sequences that
// must not interleave (a read-modify-write, a line-settings change with its read-back) run
// through `serialize`.
import { transferErrorKind } from '../../usb/host.ts';
import { PortDisconnectedError, type UsbSerialPort } from '../port.ts';

export interface ControlSetup {
  readonly requestType: USBRequestType;
  readonly recipient: USBRecipient;
  readonly request: number;
  readonly value: number;
  readonly index: number;
}

/** Why a control request failed: the transfer status, or 'short' with the byte count. */
export type ControlFailure = { status: USBTransferStatus } | { status: 'short'; got: number; wanted: number };

/** A control request the chip refused or answered wrongly. */
export class UsbSerialControlError extends Error {
  override readonly name = 'UsbSerialControlError';
  constructor(
    readonly what: string,
    readonly failure: ControlFailure,
  ) {
    super(`${what}: ${failure.status === 'short' ? `${failure.got} of ${failure.wanted} bytes` : `answered ${failure.status}`}`);
  }
}

export interface ControlRequestOptions {
  /** Names the request in errors and logs. */
  what: string;
  /** The port the request serves: a gone device then rejects with its PortDisconnectedError. */
  port?: UsbSerialPort;
  /** Builds the chip's own error for a refused or short request. */
  fail?(failure: ControlFailure): Error;
}

export class UsbSerialControl {
  #tail: Promise<unknown> = Promise.resolve();

  constructor(readonly usb: USBDevice) {}

  /** Runs `fn` after every sequence queued before it (failures do not block the queue). */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async out(setup: ControlSetup, o: ControlRequestOptions, data?: Uint8Array): Promise<void> {
    let r: USBOutTransferResult;
    try {
      r = await this.usb.controlTransferOut(params(setup), data as Uint8Array<ArrayBuffer> | undefined);
    } catch (err) {
      throw gone(err, o.port);
    }
    if (r.status !== 'ok') throw failed(o, { status: r.status });
  }

  /** An IN request; answers shorter than `length` are refused. */
  async in(setup: ControlSetup, length: number, o: ControlRequestOptions): Promise<Uint8Array> {
    let r: USBInTransferResult;
    try {
      r = await this.usb.controlTransferIn(params(setup), length);
    } catch (err) {
      throw gone(err, o.port);
    }
    if (r.status !== 'ok' || !r.data) throw failed(o, { status: r.status });
    if (r.data.byteLength < length) throw failed(o, { status: 'short', got: r.data.byteLength, wanted: length });
    return new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength).slice();
  }
}

function params(s: ControlSetup): USBControlTransferParameters {
  return { requestType: s.requestType, recipient: s.recipient, request: s.request, value: s.value, index: s.index };
}

function failed(o: ControlRequestOptions, f: ControlFailure): Error {
  return o.fail?.(f) ?? new UsbSerialControlError(o.what, f);
}

/** A backend error that says the device is gone becomes the port's PortDisconnectedError. */
export function gone(err: unknown, port: UsbSerialPort | undefined): unknown {
  return port && transferErrorKind(err) === 'disconnected' ? new PortDisconnectedError(port.name, 0, { cause: err }) : err;
}
