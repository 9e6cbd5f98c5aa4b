// Host backend over the `usb` package 3.x (nusb, installed as `usb3`). It talks to the native
// binding (`usb3/index.js`) directly instead of the package's WebUSB class, because that class
// (a) starts its hotplug watcher in a promise queue nobody can await, so events right after
// subscribing are lost, (b) calls nativeGetDevices() without a catch when the first listener
// is added, which on a machine without USB is an unhandled rejection, and (c) rejects where
// WebUSB resolves: a stall rejects ("transferIn error: Stall" / "... endpoint stalled"), a
// timeout rejects "transferIn error: Cancelled", and controlTransferOut without data throws a
// TypeError. The adapter below presents host.ts's semantics instead.
//
// nusb 3.1 limits that shape the adapter: one transfer per endpoint at a time (a second gets
// "endpoint not found"), so transfers are queued per endpoint and maxTransfersInFlight is 1;
// a pending transfer cannot be cancelled except by its own timeout, so release/close reject
// the caller at once with AbortError and drop the late native result; and control transfers
// need some interface claimed ("controlTransferIn error: invalid state" otherwise).
import {
  NoUsbSubsystemError,
  formatPortPath,
  type HostBackend,
  type HostDevice,
  type HostEvent,
  type KernelDriverControl,
  type UsbLocation,
} from '../host.ts';
import { childLog } from '../../log.ts';
import { KeyedMutex } from '../../core/mutex.ts';
import { ConfigurationTracker } from './configuration-tracker.ts';
import { DeviceRegistry } from './device-registry.ts';
import { HostBackendError, errorMessage, usbError, type UsbErrorName } from './errors.ts';
import {
  existsSync,
  missingUsbSysfs,
  readSysfsStringAsync,
  sysfsDeviceName,
  sysfsUsbRoot,
  type SysfsOptions,
} from './linux-sysfs.ts';
import { importNative } from './native-import.ts';
import { PendingTransfers } from './pending-transfers.ts';
import { describeSetup, inOk, inStatus, outResult, toBytes } from './transfer-results.ts';
import { WatchHub } from './watch-hub.ts';

const log = childLog('usb.backend.nusb');

// ---------------------------------------------------------------------------------------------
// The native binding's shape (structural, so tests can pass a fake)

export interface NusbEndpoint {
  endpointNumber: number;
  direction: USBDirection;
  type: string;
  packetSize: number;
}

export interface NusbAlternate {
  alternateSetting: number;
  interfaceClass: number;
  interfaceSubclass: number;
  interfaceProtocol: number;
  interfaceName?: string | null;
  endpoints: NusbEndpoint[];
}

export interface NusbConfiguration {
  configurationValue: number;
  configurationName?: string | null;
  interfaces: { interfaceNumber: number; alternate: NusbAlternate; alternates: NusbAlternate[] }[];
}

export interface NusbSetup {
  requestType: USBRequestType;
  recipient: USBRecipient;
  request: number;
  value: number;
  index: number;
}

export interface NusbNativeDevice {
  readonly vendorId: number;
  readonly productId: number;
  readonly deviceVersionMajor: number;
  readonly deviceVersionMinor: number;
  readonly deviceVersionSubminor: number;
  readonly usbVersionMajor: number;
  readonly usbVersionMinor: number;
  readonly usbVersionSubminor: number;
  readonly deviceClass: number;
  readonly deviceSubclass: number;
  readonly deviceProtocol: number;
  /** Bus number as a string on Linux ("1"). */
  readonly bus: string;
  readonly address: number;
  readonly ports: number[];
  /** `format!("{:?}", DeviceId)`: the same string the detach callback receives. */
  readonly handle: string;
  // These getters may open the device (and throw) when sysfs lacks the value.
  readonly manufacturerName: string | null;
  readonly productName: string | null;
  readonly serialNumber: string | null;
  readonly configuration: NusbConfiguration | null;
  readonly configurations: NusbConfiguration[];
  readonly opened: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  reset(): Promise<void>;
  selectConfiguration(value: number): Promise<void>;
  claimInterface(n: number): Promise<void>;
  releaseInterface(n: number): Promise<void>;
  selectAlternateInterface(n: number, alt: number): Promise<void>;
  nativeControlTransferIn(setup: NusbSetup, timeoutMs: number, length: number): Promise<Uint8Array | null>;
  nativeControlTransferOut(setup: NusbSetup, timeoutMs: number, data?: Uint8Array | null): Promise<number>;
  nativeTransferIn(endpointNumber: number, timeoutMs: number, length: number): Promise<Uint8Array | null>;
  nativeTransferOut(endpointNumber: number, timeoutMs: number, data: Uint8Array): Promise<number>;
  clearHalt(direction: USBDirection, endpointNumber: number): Promise<void>;
  detachKernelDriver(n: number): Promise<void>;
  attachKernelDriver(n: number): Promise<void>;
}

