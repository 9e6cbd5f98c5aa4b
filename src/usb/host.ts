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
