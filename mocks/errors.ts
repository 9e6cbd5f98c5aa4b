// Typed errors of the mock lab. Misuse of the lab (plugging twice, a bad descriptor, bad lsusb
// text) throws these synchronously; WebUSB-level failures are DOMException-named errors instead
// (see webUsbError), because that is what drivers see from real backends.

/** Base class: every error the lab itself raises (not the emulated WebUSB ones). */
export class MockLabError extends Error {
  override name = 'MockLabError';
}

/** A descriptor set that no real device could have (duplicate interface, endpoint 0, ...). */
export class DescriptorError extends MockLabError {
  override name = 'DescriptorError';
}

/** plug() of a device that is already plugged into some host. */
export class AlreadyPluggedError extends MockLabError {
  override name = 'AlreadyPluggedError';
}

/** unplug() of a device that is not plugged into this host. */
export class NotPluggedError extends MockLabError {
  override name = 'NotPluggedError';
}

/** A port path that is malformed or already occupied. */
export class PortPathError extends MockLabError {
  override name = 'PortPathError';
}

/** A fault rule that cannot apply (babble on an OUT transfer, endpoint on control, ...). */
export class FaultSpecError extends MockLabError {
  override name = 'FaultSpecError';
}

/** The mock kernel driver refused detach/attach (nothing bound, interface claimed, ...). */
export class KernelDriverError extends MockLabError {
  override name = 'KernelDriverError';
  constructor(
    /** libusb's words: NOT_FOUND (nothing bound / no such interface), BUSY (bound, or claimed), NOT_OPEN. */
    readonly code: 'NOT_FOUND' | 'BUSY' | 'NOT_OPEN',
    message: string,
  ) {
    super(message);
  }
}

/** Misuse of emulated UART wiring (a port wired twice, bad line settings). */
export class UartError extends MockLabError {
  override name = 'UartError';
}

/** `lsusb -v` text that does not parse; names the 1-based line. */
export class LsusbParseError extends MockLabError {
  override name = 'LsusbParseError';
  constructor(
    readonly lineNumber: number,
    readonly line: string,
    readonly reason: string,
  ) {
    super(`lsusb text, line ${lineNumber}: ${reason}${line ? ` (${JSON.stringify(line.trim())})` : ''}`);
  }
}

/**
 * A second concurrent transfer on one endpoint when the host allows one in flight (nusb, i.e. the
 * `usb` package 3.x). nusb reports it as "endpoint not found"; the message keeps those words so
 * code matching on them behaves the same, and the name lets tests tell it from a real NotFoundError
 * (transferErrorKind() classifies it as 'other': a driver bug, not a disconnect).
 */
export class TransferLimitError extends Error {
  override name = 'TransferLimitError';
  constructor(
    readonly endpointAddress: number,
    readonly limit: number,
  ) {
    super(
      `endpoint not found: endpoint 0x${endpointAddress.toString(16).padStart(2, '0')} already has ` +
        `${limit} transfer${limit === 1 ? '' : 's'} in flight and this host allows no more (nusb semantics)`,
    );
  }
}

export type WebUsbErrorName =
  | 'NotFoundError'
  | 'InvalidStateError'
  | 'NetworkError'
  | 'TimeoutError'
  | 'AbortError'
  | 'IndexSizeError'
  | 'InvalidAccessError'
  | 'NotSupportedError'
  | 'SecurityError'
  | 'DataError';

/**
 * The error a browser's WebUSB would reject with: a DOMException, whose name is what
 * src/usb/host.ts's transferErrorKind() reads.
 */
export function webUsbError(name: WebUsbErrorName, message: string): DOMException {
  return new DOMException(message, name);
}
