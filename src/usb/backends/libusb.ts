// Host backend over the `usb` package 2.x (libusb). Its own WebUSBDevice wrapper is not used for
// transfers: it turns every libusb error into `new Error(string)` (the errno that tells stall,
// timeout, no-device and cancel apart is lost), gives IN/OUT transfers no timeout and no way to
// cancel them, and releaseInterface/close leave pending transfers behind (close then throws
// "Can't close device with a pending request"). So this file adapts the legacy Device itself:
// every transferIn submits its own libusb Transfer (several in flight on one endpoint), and
// release/close cancel what is pending and wait for libusb to hand it back.
import {
  NoUsbSubsystemError,
  formatPortPath,
  type HostBackend,
  type HostDevice,
  type HostEvent,
  type KernelDriverControl,
  type RawDeviceDescriptor,
  toRawDeviceDescriptor,
  type UsbLocation,
} from '../host.ts';
import { childLog } from '../../log.ts';
import {
  ConfigurationTracker,
  DeviceRegistry,
  HostBackendError,
  PendingTransfers,
  WatchHub,
  describeSetup,
  errorMessage,
  inOk,
  inStatus,
  outResult,
  toBytes,
  usbError,
} from './normalize.ts';

const log = childLog('usb.backend.libusb');

// ---------------------------------------------------------------------------------------------
// The part of the `usb` 2.x module this backend uses (structural, so tests can pass a fake).

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

type ErrCallback = (error?: LibusbError | null) => void;

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

// ---------------------------------------------------------------------------------------------
// Loading

/**
 * Imports a package by a name bundlers do not follow (the native packages must never be pulled
 * into a browser bundle), and that stays out of the static import graph.
 */
export function importNative(specifier: string): Promise<unknown> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);
}

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

// ---------------------------------------------------------------------------------------------
// Linux sysfs (shared with the nusb backend)

export interface SysfsOptions {
  /** Defaults to process.platform; sysfs is consulted only on 'linux'. */
  platform?: NodeJS.Platform;
  /** Defaults to /sys/bus/usb. */
  sysfsUsbPath?: string;
}

type NodeFs = Pick<typeof import('node:fs'), 'existsSync' | 'promises' | 'constants'>;

/**
 * node:fs without a static import, so this module also loads in a browser bundle (where the
 * Node-only code paths never run). Node >= 20.16 has process.getBuiltinModule.
 */
function nodeFs(): NodeFs {
  const fs = globalThis.process?.getBuiltinModule?.('fs');
  if (!fs) throw new HostBackendError('host', 'node:fs is not available in this runtime');
  return fs;
}

export function existsSync(path: string): boolean {
  return nodeFs().existsSync(path);
}

export function sysfsUsbRoot(opts: SysfsOptions): string {
  return opts.sysfsUsbPath ?? '/sys/bus/usb';
}

/** On Linux without /sys/bus/usb, the reason to report; otherwise undefined. */
export function missingUsbSysfs(opts: SysfsOptions): string | undefined {
  if ((opts.platform ?? process.platform) !== 'linux') return undefined;
  const root = sysfsUsbRoot(opts);
  return existsSync(root) ? undefined : `${root} missing`;
}

/** The sysfs device directory name: `1-2.3`, or `usb1` for a root hub. */
export function sysfsDeviceName(loc: UsbLocation): string {
  return loc.portNumbers.length ? formatPortPath(loc) : `usb${loc.busNumber}`;
}

/**
 * Binds the kernel's driver to an interface by writing its name to /sys/bus/usb/drivers_probe:
 * what USBDEVFS_CONNECT does (device_attach), but on libuv's thread pool. The ioctl runs the
 * kernel driver's probe, control requests included, on the JS thread; on a device being unplugged
 * that blocked the event loop up to the kernel's 5 s control timeout (seen in the VM tier).
 * Needs write access to sysfs (root); false when it could not be done, so the caller falls back.
 */
export async function bindKernelDriverViaSysfs(opts: SysfsOptions, interfaceName: string): Promise<boolean> {
  const path = `${sysfsUsbRoot(opts)}/drivers_probe`;
  try {
    const fs = nodeFs();
    // O_WRONLY without O_CREAT: sysfs attributes exist or the write is not for us.
    await fs.promises.writeFile(path, interfaceName, { flag: fs.constants.O_WRONLY });
    return true;
  } catch (err) {
    log.debug({ err, path, interface: interfaceName }, 'drivers_probe not usable; falling back to the ioctl');
    return false;
  }
}

/**
 * The async form, for attributes that take the USB device lock in the kernel (manufacturer,
 * product, serial, bConfigurationValue, configuration): the hub thread holds that lock while it
 * enumerates or probes the device, up to its 5 s control timeouts when the device is being
 * unplugged, and a readFileSync of it stalled the whole event loop (2.3 s seen in the VM tier).
 */