export interface NusbEmitter {
  /** Resolves once nusb's watcher (udev netlink socket) is set up. */
  addAttach(callback: (device: NusbNativeDevice) => void): Promise<void>;
  addDetach(callback: (handle: string) => void): Promise<void>;
  removeAttach(): Promise<void>;
  removeDetach(): Promise<void>;
}

export interface NusbModule {
  nativeGetDevices(): Promise<NusbNativeDevice[]>;
  Emitter: new () => NusbEmitter;
}

/** Loads the `usb` 3.x native binding; NoUsbSubsystemError if its binary cannot load here. */
export async function loadNusbModule(): Promise<NusbModule> {
  let mod: unknown;
  try {
    mod = await importNative('usb3/index.js');
  } catch (err) {
    throw new NoUsbSubsystemError(
      'nusb',
      `the 'usb' 3.x package (nusb, installed as usb3) could not be loaded: ${errorMessage(err)}`,
    );
  }
  return nusbFromNamespace(mod);
}

/** Checks an imported usb 3.x binding namespace. */
export function nusbFromNamespace(mod: unknown): NusbModule {
  const ns = mod as Partial<NusbModule> & { default?: Partial<NusbModule> };
  const lib = typeof ns.nativeGetDevices === 'function' ? ns : ns.default;
  if (!lib || typeof lib.nativeGetDevices !== 'function' || typeof lib.Emitter !== 'function') {
    throw new NoUsbSubsystemError('nusb', "the usb3 native binding lacks nativeGetDevices/Emitter");
  }
  return lib as NusbModule;
}

// ---------------------------------------------------------------------------------------------
// Error mapping

export type NusbErrorClass =
  | 'stall'
  | 'cancelled'
  | 'disconnected'
  | 'no-subsystem'
  | 'endpoint-unavailable'
  | 'invalid-state'
  | 'busy'
  | 'access'
  | 'fault'
  | 'other';

/**
 * Sorts a usb 3.x rejection by its message. Bulk transfers format nusb's TransferError with
 * Debug ("transferIn error: Stall" / "Cancelled" / "Disconnected" / "Fault"), control transfers
 * with Display ("controlTransferIn error: endpoint stalled" / "transfer was cancelled" /
 * "device disconnected"), so both spellings are matched.
 */
export function classifyNusbError(err: unknown): NusbErrorClass {
  const m = errorMessage(err);
  if (/\/sys\/bus\/usb\/devices\/? not found/i.test(m)) return 'no-subsystem';
  if (/\bstall(ed)?\b/i.test(m)) return 'stall';
  if (/\bcancel(l)?ed\b/i.test(m)) return 'cancelled';
  if (/disconnected|device not found|no such device|\bENODEV\b/i.test(m)) return 'disconnected';
  if (/endpoint not found|endpoint already in use|a transfer is already pending/i.test(m)) {
    return 'endpoint-unavailable';
  }
  if (/invalid state|not claimed/i.test(m)) return 'invalid-state';
  if (/permission denied|\bEACCES\b/i.test(m)) return 'access';
  if (/busy/i.test(m)) return 'busy';
  if (/\bfault\b|protocol violation/i.test(m)) return 'fault';
  return 'other';
}

export type NusbOutcome = { kind: 'stall' } | { kind: 'error'; error: Error };

export interface NusbErrorContext {
  gone: boolean;
  timeoutMs?: number;
  device?: string;
}

