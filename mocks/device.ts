// The mock device base: a WebUSB USBDevice whose far end is a chip emulation (a MockBehaviour).
// It does what a browser does between the two: state checks and the errors WebUSB gives, the
// configuration and interface state, and the chip's view of its device. The host controller's
// side (endpoint queues, packetisation, halts, timeouts, faults) is endpoint-pipes.ts; standard
// requests are answered by standard-requests.ts. It never imports drivers/: emulations plug in
// from above.
import type { Logger } from 'pino';
import { childLog } from '../src/log.ts';
import { transferError } from '../src/usb/host.ts';
import {
  bcdVersion,
  defineDevice,
  findEndpoint,
  toWebUsbConfiguration,
  type ConfigurationDescriptor,
  type DeviceDescriptor,
  type DeviceSpec,
  type EndpointDescriptor,
  type InterfaceDescriptor,
} from './descriptors.ts';
import { encodeRequestType, RECIPIENTS, REQUEST_TYPES, type ControlSetup, type MockBehaviour, type MockDeviceContext } from './emulation.ts';
import { EndpointPipes, type Settle, type TransferOptions } from './endpoint-pipes.ts';
import { MockLabError, TransferLimitError, webUsbError } from './errors.ts';
import { FaultInjector } from './faults.ts';
import { answerStandardRequest, ENDPOINT_HALT, REQ } from './standard-requests.ts';
import { TransferLog, type SetupFields, type TransferLogEntry, type TransferLogOptions } from './transfer-log.ts';
import { nextMacrotask } from './macrotask.ts';

// The emulation's side, here too for importers of the device base.
export type { ControlReply, ControlSetup, InReply, MockBehaviour, MockDeviceContext, OutReply } from './emulation.ts';
export { decodeSetup, encodeRequestType } from './emulation.ts';
export type { TransferOptions } from './endpoint-pipes.ts';

export interface MockUsbDeviceOptions {
  /** Default timeout of every transfer; undefined (the default) pends until answered. */
  transferTimeoutMs?: number;
  transferLog?: TransferLogOptions;
}

/** @internal What a host hands the device while it is plugged. */
export interface DeviceLink {
  /** Unplug from the host (the disconnect fault uses it). */
  unplug(): void;
  /** Transfers allowed in flight per endpoint; undefined: no limit (libusb). */
  readonly inFlightLimit: number | undefined;
  /** Why claiming an interface is refused (a kernel driver bound to it), or undefined. */
  claimBlocked(interfaceNumber: number): string | undefined;
  /** Configure (SET_CONFIGURATION of the first configuration) at plug, as Linux's usb core does. */
  readonly configureAtPlug: boolean;
}

export interface ResourceReport {
  plugged: boolean;
  opened: boolean;
  claimedInterfaces: number[];
  pendingTransfers: number;
}

const DISCONNECTED = 'The device was disconnected.';
const STATE_CHANGE = 'An operation that changes the device state is in progress.';
const IFACE_CHANGE = 'An operation that changes interface state is in progress.';
const NOT_OPEN = 'The device must be opened first.';
const NOT_CONFIGURED = 'The device must have a configuration selected.';
const NO_IFACE = 'The interface number provided is not supported by the device in its current configuration.';
const NO_ENDPOINT = 'The specified endpoint is not part of a claimed and selected alternate interface.';

const macrotask = nextMacrotask;

function toBytes(src: BufferSource | undefined): Uint8Array {
  if (src === undefined) return new Uint8Array(0);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength).slice();
  if (src instanceof ArrayBuffer) return new Uint8Array(src).slice();
  throw new TypeError('data must be a BufferSource (ArrayBuffer or a view of one)');
}

function view(u: Uint8Array): DataView {
  return new DataView(u.buffer, u.byteOffset, u.byteLength);
}

function checkUint(v: unknown, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new TypeError(`${what} must be an integer in 0..${max}, got ${String(v)}`);
  }
  return v;
}

/**
 * A WebUSB USBDevice backed by an emulation. Extras beyond WebUSB, for drivers and tests:
 * - `descriptor`: the raw descriptor set (bMaxPacketSize0, iSerialNumber, bcdDevice, ...);
 * - `transferTimeoutMs`, and an options argument on every transfer method ({ timeoutMs });
 * - `faults`, `transferLog` / `transfers`, `resources()` (leak checks), `queueIn()`.
 */
