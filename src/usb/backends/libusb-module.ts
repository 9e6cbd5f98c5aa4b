// The part of the `usb` 2.x module (libusb) the libusb backend uses, structural so tests can pass
// a fake, with libusb's ABI numbers and the loader that checks libusb initialised.
import { NoUsbSubsystemError } from '../host.ts';
import { HostBackendError, errorMessage } from './errors.ts';
import { importNative } from './native-import.ts';

export interface LibusbEndpointDescriptor {
  bEndpointAddress: number;
  bmAttributes: number;
  wMaxPacketSize: number;
}

export interface LibusbInterfaceDescriptor {
  bInterfaceNumber: number;
  bAlternateSetting: number;
  bInterfaceClass: number;
  bInterfaceSubClass: number;
  bInterfaceProtocol: number;
  iInterface: number;
  endpoints: LibusbEndpointDescriptor[];
}

export interface LibusbConfigDescriptor {
  bConfigurationValue: number;
  iConfiguration: number;
  /** One entry per interface; each lists that interface's alternate settings. */
  interfaces: LibusbInterfaceDescriptor[][];
}

export interface LibusbDeviceDescriptor {
  bcdUSB: number;
  bDeviceClass: number;
  bDeviceSubClass: number;
  bDeviceProtocol: number;
  idVendor: number;
  idProduct: number;
  bcdDevice: number;
  iManufacturer: number;
  iProduct: number;
  iSerialNumber: number;
  /** Present in the real package (and what WebUSB leaves out); optional for fakes. */
  bMaxPacketSize0?: number;
  bNumConfigurations?: number;
}

export type ErrCallback = (error?: LibusbError | null) => void;

/** A libusb error as the package throws or passes it: message = libusb_error_name, errno set. */
export interface LibusbError extends Error {
  errno?: number;
}

export interface LibusbLegacyDevice {
  readonly busNumber: number;
  readonly deviceAddress: number;
  readonly portNumbers?: number[];
  readonly deviceDescriptor: LibusbDeviceDescriptor;
  /** Active configuration (a getter in the package; undefined when unconfigured). */
  readonly configDescriptor?: LibusbConfigDescriptor;
  readonly allConfigDescriptors: LibusbConfigDescriptor[];
  /** Control transfer timeout in ms. */
  timeout: number;
  __open(): void;
  __close(): void;
  __setConfiguration(value: number, cb: ErrCallback): void;
  __claimInterface(interfaceNumber: number): void;
  __releaseInterface(interfaceNumber: number, cb: ErrCallback): void;
  __setInterface(interfaceNumber: number, alternate: number, cb: ErrCallback): void;
  __clearHalt(endpointAddress: number, cb: ErrCallback): void;
  __isKernelDriverActive(interfaceNumber: number): boolean;
  __detachKernelDriver(interfaceNumber: number): void;
  __attachKernelDriver(interfaceNumber: number): void;
  controlTransfer(
    bmRequestType: number,
    bRequest: number,
    wValue: number,
    wIndex: number,
    dataOrLength: number | Buffer,
    cb: (error: LibusbError | undefined, data?: Buffer | number) => void,
  ): unknown;
  reset(cb: ErrCallback): void;
}

export interface LibusbTransfer {
  submit(buffer: Buffer): unknown;
  /** True if it was pending and is now being cancelled. */
  cancel(): boolean;
}

export type LibusbTransferCallback = (
  error: LibusbError | undefined,
  buffer: Buffer,
  actualLength: number,
) => void;

export interface LibusbModule {
  /** Non-zero when libusb_init failed (the package then defines no Device/getDeviceList). */
  readonly INIT_ERROR?: number;
  getDeviceList(): LibusbLegacyDevice[];
  Transfer: new (
    device: LibusbLegacyDevice,
    endpointAddress: number,
    type: number,
    timeoutMs: number,
    callback: LibusbTransferCallback,
  ) => LibusbTransfer;
  on(event: 'attach' | 'detach', listener: (device: LibusbLegacyDevice) => void): unknown;
  removeListener(event: 'attach' | 'detach', listener: (device: LibusbLegacyDevice) => void): unknown;
  /** Forces the package's polling hotplug fallback. */
  pollHotplug?: boolean;
}

// libusb's numbers (ABI-stable; checked against the loaded module in loadLibusbModule).
export const LIBUSB = {
  TRANSFER_ERROR: 1,
  TRANSFER_TIMED_OUT: 2,
  TRANSFER_CANCELLED: 3,
  TRANSFER_STALL: 4,
  TRANSFER_NO_DEVICE: 5,
  TRANSFER_OVERFLOW: 6,
  ERROR_IO: -1,
  ERROR_ACCESS: -3,
  ERROR_NO_DEVICE: -4,
  ERROR_NOT_FOUND: -5,
  ERROR_BUSY: -6,
  ERROR_TIMEOUT: -7,
  ERROR_OVERFLOW: -8,
  ERROR_PIPE: -9,
  ERROR_NOT_SUPPORTED: -12,
  TRANSFER_TYPE_BULK: 2,
  TRANSFER_TYPE_INTERRUPT: 3,
} as const;


/** Loads `usb` 2.x; throws NoUsbSubsystemError when its binary or libusb_init fails. */
export async function loadLibusbModule(): Promise<LibusbModule> {
  let mod: unknown;
  try {
    mod = await importNative('usb');
  } catch (err) {
    throw new NoUsbSubsystemError(
      'libusb',
      `the 'usb' package (libusb) could not be loaded: ${errorMessage(err)}`,
    );
  }
  return libusbFromNamespace(mod);
}

/** Checks an imported `usb` 2.x namespace: libusb must have initialised. */
export function libusbFromNamespace(mod: unknown): LibusbModule {
  const ns = mod as { usb?: unknown; default?: { usb?: unknown } };
  const lib = (ns.usb ?? ns.default?.usb) as
    | (LibusbModule & Record<string, unknown>)
    | undefined;
  if (!lib) {
    throw new NoUsbSubsystemError('libusb', "the 'usb' package has no legacy 'usb' export");
  }
  if (lib.INIT_ERROR) {
    throw new NoUsbSubsystemError('libusb', `libusb_init failed with error ${lib.INIT_ERROR}`);
  }
  if (typeof lib.getDeviceList !== 'function' || typeof lib.Transfer !== 'function') {
    throw new NoUsbSubsystemError('libusb', 'libusb did not initialise (no getDeviceList)');
  }
  for (const [k, v] of Object.entries(LIBUSB)) {
    const actual = lib[`LIBUSB_${k}`];
    if (actual !== undefined && actual !== v) {
      throw new HostBackendError('libusb', `unexpected LIBUSB_${k}=${String(actual)} (expected ${v})`);
    }
  }
  return lib;
}