/** Maps a usb 3.x rejection onto host.ts's semantics. */
export function mapNusbError(op: string, err: unknown, ctx: NusbErrorContext): NusbOutcome {
  const cls = classifyNusbError(err);
  const what = errorMessage(err);
  const on = ctx.device ? ` on ${ctx.device}` : '';
  const fail = (name: UsbErrorName, msg: string): NusbOutcome => ({
    kind: 'error',
    error: usbError(name, msg, err),
  });
  if (cls === 'stall') return { kind: 'stall' };
  // nusb cancels a transfer only when its timeout expires (release/close never reach it).
  if (cls === 'cancelled') {
    if (ctx.gone) return fail('NotFoundError', `${op}${on}: device disconnected`);
    return fail('TimeoutError', `${op}${on} timed out${ctx.timeoutMs ? ` after ${ctx.timeoutMs} ms` : ''}`);
  }
  if (cls === 'disconnected' || ctx.gone) {
    return fail('NotFoundError', `${op}${on}: device disconnected (${what})`);
  }
  switch (cls) {
    case 'endpoint-unavailable':
      return fail(
        'InvalidStateError',
        `${op}${on}: endpoint unavailable (${what}); it must be in a claimed interface, and nusb allows one transfer per endpoint at a time`,
      );
    case 'invalid-state':
      return fail(
        'InvalidStateError',
        `${op}${on}: ${what} (nusb needs the device open, and an interface claimed for control transfers)`,
      );
    case 'access':
      return fail('NetworkError', `${op}${on} failed: ${what}; the device node needs a udev rule or root`);
    case 'busy':
      return fail(
        'NetworkError',
        `${op}${on} failed: ${what}; a kernel driver or another program holds it (kernelDriver.detach)`,
      );
    case 'fault':
      return fail('NetworkError', `${op}${on} failed: ${what} (hardware fault or protocol violation)`);
    default:
      return fail('NetworkError', `${op}${on} failed: ${what}`);
  }
}

function throwMapped(op: string, err: unknown, ctx: NusbErrorContext): never {
  const o = mapNusbError(op, err, ctx);
  if (o.kind === 'error') throw o.error;
  throw usbError('NetworkError', `${op} failed: endpoint stalled`, err);
}

// ---------------------------------------------------------------------------------------------
// The WebUSB adapter

/** Largest value nusb takes (u32 ms, about 49 days): our "no timeout". */
const NUSB_MAX_TIMEOUT = 0xffffffff;

export interface NusbTimeouts {
  /** Default 1000 ms. */
  controlTimeoutMs: number;
  /** Default 1000 ms. Keep it finite: only the timeout ends a pending nusb IN transfer. */
  inTimeoutMs: number;
  /** Default 5000 ms (long writes to a slow or flow-controlled device need time). */
  outTimeoutMs: number;
}

const KNOWN_ENDPOINT_TYPES = new Set(['bulk', 'interrupt', 'isochronous']);

export function toWebUsbConfiguration(cfg: NusbConfiguration): USBConfiguration {
  const alt = (a: NusbAlternate): USBAlternateInterface => ({
    alternateSetting: a.alternateSetting,
    interfaceClass: a.interfaceClass,
    interfaceSubclass: a.interfaceSubclass,
    interfaceProtocol: a.interfaceProtocol,
    interfaceName: a.interfaceName ?? null,
    endpoints: a.endpoints
      .filter((e) => KNOWN_ENDPOINT_TYPES.has(e.type))
      .map((e) => ({
        endpointNumber: e.endpointNumber,
        direction: e.direction,
        type: e.type as USBEndpointType,
        packetSize: e.packetSize,
      })),
  });
  return {
    configurationValue: cfg.configurationValue,
    configurationName: cfg.configurationName ?? null,
    interfaces: cfg.interfaces.map((i) => {
      const alternates = i.alternates.map(alt);
      return {
        interfaceNumber: i.interfaceNumber,
        alternate: alternates.find((a) => a.alternateSetting === 0) ?? alt(i.alternate),
        alternates,
        claimed: false,
      };
    }),
  };
}

type DeviceState = 'closed' | 'opening' | 'open' | 'closing';

export class NusbUsbDevice implements USBDevice {
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
  readonly manufacturerName: string | null;
  readonly productName: string | null;
  readonly serialNumber: string | null;

  private state: DeviceState = 'closed';
  private gone = false;
  private tracker: ConfigurationTracker | null = null;
  private readonly pending = new PendingTransfers();
  private readonly endpoints = new KeyedMutex<string>();
  /**
   * Native calls still running, each with its interface. usb 3.1 borrows the native device for
   * the whole of a transfer and cannot cancel it, so a release/close/reconfigure issued while one
   * runs throws "cannot be borrowed mutably" and leaves the interface claimed (seen on a real
   * kernel). Those calls wait for these first; each ends within its own nusb timeout.
   */
  private readonly nativeCalls = new Set<Promise<void>>();