export async function readSysfsStringAsync(path: string): Promise<string | null> {
  try {
    return (await nodeFs().promises.readFile(path, 'utf8')).replace(/\n$/, '');
  } catch {
    return null;
  }
}


// ---------------------------------------------------------------------------------------------
// Error mapping

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

function throwMapped(op: string, err: unknown, ctx: LibusbErrorContext): never {
  const o = mapLibusbError(op, err, ctx);
  if (o.kind === 'error') throw o.error;
  throw usbError('NetworkError', `${op} failed: ${o.kind}`, err);
}

function callbackToPromise(run: (cb: ErrCallback) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      run((error) => (error ? reject(error) : resolve()));
    } catch (err) {
      reject(err);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Descriptors

/** BCD version (0x0210) as WebUSB's major/minor/subminor (2, 1, 0). */
export function decodeBcd(v: number): [number, number, number] {
  return [((v >> 12) & 0xf) * 10 + ((v >> 8) & 0xf), (v >> 4) & 0xf, v & 0xf];
}

const ENDPOINT_TYPES: Record<number, USBEndpointType | undefined> = {
  1: 'isochronous',
  2: 'bulk',
  3: 'interrupt',
};

export interface DescriptorNames {
  configuration(config: LibusbConfigDescriptor): string | null;
  iface(config: LibusbConfigDescriptor, alt: LibusbInterfaceDescriptor): string | null;
}

export function toWebUsbConfigurations(
  configs: readonly LibusbConfigDescriptor[],
  names: DescriptorNames,
): USBConfiguration[] {
  return configs.map((cfg) => ({
    configurationValue: cfg.bConfigurationValue,
    configurationName: names.configuration(cfg),
    interfaces: cfg.interfaces
      .filter((alts) => alts.length > 0)
      .map((alts) => {
        const alternates: USBAlternateInterface[] = alts.map((alt) => ({
          alternateSetting: alt.bAlternateSetting,
          interfaceClass: alt.bInterfaceClass,
          interfaceSubclass: alt.bInterfaceSubClass,
          interfaceProtocol: alt.bInterfaceProtocol,
          interfaceName: names.iface(cfg, alt),
          endpoints: alt.endpoints
            .filter((ep) => ENDPOINT_TYPES[ep.bmAttributes & 3])
            .map((ep) => ({
              endpointNumber: ep.bEndpointAddress & 0x0f,
              direction: ep.bEndpointAddress & 0x80 ? ('in' as const) : ('out' as const),
              type: ENDPOINT_TYPES[ep.bmAttributes & 3] as USBEndpointType,
              packetSize: ep.wMaxPacketSize,
            })),
        }));
        const first = alts[0] as LibusbInterfaceDescriptor;
        return {
          interfaceNumber: first.bInterfaceNumber,
          alternate: alternates.find((a) => a.alternateSetting === 0) ?? (alternates[0] as USBAlternateInterface),
          alternates,
          claimed: false,
        };
      }),
  }));
}

const REQUEST_TYPE_BITS: Record<USBRequestType, number> = { standard: 0x00, class: 0x20, vendor: 0x40 };
const RECIPIENT_BITS: Record<USBRecipient, number> = { device: 0, interface: 1, endpoint: 2, other: 3 };

export function bmRequestType(setup: USBControlTransferParameters, direction: USBDirection): number {
  return (
    (direction === 'in' ? 0x80 : 0) |
    REQUEST_TYPE_BITS[setup.requestType] |
    RECIPIENT_BITS[setup.recipient]
  );
}

// ---------------------------------------------------------------------------------------------
// The WebUSB adapter around one legacy Device

export interface LibusbTimeouts {
  /** Control transfers; libusb needs a finite value. Default 1000 ms. */
  controlTimeoutMs: number;
  /** Bulk/interrupt IN; 0 = none (WebUSB's own semantics; release/close still end them). */
  inTimeoutMs: number;
  /** Bulk/interrupt OUT; 0 = none. */
  outTimeoutMs: number;
}

type DeviceState = 'closed' | 'opening' | 'open' | 'closing';

export class LibusbUsbDevice implements USBDevice {
  readonly usbVersionMajor: number;
  readonly usbVersionMinor: number;
  readonly usbVersionSubminor: number;
  readonly deviceClass: number;
  readonly deviceSubclass: number;
  readonly deviceProtocol: number;
  readonly vendorId: number;
  readonly productId: number;
  readonly deviceVersionMajor: number;
  readonly deviceVersionMinor: number;
  readonly deviceVersionSubminor: number;
  manufacturerName: string | null = null;
  productName: string | null = null;
  serialNumber: string | null = null;

  private state: DeviceState = 'closed';
  private gone = false;
  private readonly pending = new PendingTransfers();
  private readonly ops = new Set<Promise<unknown>>();
  private tracker: ConfigurationTracker;

  constructor(
    private readonly lib: LibusbModule,
    readonly legacy: LibusbLegacyDevice,
    private readonly timeouts: LibusbTimeouts,
    readonly label: string,
    names: DescriptorNames = { configuration: () => null, iface: () => null },
    /** The active configuration, when the caller reads it itself (Linux: from sysfs, async). */
    active?: number | null,
  ) {
    const dd = legacy.deviceDescriptor;
    [this.usbVersionMajor, this.usbVersionMinor, this.usbVersionSubminor] = decodeBcd(dd.bcdUSB);
    [this.deviceVersionMajor, this.deviceVersionMinor, this.deviceVersionSubminor] = decodeBcd(
      dd.bcdDevice,
    );
    this.deviceClass = dd.bDeviceClass;
    this.deviceSubclass = dd.bDeviceSubClass;
    this.deviceProtocol = dd.bDeviceProtocol;
    this.vendorId = dd.idVendor;
    this.productId = dd.idProduct;
    legacy.timeout = timeouts.controlTimeoutMs;
    this.tracker = this.readDescriptors(names, active);
  }

  /**
   * (Re)reads the configuration descriptors; names come from sysfs or string descriptors.
   * `active` given: used as the active configuration instead of asking libusb, which on Linux
   * reads sysfs's bConfigurationValue on the JS thread (it takes the device lock).
   */
  readDescriptors(names: DescriptorNames, active?: number | null): ConfigurationTracker {
    let configs: LibusbConfigDescriptor[] = [];
    try {
      configs = this.legacy.allConfigDescriptors;
      if (active === undefined) active = this.legacy.configDescriptor?.bConfigurationValue ?? null;
    } catch (err) {
      log.debug({ err, device: this.label }, 'reading configuration descriptors failed');
    }
    this.tracker = new ConfigurationTracker(toWebUsbConfigurations(configs, names), active ?? null);
    return this.tracker;
  }

  get configuration(): USBConfiguration | null {
    return this.tracker.configuration;
  }

  get configurations(): USBConfiguration[] {
    return this.tracker.configurations;
  }

  get opened(): boolean {
    return this.state === 'open';
  }

  get isGone(): boolean {
    return this.gone;
  }

  /** The device left: fail what is pending and everything after with NotFoundError. */
  markGone(): void {
    if (this.gone) return;
    this.gone = true;
    void this.pending.abort(undefined, () =>
      usbError('NotFoundError', `transfer on ${this.label}: device disconnected`),
    );
  }

  async open(): Promise<void> {
    this.assertPresent('open');
    if (this.state === 'open') return;
    if (this.state !== 'closed') {
      throw usbError('InvalidStateError', `open ${this.label}: device is ${this.state}`);
    }
    this.state = 'opening';
    try {
      this.legacy.__open();
    } catch (err) {
      this.state = 'closed';
      throwMapped('open', err, this.ctx());
    }
    this.state = 'open';
    // The active configuration may have changed while closed (another program, the kernel).
    try {
      const active = this.legacy.configDescriptor?.bConfigurationValue;
      if (active !== undefined) this.tracker.selectConfiguration(active);
    } catch (err) {
      log.debug({ err, device: this.label }, 'reading the active configuration failed');
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.state = 'closing';
    try {
      const settled = await this.pending.abort(undefined, () =>
        this.gone
          ? usbError('NotFoundError', `transfer on ${this.label}: device disconnected`)
          : usbError('AbortError', `transfer on ${this.label} aborted: device closed`),
      );
      if (!settled) log.warn({ device: this.label }, 'transfers did not settle after cancel');
      await Promise.allSettled([...this.ops]);
      for (const n of this.tracker.claimedInterfaces()) {
        try {
          await callbackToPromise((cb) => this.legacy.__releaseInterface(n, cb));
        } catch (err) {
          log.debug({ err, device: this.label, interface: n }, 'release on close failed');
        }
      }
      try {
        this.legacy.__close();
      } catch (err) {
        log.warn({ err, device: this.label }, 'closing the libusb handle failed');
      }
    } finally {
      this.tracker.reset();
      this.state = 'closed';
    }
  }

  forget(): Promise<void> {
    return this.close();
  }

  async selectConfiguration(configurationValue: number): Promise<void> {
    this.assertOpen('selectConfiguration');
    if (!this.tracker.hasConfiguration(configurationValue)) {
      throw usbError(
        'InvalidStateError',
        `selectConfiguration(${configurationValue}) on ${this.label}: no such configuration`,
      );
    }
    if (this.tracker.activeValue === configurationValue) return;
    await this.pending.abort(undefined, () =>
      usbError('AbortError', `transfer on ${this.label} aborted: configuration changing`),
    );
    try {
      await this.op(callbackToPromise((cb) => this.legacy.__setConfiguration(configurationValue, cb)));
    } catch (err) {
      throwMapped(`selectConfiguration(${configurationValue})`, err, this.ctx());
    }
    this.tracker.selectConfiguration(configurationValue);
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    this.assertOpen('claimInterface');
    this.assertInterface('claimInterface', interfaceNumber);
    if (this.tracker.isClaimed(interfaceNumber)) return;
    try {
      this.legacy.__claimInterface(interfaceNumber);
    } catch (err) {
      throwMapped(`claimInterface(${interfaceNumber})`, err, this.ctx());
    }
    this.tracker.claim(interfaceNumber);
  }

  async releaseInterface(interfaceNumber: number): Promise<void> {
    this.assertOpen('releaseInterface');
    this.assertInterface('releaseInterface', interfaceNumber);
    if (!this.tracker.isClaimed(interfaceNumber)) return;
    await this.pending.abort(interfaceNumber, () =>
      usbError(
        'AbortError',
        `transfer on ${this.label} aborted: interface ${interfaceNumber} released`,
      ),
    );
    // Marked released first: a failure below (device gone) leaves nothing claimed to retry.
    this.tracker.release(interfaceNumber);
    try {
      await this.op(callbackToPromise((cb) => this.legacy.__releaseInterface(interfaceNumber, cb)));
    } catch (err) {
      throwMapped(`releaseInterface(${interfaceNumber})`, err, this.ctx());
    }
  }

  async selectAlternateInterface(interfaceNumber: number, alternateSetting: number): Promise<void> {
    this.assertOpen('selectAlternateInterface');
    const iface = this.assertInterface('selectAlternateInterface', interfaceNumber);
    if (!this.tracker.isClaimed(interfaceNumber)) {
      throw usbError(
        'InvalidStateError',
        `selectAlternateInterface(${interfaceNumber}) on ${this.label}: interface not claimed`,
      );
    }
    if (!iface.alternates.some((a) => a.alternateSetting === alternateSetting)) {
      throw usbError(
        'InvalidStateError',
        `selectAlternateInterface(${interfaceNumber}, ${alternateSetting}) on ${this.label}: no such alternate setting`,
      );
    }
    await this.pending.abort(interfaceNumber, () =>
      usbError('AbortError', `transfer on ${this.label} aborted: alternate setting changing`),
    );
    try {
      await this.op(
        callbackToPromise((cb) => this.legacy.__setInterface(interfaceNumber, alternateSetting, cb)),
      );
    } catch (err) {
      throwMapped(`selectAlternateInterface(${interfaceNumber}, ${alternateSetting})`, err, this.ctx());
    }
    this.tracker.selectAlternate(interfaceNumber, alternateSetting);
  }

  controlTransferIn(setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult> {
    const op = `controlTransferIn(${describeSetup(setup)})`;
    return this.op(
      (async () => {
        this.assertOpen(op);
        try {
          const data = await this.control(bmRequestType(setup, 'in'), setup, length);
          return inOk(data instanceof Buffer ? data : new Uint8Array(0));
        } catch (err) {
          const o = mapLibusbError(op, err, this.ctx(this.timeouts.controlTimeoutMs));
          if (o.kind === 'error') throw o.error;
          return inStatus(o.kind);
        }
      })(),
    );
  }

  controlTransferOut(setup: USBControlTransferParameters, data?: BufferSource): Promise<USBOutTransferResult> {
    const op = `controlTransferOut(${describeSetup(setup)})`;
    return this.op(
      (async () => {
        this.assertOpen(op);
        const bytes = toBytes(data);
        try {
          const written = await this.control(bmRequestType(setup, 'out'), setup, Buffer.from(bytes));
          return outResult('ok', typeof written === 'number' ? written : bytes.byteLength);
        } catch (err) {
          const o = mapLibusbError(op, err, this.ctx(this.timeouts.controlTimeoutMs));
          if (o.kind === 'error') throw o.error;
          return outResult(o.kind, 0);
        }
      })(),
    );
  }

  async clearHalt(direction: USBDirection, endpointNumber: number): Promise<void> {
    const op = `clearHalt(${direction} ${endpointNumber})`;
    this.assertOpen(op);
    const address = (direction === 'in' ? 0x80 : 0) | endpointNumber;
    try {
      await this.op(callbackToPromise((cb) => this.legacy.__clearHalt(address, cb)));
    } catch (err) {
      throwMapped(op, err, this.ctx());
    }
  }

  transferIn(endpointNumber: number, length: number): Promise<USBInTransferResult> {
    const op = `transferIn(${endpointNumber}, ${length})`;
    return this.bulk(op, 'in', endpointNumber, Buffer.alloc(length), this.timeouts.inTimeoutMs).then(
      (r) => (r.kind === 'ok' ? inOk(r.data) : inStatus(r.kind)),
    );
  }

  transferOut(endpointNumber: number, data: BufferSource): Promise<USBOutTransferResult> {
    const bytes = toBytes(data);
    const op = `transferOut(${endpointNumber}, ${bytes.byteLength} bytes)`;
    // Copied: the caller may reuse its buffer while libusb still reads ours.
    return this.bulk(op, 'out', endpointNumber, Buffer.from(bytes), this.timeouts.outTimeoutMs).then(
      (r) => (r.kind === 'ok' ? outResult('ok', r.data.byteLength) : outResult('stall', 0)),
    );
  }

  async isochronousTransferIn(): Promise<USBIsochronousInTransferResult> {
    throw usbError('NotSupportedError', `isochronous transfers are not supported by the libusb backend`);
  }

  async isochronousTransferOut(): Promise<USBIsochronousOutTransferResult> {
    throw usbError('NotSupportedError', `isochronous transfers are not supported by the libusb backend`);
  }

  async reset(): Promise<void> {
    this.assertOpen('reset');
    await this.pending.abort(undefined, () =>
      usbError('AbortError', `transfer on ${this.label} aborted: device reset`),
    );
    try {
      await this.op(callbackToPromise((cb) => this.legacy.reset(cb)));
    } catch (err) {
      throwMapped('reset', err, this.ctx());
    }
  }

  /** Runs `fn` with a libusb handle, opening one briefly when the device is not open. */
  withHandle<T>(op: string, fn: () => T): T {
    this.assertPresent(op);
    if (this.state === 'open') return fn();
    if (this.state !== 'closed') {
      throw usbError('InvalidStateError', `${op} on ${this.label}: device is ${this.state}`);
    }
    try {
      this.legacy.__open();
    } catch (err) {
      throwMapped(op, err, this.ctx());
    }
    try {
      return fn();
    } finally {
      try {
        this.legacy.__close();
      } catch (err) {
        log.debug({ err, device: this.label }, 'closing the temporary handle failed');
      }
    }
  }

  // -- internals ------------------------------------------------------------------------------

  private ctx(timeoutMs?: number): LibusbErrorContext {
    return { gone: this.gone, device: this.label, timeoutMs };
  }

  private assertPresent(op: string): void {
    if (this.gone) throw usbError('NotFoundError', `${op} on ${this.label}: device disconnected`);
  }

  private assertOpen(op: string): void {
    this.assertPresent(op);
    if (this.state !== 'open') {
      throw usbError('InvalidStateError', `${op} on ${this.label}: device is ${this.state}`);
    }
  }

  private assertInterface(op: string, interfaceNumber: number): USBInterface {
    const iface = this.tracker.interfaceDescriptor(interfaceNumber);
    if (!iface) {
      throw usbError(
        'InvalidStateError',
        `${op}(${interfaceNumber}) on ${this.label}: the active configuration has no such interface`,
      );
    }
    return iface;
  }

  private op<T>(p: Promise<T>): Promise<T> {
    this.ops.add(p);
    const done = () => this.ops.delete(p);
    p.then(done, done);
    return p;
  }

  private control(
    requestType: number,
    setup: USBControlTransferParameters,
    dataOrLength: number | Buffer,
  ): Promise<Buffer | number | undefined> {
    return new Promise((resolve, reject) => {
      try {
        this.legacy.controlTransfer(
          requestType,
          setup.request,
          setup.value,
          setup.index,
          dataOrLength,
          (error, data) => (error ? reject(error) : resolve(data)),
        );
      } catch (err) {
        reject(err);
      }
    });
  }

  private bulk(
    op: string,
    direction: USBDirection,
    endpointNumber: number,
    buffer: Buffer,
    timeoutMs: number,
  ): Promise<{ kind: 'ok'; data: Buffer } | { kind: 'stall' | 'babble' }> {
    try {
      this.assertOpen(op);
    } catch (err) {
      return Promise.reject(err);
    }
    const found = this.tracker.findEndpoint(direction, endpointNumber);
    if (!found) {
      return Promise.reject(
        usbError(
          'InvalidStateError',
          `${op} on ${this.label}: endpoint ${endpointNumber} ${direction.toUpperCase()} is not in a claimed interface`,
        ),
      );
    }
    const type =
      found.endpoint.type === 'bulk'
        ? LIBUSB.TRANSFER_TYPE_BULK
        : found.endpoint.type === 'interrupt'
          ? LIBUSB.TRANSFER_TYPE_INTERRUPT
          : undefined;
    if (type === undefined) {
      return Promise.reject(
        usbError('NotSupportedError', `${op} on ${this.label}: ${found.endpoint.type} endpoints are not supported`),
      );
    }
    const address = (direction === 'in' ? 0x80 : 0) | endpointNumber;
    return this.pending.track(found.interfaceNumber, (onAbort) => {
      return new Promise((resolve, reject) => {
        let abortReason: Error | undefined;
        // libusb's own transfer timeout is not used: the `usb` 2.x event thread sleeps in poll()
        // with libusb's 60 s default and is not woken for a shorter deadline, so the callback came
        // ~60 s late on a real kernel. A JS timer cancels instead (a cancel completes at once).
        let timer: ReturnType<typeof setTimeout> | undefined;
        const settle: LibusbTransferCallback = (error, _buf, actual) => {
          if (timer) clearTimeout(timer);
          if (!error) {
            resolve({ kind: 'ok', data: buffer.subarray(0, actual) });
            return;
          }
          const o = mapLibusbError(op, error, { ...this.ctx(timeoutMs), abortReason });
          if (o.kind === 'error') reject(o.error);
          else resolve(o);
        };
        let transfer: LibusbTransfer;
        try {
          transfer = new this.lib.Transfer(this.legacy, address, type, 0, settle);
          transfer.submit(buffer);
        } catch (err) {
          const o = mapLibusbError(op, err, this.ctx(timeoutMs));
          if (o.kind === 'error') reject(o.error);
          else resolve(o);
          return;
        }
        const cancel = (reason: Error): void => {
          if (abortReason) return;
          abortReason = reason;
          if (timer) clearTimeout(timer);
          try {
            transfer.cancel();
          } catch (err) {
            // Already completing: its callback still comes and settles the promise.
            log.debug({ err, device: this.label, op }, 'cancel failed');
          }
        };
        if (timeoutMs > 0) {
          timer = setTimeout(
            () => cancel(usbError('TimeoutError', `${op} on ${this.label} timed out after ${timeoutMs} ms`)),
            timeoutMs,
          );
        }
        onAbort(cancel);
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------
// HostDevice and backend

class LibusbHostDevice implements HostDevice {
  readonly key: string;
  readonly usb: LibusbUsbDevice;
  readonly location: UsbLocation;
  readonly kernelDriver: KernelDriverControl | undefined;
  readonly maxTransfersInFlight: number;
  /** Resolves once the string descriptors are known. */
  ready: Promise<void> = Promise.resolve();

  /** libusb reads the device descriptor at enumeration: no need to open the device for it. */
  get deviceDescriptor(): RawDeviceDescriptor | undefined {
    const d = this.usb.legacy.deviceDescriptor;
    if (d.bMaxPacketSize0 === undefined) return undefined;
    return toRawDeviceDescriptor({ ...d, bMaxPacketSize0: d.bMaxPacketSize0 }, d.bNumConfigurations ?? 1);
  }

  constructor(lib: LibusbModule, legacy: LibusbLegacyDevice, opts: ResolvedOptions) {
    this.location = {
      busNumber: legacy.busNumber,
      portNumbers: [...(legacy.portNumbers ?? [])],
      deviceAddress: legacy.deviceAddress,
    };
    this.key = `libusb:${formatPortPath(this.location)}@${legacy.deviceAddress}`;
    this.maxTransfersInFlight = opts.maxTransfersInFlight;
    const dd = legacy.deviceDescriptor;
    const label = `${hex4(dd.idVendor)}:${hex4(dd.idProduct)} at ${formatPortPath(this.location)}`;
    const linux = opts.platform === 'linux';
    // On Linux the active configuration comes with the sysfs strings (below), off the JS thread.
    this.usb = new LibusbUsbDevice(lib, legacy, opts, label, undefined, linux ? null : undefined);
    if (linux) {
      const loc = this.location;
      this.ready = sysfsNames(opts, loc, legacy).then((sysfs) => {
        this.usb.manufacturerName = sysfs.manufacturer;
        this.usb.productName = sysfs.product;
        this.usb.serialNumber = sysfs.serial;
        this.usb.readDescriptors(sysfs.names, sysfs.active);
      });
    } else {
      this.ready = readStringsViaDescriptors(this.usb);
    }
    const usb = this.usb;
    this.kernelDriver =
      opts.platform === 'linux'
        ? {
            isActive: async (n) =>
              usb.withHandle(`kernelDriver.isActive(${n})`, () => {
                try {
                  return legacy.__isKernelDriverActive(n);
                } catch (err) {
                  throwMapped(`kernelDriver.isActive(${n}) on ${label}`, err, { gone: usb.isGone });
                }
              }),
            detach: async (n) =>
              usb.withHandle(`kernelDriver.detach(${n})`, () => {
                try {
                  legacy.__detachKernelDriver(n);
                } catch (err) {
                  // No driver bound: already the state the caller wants.
                  if ((err as LibusbError).errno === LIBUSB.ERROR_NOT_FOUND) return;
                  throwMapped(`kernelDriver.detach(${n}) on ${label}`, err, { gone: usb.isGone });
                }
              }),
            attach: async (n) => {
              const bound = await usb.withHandle(`kernelDriver.attach(${n})`, () => {
                try {
                  return legacy.__isKernelDriverActive(n);
                } catch (err) {
                  throwMapped(`kernelDriver.attach(${n}) on ${label}`, err, { gone: usb.isGone });
                }
              });
              if (bound) return;
              const cfg = usb.configuration?.configurationValue;
              if (cfg !== undefined && (await bindKernelDriverViaSysfs(opts, `${sysfsDeviceName(this.location)}:${cfg}.${n}`))) {
                return;
              }
              await usb.withHandle(`kernelDriver.attach(${n})`, () => {
                try {
                  if (legacy.__isKernelDriverActive(n)) return;
                  legacy.__attachKernelDriver(n);
                } catch (err) {
                  throwMapped(`kernelDriver.attach(${n}) on ${label}`, err, { gone: usb.isGone });
                }
              });
            },
          }
        : undefined;
  }
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/**
 * Strings from sysfs: readable without opening the device (so without device-node access).
 * Read on the thread pool, never on the JS thread (see readSysfsStringAsync).
 */
async function sysfsNames(
  opts: ResolvedOptions,
  loc: UsbLocation,
  legacy: LibusbLegacyDevice,
): Promise<{
  manufacturer: string | null;
  product: string | null;
  serial: string | null;
  /** The active configuration value; null when unconfigured, undefined when unreadable. */
  active: number | null | undefined;
  names: DescriptorNames;
}> {
  const dir = `${sysfsUsbRoot(opts)}/devices/${sysfsDeviceName(loc)}`;
  const [activeValue, manufacturer, product, serial, configuration] = await Promise.all(
    ['bConfigurationValue', 'manufacturer', 'product', 'serial', 'configuration'].map((a) => readSysfsStringAsync(`${dir}/${a}`)),
  );
  // sysfs only describes the active configuration; other names stay null.
  const active = safeConfigs(legacy).find((c) => String(c.bConfigurationValue) === activeValue);
  const interfaceNames = new Map<number, string | null>();
  if (active) {
    await Promise.all(
      active.interfaces.map(async (alts) => {
        const n = alts[0]?.bInterfaceNumber;
        if (n === undefined) return;
        interfaceNames.set(n, await readSysfsStringAsync(`${dir}:${active.bConfigurationValue}.${n}/interface`));
      }),
    );
  }
  return {
    manufacturer,
    product,
    serial,
    // '' = unconfigured; unreadable (null) = undefined, so libusb is asked after all.
    active: activeValue === null ? undefined : /^\d+$/.test(activeValue) ? Number(activeValue) : null,
    names: {
      configuration: (cfg) => (String(cfg.bConfigurationValue) === activeValue ? configuration : null),
      iface: (cfg, alt) =>
        String(cfg.bConfigurationValue) === activeValue && alt.bAlternateSetting === 0
          ? (interfaceNames.get(alt.bInterfaceNumber) ?? null)
          : null,
    },
  };
}

/** Off Linux: open the device briefly and read its string descriptors (as browsers do). */
async function readStringsViaDescriptors(dev: LibusbUsbDevice): Promise<void> {
  const dd = dev.legacy.deviceDescriptor;
  const indexes = new Set<number>([dd.iManufacturer, dd.iProduct, dd.iSerialNumber]);
  for (const cfg of safeConfigs(dev.legacy)) {
    indexes.add(cfg.iConfiguration);
    for (const alts of cfg.interfaces) for (const alt of alts) indexes.add(alt.iInterface);
  }
  indexes.delete(0);
  if (indexes.size === 0) return;
  const strings = new Map<number, string>();
  try {
    dev.legacy.__open();
  } catch (err) {
    log.debug({ err, device: dev.label }, 'cannot open to read string descriptors');
    return;
  }
  try {
    for (const index of indexes) {
      const s = await readStringDescriptor(dev.legacy, index).catch(() => null);
      if (s !== null) strings.set(index, s);
    }
  } finally {
    try {
      dev.legacy.__close();
    } catch (err) {
      log.debug({ err, device: dev.label }, 'closing after reading strings failed');
    }
  }
  dev.manufacturerName = strings.get(dd.iManufacturer) ?? null;
  dev.productName = strings.get(dd.iProduct) ?? null;
  dev.serialNumber = strings.get(dd.iSerialNumber) ?? null;
  dev.readDescriptors({
    configuration: (cfg) => strings.get(cfg.iConfiguration) ?? null,
    iface: (_cfg, alt) => strings.get(alt.iInterface) ?? null,
  });
}

function safeConfigs(legacy: LibusbLegacyDevice): LibusbConfigDescriptor[] {
  try {
    return legacy.allConfigDescriptors;
  } catch {
    return [];
  }
}

function readStringDescriptor(legacy: LibusbLegacyDevice, index: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    try {
      // GET_DESCRIPTOR(STRING, index), US English.
      legacy.controlTransfer(0x80, 0x06, 0x0300 | index, 0x0409, 255, (err, data) => {
        if (err) reject(err);
        else resolve(data instanceof Buffer && data.length >= 2 ? data.toString('utf16le', 2, data[0]) : null);
      });
    } catch (err) {
      reject(err);
    }
  });
}

export interface LibusbBackendOptions extends SysfsOptions {
  /** transferIn calls a caller may keep pending on one IN endpoint. Default 4. */
  maxTransfersInFlight?: number;
  controlTimeoutMs?: number;
  inTimeoutMs?: number;
  outTimeoutMs?: number;
  /** Use the package's polling hotplug fallback even where libusb hotplug works. */
  forcePolling?: boolean;
  /** The loaded `usb` 2.x legacy module (tests pass a fake); loaded on demand otherwise. */
  module?: LibusbModule;
}

type ResolvedOptions = LibusbTimeouts & {
  maxTransfersInFlight: number;
  platform: NodeJS.Platform;
  sysfsUsbPath: string;
};

export class LibusbBackend implements HostBackend {
  readonly name = 'libusb';
  private readonly opts: ResolvedOptions;
  private readonly devices = new DeviceRegistry<LibusbLegacyDevice, LibusbHostDevice>();
  private readonly hub: WatchHub;
  private closed = false;

  constructor(
    private readonly lib: LibusbModule,
    opts: Omit<LibusbBackendOptions, 'module'> = {},
  ) {
    this.opts = {
      maxTransfersInFlight: opts.maxTransfersInFlight ?? 4,
      controlTimeoutMs: opts.controlTimeoutMs ?? 1000,
      inTimeoutMs: opts.inTimeoutMs ?? 0,
      outTimeoutMs: opts.outTimeoutMs ?? 0,
      platform: opts.platform ?? process.platform,
      sysfsUsbPath: sysfsUsbRoot(opts),
    };
    if (opts.forcePolling) lib.pollHotplug = true;
    this.hub = new WatchHub(
      async () => {
        try {
          lib.on('attach', this.onAttach);
          lib.on('detach', this.onDetach);
        } catch (err) {
          lib.removeListener('attach', this.onAttach);
          lib.removeListener('detach', this.onDetach);
          throw new HostBackendError('libusb', `starting hotplug failed: ${errorMessage(err)}`, {
            cause: err,
          });
        }
      },
      async () => {
        lib.removeListener('attach', this.onAttach);
        lib.removeListener('detach', this.onDetach);
      },
      log,
    );
  }

  async getDevices(): Promise<HostDevice[]> {
    this.assertNotClosed();
    let list: LibusbLegacyDevice[];
    try {
      list = this.lib.getDeviceList();
    } catch (err) {
      throw new HostBackendError('libusb', `listing devices failed: ${errorMessage(err)}`, { cause: err });
    }
    if (list.length === 0) {
      // libusb starts fine without /sys/bus/usb and just lists nothing: say why.
      const missing = missingUsbSysfs(this.opts);
      if (missing) throw new NoUsbSubsystemError('libusb', missing);
    }
    const devices = list.map((d) => this.wrap(d));
    await Promise.all(devices.map((d) => d.ready));
    if (!this.hub.active) this.devices.keepOnly(new Set(list));
    return devices;
  }

  async watch(listener: (event: HostEvent) => void): Promise<() => void> {
    this.assertNotClosed();
    const missing = missingUsbSysfs(this.opts);
    if (missing) throw new NoUsbSubsystemError('libusb', missing);
    // libusb_hotplug_register_callback (or the polling fallback's first snapshot) runs
    // synchronously inside lib.on(), so the watcher is live when this resolves.
    return this.hub.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.hub.close();
    // An open libusb handle keeps a thread-safe function referenced, i.e. the process alive.
    await this.devices.closeAll();
  }

  private readonly onAttach = (legacy: LibusbLegacyDevice): void => {
    this.hub.enqueue(async () => {
      const device = this.wrap(legacy);
      await device.ready;
      return { type: 'connect', device };
    });
  };

  private readonly onDetach = (legacy: LibusbLegacyDevice): void => {
    this.hub.enqueue(() => {
      const device = this.devices.remove(legacy);
      return device && { type: 'disconnect', device };
    });
  };

  private wrap(legacy: LibusbLegacyDevice): LibusbHostDevice {
    return this.devices.get(legacy, () => new LibusbHostDevice(this.lib, legacy, this.opts));
  }

  private assertNotClosed(): void {
    if (this.closed) throw new HostBackendError('libusb', 'backend is closed');
  }
}

/** Loads `usb` 2.x (unless given) and returns the backend. */
export async function createLibusbBackend(opts: LibusbBackendOptions = {}): Promise<LibusbBackend> {
  const lib = opts.module ?? (await loadLibusbModule());
  return new LibusbBackend(lib, opts);
}
