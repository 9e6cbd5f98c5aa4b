// The errors every backend rejects with: WebUSB's DOMException names (the transfer kinds carry
// host.ts's classification too) and a backend failure outside a transfer. Browser-safe.
import { transferError, type TransferErrorKind } from '../host.ts';

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