  constructor(
    readonly native: NusbNativeDevice,
    private readonly timeouts: NusbTimeouts,
    readonly label: string,
  ) {
    this.usbVersionMajor = native.usbVersionMajor;
    this.usbVersionMinor = native.usbVersionMinor;
    this.usbVersionSubminor = native.usbVersionSubminor;
    this.deviceClass = native.deviceClass;
    this.deviceSubclass = native.deviceSubclass;
    this.deviceProtocol = native.deviceProtocol;
    this.vendorId = native.vendorId;
    this.productId = native.productId;
    this.deviceVersionMajor = native.deviceVersionMajor;
    this.deviceVersionMinor = native.deviceVersionMinor;
    this.deviceVersionSubminor = native.deviceVersionSubminor;
    // Read once: when sysfs lacks a string the native getter opens the device each time.
    this.manufacturerName = this.safeRead('manufacturerName', () => native.manufacturerName);
    this.productName = this.safeRead('productName', () => native.productName);
    this.serialNumber = this.safeRead('serialNumber', () => native.serialNumber);
  }

  get configuration(): USBConfiguration | null {
    return this.descriptors().configuration;
  }

  get configurations(): USBConfiguration[] {
    return this.descriptors().configurations;
  }

  get opened(): boolean {
    return this.state === 'open';
  }

  get isGone(): boolean {
    return this.gone;
  }

  /** Active configuration value, when the descriptors could be read. */
  get activeConfigurationValue(): number | null {
    return this.descriptors().activeValue;
  }

