// libusb's errors (transfer status or libusb_error code) mapped onto host.ts's semantics:
// stall and babble are results, everything else a named WebUSB-style error.
import { errorMessage, usbError } from './errors.ts';
import { LIBUSB, type LibusbError } from './libusb-module.ts';

export type LibusbOutcome = { kind: 'stall' } | { kind: 'babble' } | { kind: 'error'; error: Error };

export interface LibusbErrorContext {
  /** The device was seen leaving (detach event, or gone from the list). */
  gone: boolean;
  /** Set when this layer cancelled the transfer (release/close/unplug): the error to report. */
  abortReason?: Error;
  timeoutMs?: number;
  /** Human name of the device for messages. */
  device?: string;
}

/** Maps a libusb error (transfer status or libusb_error code) onto host.ts's semantics. */
export function mapLibusbError(op: string, err: unknown, ctx: LibusbErrorContext): LibusbOutcome {
  const errno = (err as LibusbError | null)?.errno;
  const what = errorMessage(err);
  const on = ctx.device ? ` on ${ctx.device}` : '';
  const fail = (name: Parameters<typeof usbError>[0], msg: string): LibusbOutcome => ({
    kind: 'error',
    error: usbError(name, msg, err),
  });
  switch (errno) {
    case LIBUSB.TRANSFER_STALL:
    case LIBUSB.ERROR_PIPE:
      return { kind: 'stall' };
    case LIBUSB.TRANSFER_OVERFLOW:
    case LIBUSB.ERROR_OVERFLOW:
      return { kind: 'babble' };
    case LIBUSB.TRANSFER_CANCELLED:
      if (ctx.abortReason) return { kind: 'error', error: ctx.abortReason };
      if (ctx.gone) return fail('NotFoundError', `${op}${on}: device disconnected`);
      return fail('AbortError', `${op}${on}: transfer was cancelled`);
    case LIBUSB.TRANSFER_TIMED_OUT:
    case LIBUSB.ERROR_TIMEOUT:
      return fail(
        'TimeoutError',
        `${op}${on} timed out${ctx.timeoutMs ? ` after ${ctx.timeoutMs} ms` : ''}`,
      );
    case LIBUSB.TRANSFER_NO_DEVICE:
    case LIBUSB.ERROR_NO_DEVICE:
      return fail('NotFoundError', `${op}${on}: device disconnected (${what})`);
  }
  if (ctx.gone) return fail('NotFoundError', `${op}${on}: device disconnected (${what})`);
  switch (errno) {
    case LIBUSB.ERROR_BUSY:
      return fail(
        'NetworkError',
        `${op}${on} failed: resource busy (${what}); a kernel driver or another program holds it`,
      );
    case LIBUSB.ERROR_ACCESS:
      return fail(
        'NetworkError',
        `${op}${on} failed: permission denied (${what}); the device node needs a udev rule or root`,
      );
    case LIBUSB.TRANSFER_ERROR:
    case LIBUSB.ERROR_IO:
      return fail('NetworkError', `${op}${on} failed: I/O error (${what})`);
    case LIBUSB.ERROR_NOT_SUPPORTED:
      return fail('NotSupportedError', `${op}${on} is not supported here (${what})`);
  }
  if (errno === undefined && /not open/i.test(what)) {
    return fail('InvalidStateError', `${op}${on}: device is not open`);
  }
  return fail('NetworkError', `${op}${on} failed: ${what}`);
}

/** Throws the mapped error; a stall or babble outside a transfer is a NetworkError. */
export function throwMapped(op: string, err: unknown, ctx: LibusbErrorContext): never {
  const o = mapLibusbError(op, err, ctx);
  if (o.kind === 'error') throw o.error;
  throw usbError('NetworkError', `${op} failed: ${o.kind}`, err);
}