export class MockUsbDevice implements USBDevice {
  /** The raw descriptor set (normalised, frozen): what WebUSB does not show (bMaxPacketSize0, iSerialNumber, ...). */
  readonly descriptor: DeviceDescriptor;
  readonly behaviour: MockBehaviour;
  readonly faults = new FaultInjector();
  /** The transfer log itself (limit, clear, dropped); `transferLog` is its entries. */
  readonly transfers: TransferLog;
  /** Default timeout for every transfer, in ms; undefined pends until the device answers. */
  transferTimeoutMs: number | undefined;

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
  readonly configurations: USBConfiguration[];

  private readonly ctx: MockDeviceContext;
  private readonly webConfigs = new Map<number, USBConfiguration>();
  private link: DeviceLink | null = null;
  /** Bumped at every plug and unplug: async operations compare it to notice they lost the device. */
  private generation = 0;
  private isOpen = false;
  private forgotten = false;
  private configValue: number | null = null;
  private readonly alternates = new Map<number, number>();
  private readonly claimed = new Set<number>();
  private stateChanging = false;
  private readonly ifaceChanging = new Set<number>();
  private readonly pipes: EndpointPipes;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private logger: Logger | undefined;

  constructor(descriptor: DeviceSpec | DeviceDescriptor, behaviour: MockBehaviour = {}, options: MockUsbDeviceOptions = {}) {
    const d = defineDevice(descriptor);
    this.descriptor = d;
    this.behaviour = behaviour;
    this.transfers = new TransferLog(options.transferLog);
    this.transferTimeoutMs = options.transferTimeoutMs;
    const usb = bcdVersion(d.bcdUSB);
    const dev = bcdVersion(d.bcdDevice);
    this.usbVersionMajor = usb.major;
    this.usbVersionMinor = usb.minor;
    this.usbVersionSubminor = usb.subminor;
    this.deviceVersionMajor = dev.major;
    this.deviceVersionMinor = dev.minor;
    this.deviceVersionSubminor = dev.subminor;
    this.deviceClass = d.bDeviceClass;
    this.deviceSubclass = d.bDeviceSubClass;
    this.deviceProtocol = d.bDeviceProtocol;
    this.vendorId = d.idVendor;
    this.productId = d.idProduct;
    this.manufacturerName = d.manufacturer;
    this.productName = d.product;
    this.serialNumber = d.serialNumber;
    const state = {
      isClaimed: (n: number) => this.claimed.has(n),
      currentAlternate: (n: number) => this.alternates.get(n) ?? 0,
    };
    for (const c of d.configurations) this.webConfigs.set(c.bConfigurationValue, toWebUsbConfiguration(d, c, state));
    this.configurations = [...this.webConfigs.values()];
    this.ctx = this.makeContext();
    this.pipes = this.makePipes();
    behaviour.bind?.(this.ctx);
  }

  // ---- WebUSB attributes ----

  get opened(): boolean {
    return this.isOpen;
  }

  get configuration(): USBConfiguration | null {
    return this.configValue === null ? null : (this.webConfigs.get(this.configValue) ?? null);
  }

  // ---- accounting ----

  /** Plugged into a host right now. */
  get plugged(): boolean {
    return this.link !== null;
  }

  get pendingTransfers(): number {
    return this.pipes.pendingCount;
  }

  /** Pending transfers on one endpoint address (0 counts control transfers). */
  pendingOn(endpointAddress: number): number {
    return this.pipes.pendingOn(endpointAddress);
  }

  get claimedInterfaces(): number[] {
    return [...this.claimed].sort((a, b) => a - b);
  }

  /** Everything a leak check looks at, in one object. */
  resources(): ResourceReport {
    return {
      plugged: this.plugged,
      opened: this.isOpen,
      claimedInterfaces: this.claimedInterfaces,
      pendingTransfers: this.pipes.pendingCount,
    };
  }

  /** Transfer log entries, oldest first (a copy). */
  get transferLog(): TransferLogEntry[] {
    return this.transfers.entries();
  }

  clearTransferLog(): void {
    this.transfers.clear();
  }

  /** Whether an endpoint (address) is halted. */
  isHalted(endpointAddress: number): boolean {
    return this.pipes.halted.has(endpointAddress);
  }