  markGone(): void {
    if (this.gone) return;
    this.gone = true;
    void this.pending.abort(
      undefined,
      () => usbError('NotFoundError', `transfer on ${this.label}: device disconnected`),
      0,
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
      await this.native.open();
      // Some builds of the binding swallow open errors and leave the device closed.
      if (!this.native.opened) throw new Error('open error: the device did not open');
    } catch (err) {
      this.state = 'closed';
      throwMapped('open', err, this.ctx());
    }
    this.state = 'open';
    if (!this.tracker) this.descriptors();
  }

  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.state = 'closing';
    try {
      await this.pending.abort(
        undefined,
        () =>
          this.gone
            ? usbError('NotFoundError', `transfer on ${this.label}: device disconnected`)
            : usbError('AbortError', `transfer on ${this.label} aborted: device closed`),
        0,
      );
      await this.nativeQuiet('close');
      await this.native.close();
    } catch (err) {
      log.warn({ err, device: this.label }, 'closing the nusb device failed');
    } finally {
      this.tracker?.reset();
      this.state = 'closed';
    }
  }

  forget(): Promise<void> {
    return this.close();
  }

  async selectConfiguration(configurationValue: number): Promise<void> {
    const op = `selectConfiguration(${configurationValue})`;
    this.assertOpen(op);
    const t = this.descriptors();
    if (!t.hasConfiguration(configurationValue)) {
      throw usbError('InvalidStateError', `${op} on ${this.label}: no such configuration`);
    }
    if (t.activeValue === configurationValue) return;
    await this.abortPending(undefined, 'configuration changing', op);
    try {
      await this.native.selectConfiguration(configurationValue);
    } catch (err) {
      throwMapped(op, err, this.ctx());
    }
    t.selectConfiguration(configurationValue);
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    const op = `claimInterface(${interfaceNumber})`;
    this.assertOpen(op);
    const t = this.assertInterface(op, interfaceNumber);
    if (t.isClaimed(interfaceNumber)) return;
    try {
      await this.native.claimInterface(interfaceNumber);
    } catch (err) {
      throwMapped(op, err, this.ctx());
    }
    t.claim(interfaceNumber);
  }

  async releaseInterface(interfaceNumber: number): Promise<void> {
    const op = `releaseInterface(${interfaceNumber})`;
    this.assertOpen(op);
    const t = this.assertInterface(op, interfaceNumber);
    if (!t.isClaimed(interfaceNumber)) return;
    await this.abortPending(interfaceNumber, `interface ${interfaceNumber} released`, op);
    try {
      await this.native.releaseInterface(interfaceNumber);
    } catch (err) {
      // Only a device that left counts as released anyway: otherwise it is still claimed natively.
      if (this.gone) t.release(interfaceNumber);
      throwMapped(op, err, this.ctx());
    }
    t.release(interfaceNumber);
  }

  async selectAlternateInterface(interfaceNumber: number, alternateSetting: number): Promise<void> {
    const op = `selectAlternateInterface(${interfaceNumber}, ${alternateSetting})`;
    this.assertOpen(op);
    const t = this.assertInterface(op, interfaceNumber);
    if (!t.isClaimed(interfaceNumber)) {
      throw usbError('InvalidStateError', `${op} on ${this.label}: interface not claimed`);
    }
    await this.abortPending(interfaceNumber, 'alternate setting changing', op);
    try {
      await this.native.selectAlternateInterface(interfaceNumber, alternateSetting);
    } catch (err) {
      throwMapped(op, err, this.ctx());
    }
    t.selectAlternate(interfaceNumber, alternateSetting);
  }

  controlTransferIn(setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult> {
    const op = `controlTransferIn(${describeSetup(setup)})`;
    const timeoutMs = this.timeouts.controlTimeoutMs;
    return this.run(op, undefined, undefined, timeoutMs, () =>
      this.native.nativeControlTransferIn(plainSetup(setup), nusbTimeout(timeoutMs), length),
    ).then((r) => (r.kind === 'stall' || r.value === null ? inStatus('stall') : inOk(r.value)));
  }

  controlTransferOut(setup: USBControlTransferParameters, data?: BufferSource): Promise<USBOutTransferResult> {
    const op = `controlTransferOut(${describeSetup(setup)})`;
    const timeoutMs = this.timeouts.controlTimeoutMs;
    // Always a Uint8Array: the package's own wrapper throws a TypeError on undefined.
    const bytes = Uint8Array.from(toBytes(data));
    return this.run(op, undefined, undefined, timeoutMs, () =>
      this.native.nativeControlTransferOut(plainSetup(setup), nusbTimeout(timeoutMs), bytes),
    ).then((r) => (r.kind === 'stall' || r.value < 0 ? outResult('stall', 0) : outResult('ok', r.value)));
  }

  async clearHalt(direction: USBDirection, endpointNumber: number): Promise<void> {
    const op = `clearHalt(${direction} ${endpointNumber})`;
    this.assertOpen(op);
    // Queued behind transfers on the endpoint: nusb cannot touch an endpoint in use.
    await this.endpoints.run(`${direction}:${endpointNumber}`, async () => {
      try {
        await this.native.clearHalt(direction, endpointNumber);
      } catch (err) {
        throwMapped(op, err, this.ctx());
      }
    });
  }

  transferIn(endpointNumber: number, length: number): Promise<USBInTransferResult> {
    const op = `transferIn(${endpointNumber}, ${length})`;
    const timeoutMs = this.timeouts.inTimeoutMs;
    let found: { interfaceNumber: number } | undefined;
    try {
      found = this.assertEndpoint(op, 'in', endpointNumber);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.run(op, found.interfaceNumber, `in:${endpointNumber}`, timeoutMs, () =>
      this.native.nativeTransferIn(endpointNumber, nusbTimeout(timeoutMs), length),
    ).then((r) => (r.kind === 'stall' || r.value === null ? inStatus('stall') : inOk(r.value)));
  }

  transferOut(endpointNumber: number, data: BufferSource): Promise<USBOutTransferResult> {
    const bytes = Uint8Array.from(toBytes(data));
    const op = `transferOut(${endpointNumber}, ${bytes.byteLength} bytes)`;
    const timeoutMs = this.timeouts.outTimeoutMs;
    let found: { interfaceNumber: number } | undefined;
    try {
      found = this.assertEndpoint(op, 'out', endpointNumber);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.run(op, found.interfaceNumber, `out:${endpointNumber}`, timeoutMs, () =>
      this.native.nativeTransferOut(endpointNumber, nusbTimeout(timeoutMs), bytes),
    ).then((r) => (r.kind === 'stall' || r.value < 0 ? outResult('stall', 0) : outResult('ok', r.value)));
  }

  async isochronousTransferIn(): Promise<USBIsochronousInTransferResult> {
    throw usbError('NotSupportedError', 'isochronous transfers are not supported by the nusb backend');
  }

  async isochronousTransferOut(): Promise<USBIsochronousOutTransferResult> {
    throw usbError('NotSupportedError', 'isochronous transfers are not supported by the nusb backend');
  }

  async reset(): Promise<void> {
    this.assertOpen('reset');
    await this.abortPending(undefined, 'device reset', 'reset');
    try {
      await this.native.reset();
    } catch (err) {
      throwMapped('reset', err, this.ctx());
    }
  }

  /** Runs `fn` with the native device open, opening it briefly if this adapter is closed. */
  async withOpen<T>(op: string, fn: () => Promise<T>): Promise<T> {
    this.assertPresent(op);
    if (this.state === 'open' || this.native.opened) return fn();
    try {
      await this.native.open();
    } catch (err) {
      throwMapped(op, err, this.ctx());
    }
    try {
      return await fn();
    } finally {
      if (this.state === 'closed') await this.native.close().catch(() => undefined);
    }
  }

  // -- internals ------------------------------------------------------------------------------

  private safeRead(what: string, read: () => string | null): string | null {
    try {
      return read() ?? null;
    } catch (err) {
      log.debug({ err, device: this.label, what }, 'string not readable');
      return null;
    }
  }

  private descriptors(): ConfigurationTracker {
    if (this.tracker) return this.tracker;
    try {
      const configs = this.native.configurations.map(toWebUsbConfiguration);
      let active: number | null = null;
      try {
        active = this.native.configuration?.configurationValue ?? null;
      } catch (err) {
        log.debug({ err, device: this.label }, 'active configuration not readable');
      }
      this.tracker = new ConfigurationTracker(configs, active);
      return this.tracker;
    } catch (err) {
      // Not cached: the getters open the device, which may work later (after open()).
      log.debug({ err, device: this.label }, 'configuration descriptors not readable');
      return new ConfigurationTracker([], null);
    }
  }

  private ctx(timeoutMs?: number): NusbErrorContext {
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

  private assertInterface(op: string, interfaceNumber: number): ConfigurationTracker {
    const t = this.descriptors();
    if (!t.interfaceDescriptor(interfaceNumber)) {
      throw usbError(
        'InvalidStateError',
        `${op} on ${this.label}: the active configuration has no such interface`,
      );
    }
    return t;
  }

  private assertEndpoint(op: string, direction: USBDirection, endpointNumber: number): { interfaceNumber: number } {
    this.assertOpen(op);
    const found = this.descriptors().findEndpoint(direction, endpointNumber);
    if (!found) {
      throw usbError(
        'InvalidStateError',
        `${op} on ${this.label}: endpoint ${endpointNumber} ${direction.toUpperCase()} is not in a claimed interface`,
      );
    }
    if (found.endpoint.type === 'isochronous') {
      throw usbError('NotSupportedError', `${op} on ${this.label}: isochronous endpoints are not supported`);
    }
    return found;
  }

  /**
   * Waits for the native calls still running (all of them: a transfer borrows the whole native
   * device), bounded by the longest transfer timeout: after that the call is reported, not waited for.
   */
  private async nativeQuiet(op: string): Promise<void> {
    const running = [...this.nativeCalls];
    if (running.length === 0) return;
    const t = this.timeouts;
    const boundMs = Math.max(t.inTimeoutMs, t.outTimeoutMs, t.controlTimeoutMs) + 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), boundMs);
    });
    const quiet = await Promise.race([Promise.all(running).then(() => true), late]);
    clearTimeout(timer);
    if (!quiet) log.warn({ device: this.label, op, running: running.length, boundMs }, 'native calls still running');
  }

  /** Rejects the pending transfers (of one interface, or all) at once, then lets the native calls end. */
  private async abortPending(interfaceNumber: number | undefined, why: string, op: string): Promise<void> {
    await this.pending.abort(
      interfaceNumber,
      () => usbError('AbortError', `transfer on ${this.label} aborted: ${why}`),
      0,
    );
    await this.nativeQuiet(op);
  }

  /**
   * One native call, tracked so release/close reject its caller at once (AbortError) and,
   * when `queueKey` is set, queued behind the endpoint's previous native call. A call aborted
   * while still queued is never submitted; a late native result after an abort is dropped.
   */
  private run<T>(
    op: string,
    interfaceNumber: number | undefined,
    queueKey: string | undefined,
    timeoutMs: number,
    call: () => Promise<T>,
  ): Promise<{ kind: 'ok'; value: T } | { kind: 'stall' }> {
    try {
      this.assertOpen(op);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.pending.track(interfaceNumber, (onAbort) => {
      return new Promise((resolve, reject) => {
        let aborted = false;
        onAbort((reason) => {
          aborted = true;
          reject(reason);
        });
        const job = async (): Promise<void> => {
          if (aborted) return;
          let finish!: () => void;
          const done = new Promise<void>((r) => (finish = r));
          this.nativeCalls.add(done);
          try {
            const value = await call();
            if (!aborted) resolve({ kind: 'ok', value });
            else log.debug({ device: this.label, op }, 'dropped a result that arrived after abort');
          } catch (err) {
            if (aborted) return;
            const o = mapNusbError(op, err, this.ctx(timeoutMs));
            if (o.kind === 'error') reject(o.error);
            else resolve(o);
          } finally {
            this.nativeCalls.delete(done);
            finish();
          }
        };
        if (queueKey) void this.endpoints.run(queueKey, job);
        else void job();
      });
    });
  }
}

