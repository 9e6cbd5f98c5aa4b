// The one small interface every host backend implements: the `usb` package (libusb 2.x or
// nusb 3.x), the browser's navigator.usb, and the mock lab. Everything above it speaks WebUSB.

/** Where a device hangs on the bus, when the backend knows it (Linux: 1-2.3 is bus 1, ports 2,3). */
export interface UsbLocation {
  busNumber: number;
  portNumbers: number[];
  deviceAddress?: number;
}

/** Formats a location the way Linux names devices in sysfs: `1-2.3`. */
export function formatPortPath(loc: UsbLocation): string {
  return `${loc.busNumber}-${loc.portNumbers.length ? loc.portNumbers.join('.') : '0'}`;
}

/** Kernel-driver control for one device (Linux backends only). */
export interface KernelDriverControl {
  isActive(interfaceNumber: number): Promise<boolean>;
  detach(interfaceNumber: number): Promise<void>;
  attach(interfaceNumber: number): Promise<void>;
}

/**
 * A device as a backend presents it: a WebUSB USBDevice plus what WebUSB leaves out.
 * The same HostDevice object is handed out for connect, getDevices and disconnect of one
 * physical attachment, so identity comparison works.
 */
export interface HostDevice {
  /** Unique while attached, stable for the attachment: e.g. `libusb:1-2.3@5`, `mock:7`. */
  readonly key: string;
  readonly usb: USBDevice;
  readonly location?: UsbLocation;
  readonly kernelDriver?: KernelDriverControl;
  /**
   * How many transferIn calls may be pending on one IN endpoint at once. libusb keeps
   * several in flight (the read pipeline depends on it); nusb 3.x allows only one.
   */
  readonly maxTransfersInFlight: number;
  /**
   * The raw device descriptor, where the backend has it without touching the device (libusb,
   * mocks). WebUSB leaves out bMaxPacketSize0 and iSerialNumber; drivers that need them read
   * the descriptor (readDeviceDescriptor in src/usb/descriptors.ts) when this is absent.
   */
  readonly deviceDescriptor?: RawDeviceDescriptor;
}

/** The 18-byte USB device descriptor, decoded. */
export interface RawDeviceDescriptor {
  bcdUSB: number;
  bDeviceClass: number;
  bDeviceSubClass: number;
  bDeviceProtocol: number;
  bMaxPacketSize0: number;
  idVendor: number;
  idProduct: number;
  bcdDevice: number;
  iManufacturer: number;
  iProduct: number;
  iSerialNumber: number;
  bNumConfigurations: number;
}

export type HostEvent =
  | { type: 'connect'; device: HostDevice }
  | { type: 'disconnect'; device: HostDevice };

export interface HostBackend {
  readonly name: string;
  /** Devices attached now. Rejects with NoUsbSubsystemError where the machine has no USB. */
  getDevices(): Promise<HostDevice[]>;
  /**
   * Starts watching connect/disconnect; resolves once the watcher is live (events after that
   * are never missed). The returned function stops watching.
   */
  watch(listener: (event: HostEvent) => void): Promise<() => void>;
  /** Releases the backend (timers, native handles). */
  close(): Promise<void>;
}

/** The machine has no USB subsystem (no /sys/bus/usb, libusb could not start, ...). */
export class NoUsbSubsystemError extends Error {
  override readonly name = 'NoUsbSubsystemError';
  constructor(
    readonly backend: string,
    readonly detail: string,
  ) {
    super(
      `no USB subsystem on this machine for backend '${backend}' (${detail}); ` +
        `run with --mock-lab to use the built-in emulated devices`,
    );
  }
}

/*
 * Transfer semantics every backend normalises to (the WebUSB spec's, plus a timeout):
 * - a stall resolves with `status: 'stall'` (nusb's "endpoint stalled" rejection is mapped);
 * - a short packet resolves 'ok' with fewer bytes; a babble resolves with status 'babble';
 * - the device gone rejects with an error named 'NotFoundError';
 * - a transfer that timed out rejects with an error named 'TimeoutError' (the upper layers
 *   resubmit IN transfers on it: an idle IN endpoint is not a fault);
 * - a transfer cut short by releaseInterface/close rejects with an error named 'AbortError'.
 */
export type TransferErrorKind = 'disconnected' | 'timeout' | 'aborted' | 'other';

export function transferErrorKind(err: unknown): TransferErrorKind {
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'NotFoundError') return 'disconnected';
  if (name === 'TimeoutError') return 'timeout';
  if (name === 'AbortError') return 'aborted';
  return 'other';
}

/** An Error with a DOMException-like name, for backends and mocks to reject with. */
export function transferError(kind: Exclude<TransferErrorKind, 'other'>, message: string): Error {
  const e = new Error(message);
  e.name = { disconnected: 'NotFoundError', timeout: 'TimeoutError', aborted: 'AbortError' }[kind];
  return e;
}

/** Picks the device-descriptor fields out of a backend's own descriptor object (same names). */
export function toRawDeviceDescriptor(
  d: Omit<RawDeviceDescriptor, 'bNumConfigurations'>,
  bNumConfigurations: number,
): RawDeviceDescriptor {
  return {
    bcdUSB: d.bcdUSB,
    bDeviceClass: d.bDeviceClass,
    bDeviceSubClass: d.bDeviceSubClass,
    bDeviceProtocol: d.bDeviceProtocol,
    bMaxPacketSize0: d.bMaxPacketSize0,
    idVendor: d.idVendor,
    idProduct: d.idProduct,
    bcdDevice: d.bcdDevice,
    iManufacturer: d.iManufacturer,
    iProduct: d.iProduct,
    iSerialNumber: d.iSerialNumber,
    bNumConfigurations,
  };
}