  /**
   * Queues data the device sends on an IN endpoint as one transfer's worth: split into
   * wMaxPacketSize packets, with a ZLP after a full last packet so it ends a transfer. Queued
   * packets go out before anything the emulation's onIn produces. Cleared on unplug and reset.
   */
  queueIn(endpointAddress: number, data: ArrayLike<number>): void {
    const ep = this.endpointDescriptor(endpointAddress);
    if (!ep || !(endpointAddress & 0x80)) {
      throw new MockLabError(`queueIn: 0x${endpointAddress.toString(16)} is not an IN endpoint of this device`);
    }
    const size = ep.wMaxPacketSize & 0x7ff;
    const bytes = Uint8Array.from(data);
    const packets: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += size) packets.push(bytes.slice(at, at + size));
    if (bytes.length % size === 0) packets.push(new Uint8Array(0));
    this.pipes.inject(endpointAddress, packets);
  }

  // ---- host attachment (called by MockUsbHost) ----

  /** @internal */
  _connect(link: DeviceLink): void {
    if (this.link) throw new MockLabError('device is already plugged');
    this.link = link;
    this.generation++;
    this.forgotten = false;
    this.behaviour.plugged?.(this.ctx);
    if (link.configureAtPlug) this.applyConfiguration(this.descriptor.configurations[0].bConfigurationValue);
  }

  /** @internal Surprise removal: every pending transfer rejects NotFoundError. */
  _disconnect(): void {
    if (!this.link) return;
    this.link = null;
    this.generation++;
    this.isOpen = false;
    this.claimed.clear();
    this.ifaceChanging.clear();
    this.stateChanging = false;
    this.pipes.powerOff(() => transferError('disconnected', DISCONNECTED));
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.alternates.clear();
    this.configValue = null;
    this.behaviour.unplugged?.(this.ctx);
  }

  // ---- USBDevice methods ----

  async open(): Promise<void> {
    this.checkPresent();
    if (this.stateChanging) throw webUsbError('InvalidStateError', STATE_CHANGE);
    if (this.isOpen) return;
    await this.stateChange(() => {
      this.isOpen = true;
      this.behaviour.opened?.(this.ctx);
    });
  }

  async close(): Promise<void> {
    this.checkPresent();
    if (this.stateChanging) throw webUsbError('InvalidStateError', STATE_CHANGE);
    if (!this.isOpen) return;
    this.pipes.abortWhere(() => true, 'the device was closed');
    this.claimed.clear();
    await this.stateChange(() => this.closeNow());
  }

  async forget(): Promise<void> {
    if (this.isOpen) {
      this.pipes.abortWhere(() => true, 'the device was forgotten');
      this.claimed.clear();
      this.closeNow();
    }
    this.forgotten = true;
  }

  /** @internal Whether forget() hid it from the WebUSB getDevices(). */
  get _forgotten(): boolean {
    return this.forgotten;
  }

  /** @internal requestDevice() grants the permission again. */
  _unforget(): void {
    this.forgotten = false;
  }

  async selectConfiguration(configurationValue: number): Promise<void> {
    this.checkPresent();
    if (this.stateChanging) throw webUsbError('InvalidStateError', STATE_CHANGE);
    if (!this.isOpen) throw webUsbError('InvalidStateError', NOT_OPEN);
    if (!this.webConfigs.has(configurationValue)) {
      throw webUsbError('NotFoundError', 'The configuration value provided is not supported by the device.');
    }
    if (this.configValue === configurationValue) return;
    this.stateChanging = true;
    const gen = this.generation;
    try {
      this.pipes.abortWhere((p) => p.iface !== null, 'the configuration changed');
      this.claimed.clear();
      const r = await this.pipes.submitControl(
        { bmRequestType: 0x00, bRequest: REQ.SET_CONFIGURATION, wValue: configurationValue, wIndex: 0, wLength: 0 },
        new Uint8Array(0),
      );
      if (gen !== this.generation) throw webUsbError('NotFoundError', DISCONNECTED);
      if (r.status !== 'ok') throw webUsbError('NetworkError', 'Unable to set device configuration.');
    } finally {
      if (gen === this.generation) this.stateChanging = false;
    }
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    const iface = this.checkInterface(interfaceNumber);
    if (this.ifaceChanging.has(interfaceNumber)) throw webUsbError('InvalidStateError', IFACE_CHANGE);
    if (this.claimed.has(interfaceNumber)) return;
    const blocker = this.link?.claimBlocked(iface.bInterfaceNumber);
    if (blocker) {
      // Chrome says only "Unable to claim interface."; the detail helps whoever reads the test failure.
      throw webUsbError('NetworkError', `Unable to claim interface. (${blocker})`);
    }
    await this.interfaceChange(interfaceNumber, () => this.claimed.add(interfaceNumber));
  }

  async releaseInterface(interfaceNumber: number): Promise<void> {
    this.checkInterface(interfaceNumber);
    if (this.ifaceChanging.has(interfaceNumber)) throw webUsbError('InvalidStateError', IFACE_CHANGE);
    if (!this.claimed.has(interfaceNumber)) return;
    this.pipes.abortWhere((p) => p.iface === interfaceNumber, `interface ${interfaceNumber} was released`);
    this.claimed.delete(interfaceNumber);
    await this.interfaceChange(interfaceNumber, () => {});
  }

  async selectAlternateInterface(interfaceNumber: number, alternateSetting: number): Promise<void> {
    const iface = this.checkInterface(interfaceNumber);
    if (this.ifaceChanging.has(interfaceNumber)) throw webUsbError('InvalidStateError', IFACE_CHANGE);
    if (!this.claimed.has(interfaceNumber)) throw webUsbError('InvalidStateError', 'The interface must be claimed first.');
    if (!iface.alternates.some((a) => a.bAlternateSetting === alternateSetting)) {
      throw webUsbError('NotFoundError', 'The alternate setting provided is not supported by the device in its current configuration.');
    }
    this.pipes.abortWhere((p) => p.iface === interfaceNumber, `interface ${interfaceNumber} changed alternate setting`);
    this.ifaceChanging.add(interfaceNumber);
    const gen = this.generation;
    try {
      const r = await this.pipes.submitControl(
        { bmRequestType: 0x01, bRequest: REQ.SET_INTERFACE, wValue: alternateSetting, wIndex: interfaceNumber, wLength: 0 },
        new Uint8Array(0),
      );
      if (gen !== this.generation) throw webUsbError('NotFoundError', DISCONNECTED);
      // Linux accepts a stalled SET_INTERFACE for an interface with a single setting (many devices do that).
      if (r.status !== 'ok' && iface.alternates.length > 1) throw webUsbError('NetworkError', 'Unable to set device interface.');
      if (r.status !== 'ok') this.setAlternate(interfaceNumber, alternateSetting);
    } finally {
      if (gen === this.generation) this.ifaceChanging.delete(interfaceNumber);
    }
  }

  async controlTransferIn(setup: USBControlTransferParameters, length: number, options?: TransferOptions): Promise<USBInTransferResult> {
    const fields = this.checkControl(setup, 'in', checkUint(length, 0xffff, 'length'));
    const r = await this.pipes.submitControl(fields, undefined, options);
    return { status: r.status, data: view(r.data ?? new Uint8Array(0)) };
  }

  async controlTransferOut(setup: USBControlTransferParameters, data?: BufferSource, options?: TransferOptions): Promise<USBOutTransferResult> {
    const bytes = toBytes(data);
    const fields = this.checkControl(setup, 'out', checkUint(bytes.length, 0xffff, 'data length'));
    const r = await this.pipes.submitControl(fields, bytes, options);
    return { status: r.status, bytesWritten: r.bytesWritten ?? 0 };
  }

  async clearHalt(direction: USBDirection, endpointNumber: number): Promise<void> {
    const { address } = this.checkEndpoint(direction, endpointNumber);
    const gen = this.generation;
    const r = await this.pipes.submitControl(
      { bmRequestType: 0x02, bRequest: REQ.CLEAR_FEATURE, wValue: ENDPOINT_HALT, wIndex: address, wLength: 0 },
      new Uint8Array(0),
    );
    if (gen !== this.generation) throw webUsbError('NotFoundError', DISCONNECTED);
    if (r.status !== 'ok') throw webUsbError('NetworkError', 'Unable to clear endpoint.');
  }

  async transferIn(endpointNumber: number, length: number, options?: TransferOptions): Promise<USBInTransferResult> {
    const { address, iface, endpoint } = this.checkEndpoint('in', endpointNumber);
    checkUint(length, 0xffffffff, 'length');
    this.checkInFlight(address);
    const r = await new Promise<Settle>((settle) => {
      const p = this.pipes.newPending(`${endpoint.type as 'bulk' | 'interrupt'}-in`, address, iface, settle, { length });
      this.pipes.startTransfer(p, { on: 'in', endpoint: endpointNumber }, options);
    });
    if ('error' in r) throw r.error;
    return { status: r.status, data: view(r.data ?? new Uint8Array(0)) };
  }

  async transferOut(endpointNumber: number, data: BufferSource, options?: TransferOptions): Promise<USBOutTransferResult> {
    const { address, iface, endpoint } = this.checkEndpoint('out', endpointNumber);
    const bytes = toBytes(data);
    this.checkInFlight(address);
    const r = await new Promise<Settle>((settle) => {
      const p = this.pipes.newPending(`${endpoint.type as 'bulk' | 'interrupt'}-out`, address, iface, settle, { data: bytes });
      this.pipes.startTransfer(p, { on: 'out', endpoint: endpointNumber }, options);
    });
    if ('error' in r) throw r.error;
    return { status: r.status, bytesWritten: r.bytesWritten ?? 0 };
  }

  async isochronousTransferIn(_endpointNumber: number, _packetLengths: number[]): Promise<USBIsochronousInTransferResult> {
    throw webUsbError('NotSupportedError', 'isochronous transfers are not emulated by the mock USB lab');
  }

  async isochronousTransferOut(_endpointNumber: number, _data: BufferSource, _packetLengths: number[]): Promise<USBIsochronousOutTransferResult> {
    throw webUsbError('NotSupportedError', 'isochronous transfers are not emulated by the mock USB lab');
  }

  async reset(): Promise<void> {
    this.checkPresent();
    if (this.stateChanging) throw webUsbError('InvalidStateError', STATE_CHANGE);
    if (!this.isOpen) throw webUsbError('InvalidStateError', NOT_OPEN);
    this.pipes.abortWhere(() => true, 'the device was reset');
    await this.stateChange(() => {
      // A bus reset loses endpoint state and alternates; Linux restores the configuration and claims.
      this.pipes.resetEndpoints();
      this.alternates.clear();
      this.behaviour.reset?.(this.ctx);
    });
  }

  // ---- checks (WebUSB's order and errors) ----

  private checkPresent(): void {
    if (!this.link) throw webUsbError('NotFoundError', DISCONNECTED);
    if (this.forgotten) throw webUsbError('NotFoundError', 'The device was forgotten.');
  }

  private checkConfigured(): ConfigurationDescriptor {
    this.checkPresent();
    if (this.stateChanging) throw webUsbError('InvalidStateError', STATE_CHANGE);
    if (!this.isOpen) throw webUsbError('InvalidStateError', NOT_OPEN);
    const c = this.currentConfig();
    if (!c) throw webUsbError('InvalidStateError', NOT_CONFIGURED);
    return c;
  }

  private checkInterface(interfaceNumber: number): InterfaceDescriptor {
    const c = this.checkConfigured();
    const iface = c.interfaces.find((i) => i.bInterfaceNumber === interfaceNumber);
    if (!iface) throw webUsbError('NotFoundError', NO_IFACE);
    return iface;
  }

  private checkEndpoint(
    direction: USBDirection,
    endpointNumber: number,
  ): { address: number; iface: number; endpoint: EndpointDescriptor } {
    const c = this.checkConfigured();
    if (!Number.isInteger(endpointNumber) || endpointNumber < 1 || endpointNumber > 15) {
      throw webUsbError('IndexSizeError', 'The specified endpoint number is out of range.');
    }
    const address = endpointNumber | (direction === 'in' ? 0x80 : 0);
    const hit = findEndpoint(c, address, (n) => this.alternates.get(n) ?? 0);
    if (!hit || !this.claimed.has(hit.iface.bInterfaceNumber)) throw webUsbError('NotFoundError', NO_ENDPOINT);
    if (hit.endpoint.type !== 'bulk' && hit.endpoint.type !== 'interrupt') {
      throw webUsbError('InvalidAccessError', 'The specified endpoint is not a bulk or interrupt endpoint.');
    }
    return { address, iface: hit.iface.bInterfaceNumber, endpoint: hit.endpoint };
  }

  private checkInFlight(address: number): void {
    const limit = this.link?.inFlightLimit;
    if (limit === undefined) return;
    if (this.pipes.queuedOn(address) >= limit) throw new TransferLimitError(address, limit);
  }

  private checkControl(setup: USBControlTransferParameters, direction: USBDirection, wLength: number): SetupFields {
    if (!REQUEST_TYPES.includes(setup?.requestType)) {
      throw new TypeError(`requestType must be one of ${REQUEST_TYPES.join(', ')}, got ${String(setup?.requestType)}`);
    }
    if (!RECIPIENTS.includes(setup.recipient)) {
      throw new TypeError(`recipient must be one of ${RECIPIENTS.join(', ')}, got ${String(setup.recipient)}`);
    }
    const bRequest = checkUint(setup.request, 0xff, 'request');
    const wValue = checkUint(setup.value, 0xffff, 'value');
    const wIndex = checkUint(setup.index, 0xffff, 'index');
    this.checkPresent();
    if (this.stateChanging) throw webUsbError('InvalidStateError', STATE_CHANGE);
    if (!this.isOpen) throw webUsbError('InvalidStateError', NOT_OPEN);
    if (setup.recipient === 'interface') {
      this.checkInterface(wIndex & 0xff);
      if (!this.claimed.has(wIndex & 0xff)) throw webUsbError('InvalidStateError', 'The specified interface has not been claimed.');
    } else if (setup.recipient === 'endpoint') {
      this.checkConfigured();
      const address = wIndex & 0x8f;
      const hit = findEndpoint(this.currentConfig()!, address, (n) => this.alternates.get(n) ?? 0);
      if ((address & 0x0f) === 0 || !hit || !this.claimed.has(hit.iface.bInterfaceNumber)) {
        throw webUsbError('NotFoundError', NO_ENDPOINT);
      }
    }
    return {
      bmRequestType: encodeRequestType(direction, setup.requestType, setup.recipient),
      bRequest,
      wValue,
      wIndex,
      wLength,
    };
  }

  // ---- device and interface state ----

  private currentConfig(): ConfigurationDescriptor | undefined {
    return this.configValue === null
      ? undefined
      : this.descriptor.configurations.find((c) => c.bConfigurationValue === this.configValue);
  }

  private endpointDescriptor(address: number): EndpointDescriptor | undefined {
    for (const c of this.descriptor.configurations) {
      for (const i of c.interfaces) {
        for (const a of i.alternates) {
          const e = a.endpoints.find((x) => x.bEndpointAddress === address);
          if (e) return e;
        }
      }
    }
    return undefined;
  }

  /** The endpoint descriptor in the current configuration and alternates. */
  private activeEndpoint(address: number): EndpointDescriptor | undefined {
    const c = this.currentConfig();
    return c ? findEndpoint(c, address, (n) => this.alternates.get(n) ?? 0)?.endpoint : undefined;
  }

  private async stateChange(apply: () => void): Promise<void> {
    this.stateChanging = true;
    const gen = this.generation;
    try {
      await macrotask();
      if (gen !== this.generation) throw webUsbError('NotFoundError', DISCONNECTED);
      apply();
    } finally {
      if (gen === this.generation) this.stateChanging = false;
    }
  }

  private async interfaceChange(interfaceNumber: number, apply: () => void): Promise<void> {
    this.ifaceChanging.add(interfaceNumber);
    const gen = this.generation;
    try {
      await macrotask();
      if (gen !== this.generation) throw webUsbError('NotFoundError', DISCONNECTED);
      apply();
    } finally {
      if (gen === this.generation) this.ifaceChanging.delete(interfaceNumber);
    }
  }

  private closeNow(): void {
    this.isOpen = false;
    this.behaviour.closed?.(this.ctx);
  }

  private applyConfiguration(value: number | null): void {
    const changed = value !== this.configValue;
    if (changed) {
      this.pipes.abortWhere((p) => p.iface !== null, 'the configuration changed');
      this.claimed.clear();
    }
    this.configValue = value;
    this.alternates.clear();
    this.pipes.halted.clear();
    this.behaviour.configurationChanged?.(value, this.ctx);
  }

  private setAlternate(interfaceNumber: number, alternateSetting: number): void {
    this.alternates.set(interfaceNumber, alternateSetting);
    const iface = this.currentConfig()?.interfaces.find((i) => i.bInterfaceNumber === interfaceNumber);
    for (const a of iface?.alternates ?? []) for (const e of a.endpoints) this.pipes.halted.delete(e.bEndpointAddress);
    this.behaviour.alternateChanged?.(interfaceNumber, alternateSetting, this.ctx);
  }


  /** State that follows an accepted standard request, whoever answered it. */
  private afterStandard(s: ControlSetup): void {
    switch (s.bRequest) {
      case REQ.SET_CONFIGURATION:
        if (s.recipient === 'device') this.applyConfiguration(s.wValue === 0 ? null : s.wValue);
        break;
      case REQ.SET_INTERFACE:
        if (s.recipient === 'interface') this.setAlternate(s.wIndex & 0xff, s.wValue);
        break;
      case REQ.CLEAR_FEATURE:
        if (s.recipient === 'endpoint' && s.wValue === ENDPOINT_HALT) {
          const a = s.wIndex & 0x8f;
          if (this.pipes.clearHalt(a)) this.behaviour.haltCleared?.(a, this.ctx);
        }
        break;
      case REQ.SET_FEATURE:
        if (s.recipient === 'endpoint' && s.wValue === ENDPOINT_HALT && (s.wIndex & 0x0f) !== 0) this.pipes.halt(s.wIndex & 0x8f);
        break;
    }
  }

  // ---- the chip's view ----

  private log(): Logger {
    this.logger ??= childLog('mocks.device', {
      vid: this.descriptor.idVendor.toString(16).padStart(4, '0'),
      pid: this.descriptor.idProduct.toString(16).padStart(4, '0'),
    });
    return this.logger;
  }

  private makePipes(): EndpointPipes {
    const dev = this;
    return new EndpointPipes({
      behaviour: dev.behaviour,
      ctx: dev.ctx,
      transfers: dev.transfers,
      faults: dev.faults,
      get transferTimeoutMs() {
        return dev.transferTimeoutMs;
      },
      get generation() {
        return dev.generation;
      },
      activeEndpoint: (address) => dev.activeEndpoint(address),
      unplug: (gen) => {
        if (gen === dev.generation) dev.link?.unplug();
      },
      powerTimer: (ms, fn) => {
        const t = setTimeout(() => {
          dev.timers.delete(t);
          fn();
        }, ms);
        dev.timers.add(t);
      },
      standardRequest: (setup) =>
        answerStandardRequest(setup, {
          descriptor: dev.descriptor,
          configuration: dev.currentConfig(),
          configurationValue: dev.configValue,
          alternateSetting: (n) => dev.alternates.get(n) ?? 0,
          isHalted: (a) => dev.pipes.halted.has(a),
          activeEndpoint: (a) => dev.activeEndpoint(a),
        }),
      afterStandard: (setup) => dev.afterStandard(setup),
      log: () => dev.log(),
    });
  }

  private makeContext(): MockDeviceContext {
    const dev = this;
    const timer = (ms: number, fn: () => void, repeat: boolean): (() => void) => {
      if (!dev.link) return () => {};
      const t: ReturnType<typeof setTimeout> = repeat
        ? setInterval(fn, ms)
        : setTimeout(() => {
            dev.timers.delete(t);
            fn();
          }, ms);
      t.unref?.();
      dev.timers.add(t);
      return () => {
        clearTimeout(t);
        dev.timers.delete(t);
      };
    };
    return {
      device: dev,
      descriptor: dev.descriptor,
      get plugged() {
        return dev.link !== null;
      },
      get opened() {
        return dev.isOpen;
      },
      get configurationValue() {
        return dev.configValue;
      },
      alternateSetting: (n) => dev.alternates.get(n) ?? 0,
      inReady: (ep) => dev.pipes.inReady(ep),
      halt: (ep) => dev.pipes.halt(ep),
      isHalted: (ep) => dev.pipes.halted.has(ep),
      after: (ms, fn) => timer(ms, fn, false),
      every: (ms, fn) => timer(ms, fn, true),
      now: () => performance.now(),
      get log() {
        return dev.log();
      },
    };
  }
}