function plainSetup(s: USBControlTransferParameters): NusbSetup {
  return { requestType: s.requestType, recipient: s.recipient, request: s.request, value: s.value, index: s.index };
}

function nusbTimeout(ms: number): number {
  return ms > 0 ? Math.min(Math.ceil(ms), NUSB_MAX_TIMEOUT) : NUSB_MAX_TIMEOUT;
}

// ---------------------------------------------------------------------------------------------
// HostDevice and backend

/** nusb's bus id as a bus number (Linux: "1" or "001"); undefined where it is not numeric. */
export function nusbLocation(native: Pick<NusbNativeDevice, 'bus' | 'ports' | 'address'>): UsbLocation | undefined {
  const bus = /^\d+$/.test(native.bus) ? Number(native.bus) : undefined;
  if (bus === undefined) return undefined;
  return { busNumber: bus, portNumbers: [...native.ports], deviceAddress: native.address };
}

class NusbHostDevice implements HostDevice {
  readonly key: string;
  readonly usb: NusbUsbDevice;
  readonly location: UsbLocation | undefined;
  readonly kernelDriver: KernelDriverControl | undefined;
  readonly maxTransfersInFlight = 1;

  constructor(native: NusbNativeDevice, opts: ResolvedOptions) {
    this.location = nusbLocation(native);
    const where = this.location ? formatPortPath(this.location) : native.handle;
    this.key = this.location ? `nusb:${where}@${native.address}` : `nusb:${native.handle}`;
    const label = `${hex4(native.vendorId)}:${hex4(native.productId)} at ${where}`;
    this.usb = new NusbUsbDevice(native, opts, label);
    const usb = this.usb;
    const loc = this.location;
    this.kernelDriver =
      opts.platform === 'linux' && loc
        ? {
            // nusb 3.1 has no query for this; sysfs shows the bound driver as a `driver` link.
            isActive: async (n) => {
              const dir = `${sysfsUsbRoot(opts)}/devices/${sysfsDeviceName(loc)}`;
              const cfg = usb.activeConfigurationValue ?? (await readSysfsStringAsync(`${dir}/bConfigurationValue`));
              if (cfg === null || cfg === '') return false;
              return existsSync(`${dir}:${cfg}.${n}/driver`);
            },
            detach: (n) =>
              usb.withOpen(`kernelDriver.detach(${n})`, async () => {
                try {
                  await native.detachKernelDriver(n);
                } catch (err) {
                  // Nothing bound: already the state the caller wants.
                  if (/no kernel driver/i.test(errorMessage(err))) return;
                  throwMapped(`kernelDriver.detach(${n})`, err, { gone: usb.isGone, device: label });
                }
              }),
            attach: (n) =>
              usb.withOpen(`kernelDriver.attach(${n})`, async () => {
                try {
                  await native.attachKernelDriver(n);
                } catch (err) {
                  if (/already attached/i.test(errorMessage(err))) return;
                  throwMapped(`kernelDriver.attach(${n})`, err, { gone: usb.isGone, device: label });
                }
              }),
          }
        : undefined;
  }
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

export interface NusbBackendOptions extends SysfsOptions {
  controlTimeoutMs?: number;
  inTimeoutMs?: number;
  outTimeoutMs?: number;
  /** The loaded native binding (tests pass a fake); loaded on demand otherwise. */
  module?: NusbModule;
  /** Where udevd's control socket lives; without udevd nusb sees no hotplug events. */
  udevControlPath?: string;
}

type ResolvedOptions = NusbTimeouts & { platform: NodeJS.Platform; sysfsUsbPath: string };

export class NusbBackend implements HostBackend {
  readonly name = 'nusb';
  private readonly opts: ResolvedOptions;
  // nusb hands out a new object per listing; the handle names the attachment.
  private readonly devices = new DeviceRegistry<string, NusbHostDevice>();
  private readonly hub: WatchHub;
  private emitter: NusbEmitter | null = null;
  private closed = false;

  constructor(
    private readonly lib: NusbModule,
    private readonly options: Omit<NusbBackendOptions, 'module'> = {},
  ) {
    this.opts = {
      controlTimeoutMs: options.controlTimeoutMs ?? 1000,
      inTimeoutMs: options.inTimeoutMs ?? 1000,
      outTimeoutMs: options.outTimeoutMs ?? 5000,
      platform: options.platform ?? process.platform,
      sysfsUsbPath: sysfsUsbRoot(options),
    };
    this.hub = new WatchHub(
      () => this.startWatcher(),
      () => this.stopWatcher(),
      log,
    );
  }

  async getDevices(): Promise<HostDevice[]> {
    this.assertNotClosed();
    let list: NusbNativeDevice[];
    try {
      list = await this.lib.nativeGetDevices();
    } catch (err) {
      const cls = classifyNusbError(err);
      if (cls === 'no-subsystem') {
        throw new NoUsbSubsystemError('nusb', `${sysfsUsbRoot(this.opts)}/devices/ not found`);
      }
      const hint = cls === 'access' ? ' (no read access to /sys/bus/usb/devices)' : '';
      throw new HostBackendError('nusb', `listing devices failed: ${errorMessage(err)}${hint}`, {
        cause: err,
      });
    }
    const devices = list.map((n) => this.wrap(n));
    if (!this.hub.active) this.devices.keepOnly(new Set(list.map((n) => n.handle)));
    return devices;
  }

  async watch(listener: (event: HostEvent) => void): Promise<() => void> {
    this.assertNotClosed();
    const missing = missingUsbSysfs(this.opts);
    if (missing) throw new NoUsbSubsystemError('nusb', missing);
    return this.hub.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Stops the native watcher: its thread-safe callbacks would keep the process alive.
    await this.hub.close();
    await this.devices.closeAll();
  }

  private async startWatcher(): Promise<void> {
    const emitter = new this.lib.Emitter();
    try {
      // Each resolves only after nusb's watcher is set up: no event after this is lost.
      await emitter.addAttach(this.onAttach);
      await emitter.addDetach(this.onDetach);
    } catch (err) {
      await emitter.removeAttach().catch(() => undefined);
      await emitter.removeDetach().catch(() => undefined);
      throw new HostBackendError('nusb', `starting the hotplug watcher failed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    this.emitter = emitter;
    const udev = this.options.udevControlPath ?? '/run/udev/control';
    if (this.opts.platform === 'linux' && !existsSync(udev)) {
      log.warn(
        { udev },
        'no udevd control socket: nusb hears hotplug through udev, so connect/disconnect events may never arrive',
      );
    }
  }

  private async stopWatcher(): Promise<void> {
    const emitter = this.emitter;
    this.emitter = null;
    if (!emitter) return;
    await emitter.removeAttach();
    await emitter.removeDetach();
  }

  private readonly onAttach = (native: NusbNativeDevice): void => {
    this.hub.enqueue(() => ({ type: 'connect', device: this.wrap(native) }));
  };

  private readonly onDetach = (handle: string): void => {
    this.hub.enqueue(() => {
      const device = this.devices.remove(handle);
      return device && { type: 'disconnect', device };
    });
  };

  private wrap(native: NusbNativeDevice): NusbHostDevice {
    return this.devices.get(native.handle, () => new NusbHostDevice(native, this.opts));
  }

  private assertNotClosed(): void {
    if (this.closed) throw new HostBackendError('nusb', 'backend is closed');
  }
}

/** Loads the usb 3.x binding (unless given) and returns the backend. */
export async function createNusbBackend(opts: NusbBackendOptions = {}): Promise<NusbBackend> {
  const lib = opts.module ?? (await loadNusbModule());
  return new NusbBackend(lib, opts);
}
