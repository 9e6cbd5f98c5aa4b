// The mock device base: a WebUSB USBDevice whose far end is a chip emulation (a MockBehaviour).
// It does what a browser and a USB host controller do between the two: state checks and the
// errors WebUSB gives, endpoint queues, packetisation of IN transfers, halts, timeouts, faults,
// and a transfer log. It never imports drivers/: emulations plug in from above.
import type { Logger } from 'pino';
import { childLog } from '../src/log.ts';
import { transferError } from '../src/usb/host.ts';
import {
  bcdVersion,
  defineDevice,
  encodeConfigurationDescriptor,
  encodeDeviceDescriptor,
  encodeLangIds,
  encodeStringDescriptor,
  findEndpoint,
  toWebUsbConfiguration,
  type ConfigurationDescriptor,
  type DeviceDescriptor,
  type DeviceSpec,
  type EndpointDescriptor,
  type InterfaceDescriptor,
} from './descriptors.ts';
import { MockLabError, TransferLimitError, webUsbError } from './errors.ts';
import { FaultInjector, type FiredFault } from './faults.ts';
import { TransferLog, type SetupFields, type TransferKind, type TransferLogEntry, type TransferLogOptions } from './transfer-log.ts';

// ---- the emulation side -------------------------------------------------------------------

/** A SETUP packet, raw fields plus their decoded meaning. */
export interface ControlSetup extends SetupFields {
  readonly direction: USBDirection;
  readonly requestType: USBRequestType | 'reserved';
  readonly recipient: USBRecipient | 'reserved';
}

/**
 * A control handler's answer:
 * - Uint8Array: the data stage of an IN request (cut to wLength; shorter is a short answer);
 * - 'ack': accepted, no data (OUT requests, or an IN request answered with zero bytes);
 * - 'stall': refused (a protocol stall: only this request fails);
 * - undefined: not mine; the base answers standard requests from the descriptors, stalls the rest.
 */
export type ControlReply = Uint8Array | 'ack' | 'stall' | undefined;

/**
 * One IN packet: data of at most `maxBytes` (a packet shorter than wMaxPacketSize, including an
 * empty one, a ZLP, ends the transfer; a full one lets it continue), 'stall' to halt the endpoint,
 * or undefined to NAK: nothing to send now (call ctx.inReady(endpoint) when there is).
 */
export type InReply = Uint8Array | 'stall' | undefined;

/** An OUT answer: nothing (accepted) or 'stall' (halts the endpoint). */
export type OutReply = void | 'stall';

/**
 * What a chip emulation implements; every member is optional. The device calls these from the
 * host side; `ctx` is the device as the chip sees it.
 *
 * IN data is pulled: when an IN transfer is pending on an endpoint (or a new one is submitted), the
 * base calls onIn for one packet at a time. A chip with nothing to send returns undefined (NAK) and
 * calls `ctx.inReady(endpoint)` later, from a timer or an event (an FTDI status packet every latency
 * period, a PL2303 notification when a modem line changes), and the base polls again. Nothing is
 * taken from the chip unless a transfer is there to carry it, so no data is lost to timeouts.
 */
export interface MockBehaviour {
  /** Once, when the device is constructed. */
  bind?(ctx: MockDeviceContext): void;
  /** A control request: setup plus the OUT data stage (undefined for IN requests). May be async (a slow answer). */
  onControl?(setup: ControlSetup, data: Uint8Array | undefined, ctx: MockDeviceContext): ControlReply | Promise<ControlReply>;
  /**
   * Bulk/interrupt OUT data for an endpoint (address, e.g. 0x02). Calls are serialised per endpoint.
   * A returned promise holds the transfer pending until it settles (a NAK while the chip's buffer is
   * full); the data is the chip's once this is called, even if the host later times out.
   */
  onOut?(endpointAddress: number, data: Uint8Array, ctx: MockDeviceContext): OutReply | Promise<OutReply>;
  /** One IN packet for an endpoint (address, e.g. 0x81), at most maxBytes (normally wMaxPacketSize). Synchronous. */
  onIn?(endpointAddress: number, maxBytes: number, ctx: MockDeviceContext): InReply;
  /** Plugged into a host (powered). */
  plugged?(ctx: MockDeviceContext): void;
  /** Unplugged (power lost): stop producing; ctx timers are already cleared. */
  unplugged?(ctx: MockDeviceContext): void;
  /** Bus reset (USBDevice.reset()). */
  reset?(ctx: MockDeviceContext): void;
  /** A host opened / closed the device (no bus traffic in reality; here for convenience). */
  opened?(ctx: MockDeviceContext): void;
  closed?(ctx: MockDeviceContext): void;
  /** The configuration changed (SET_CONFIGURATION, the host configuring at plug); null = unconfigured. */
  configurationChanged?(configurationValue: number | null, ctx: MockDeviceContext): void;
  /** SET_INTERFACE changed an interface's alternate setting. */
  alternateChanged?(interfaceNumber: number, alternateSetting: number, ctx: MockDeviceContext): void;
  /** A halt on one of the chip's endpoints was cleared (CLEAR_FEATURE ENDPOINT_HALT). */
  haltCleared?(endpointAddress: number, ctx: MockDeviceContext): void;
}

/** The device as its chip emulation sees it. */
export interface MockDeviceContext {
  readonly device: MockUsbDevice;
  readonly descriptor: DeviceDescriptor;
  readonly plugged: boolean;
  readonly opened: boolean;
  readonly configurationValue: number | null;
  alternateSetting(interfaceNumber: number): number;
  /** Tells the base new IN data may be ready on an endpoint: pending IN transfers there are polled again. */
  inReady(endpointAddress: number): void;
  /** Halts an endpoint from the device side (a functional stall); pending and new transfers on it stall. */
  halt(endpointAddress: number): void;
  isHalted(endpointAddress: number): boolean;
  /** Timers that die with the device's power: all cleared on unplug. Return a cancel function. Unref'd. */
  after(ms: number, fn: () => void): () => void;
  every(ms: number, fn: () => void): () => void;
  now(): number;
  readonly log: Logger;
}

// ---- the host side ------------------------------------------------------------------------

/** Per-transfer options beyond WebUSB's arguments (the mock's extension; backends have a timeout too). */
export interface TransferOptions {
  /** Milliseconds until TimeoutError; undefined: the device's transferTimeoutMs. */
  timeoutMs?: number;
}

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

type Settle =
  | { status: USBTransferStatus; data?: Uint8Array; bytesWritten?: number }
  | { error: Error };

interface Pending {
  kind: TransferKind;
  /** Endpoint address (0 / 0x80 for control). */
  ep: number;
  /** Interface owning the endpoint (bulk/interrupt); null for control. */
  iface: number | null;
  entry: TransferLogEntry;
  settle: (s: Settle) => void;
  done: boolean;
  timer?: ReturnType<typeof setTimeout>;
  /** Never served (timeout / disconnect fault). */
  blocked: boolean;
  notBefore: number;
  /** IN: bytes asked and received; limit < length under a short fault. */
  length: number;
  limit: number;
  short: boolean;
  chunks: Uint8Array[];
  got: number;
  /** OUT / control OUT data. */
  data?: Uint8Array;
  started: boolean;
  fault?: FiredFault;
}

const REQ = {
  GET_STATUS: 0x00,
  CLEAR_FEATURE: 0x01,
  SET_FEATURE: 0x03,
  SET_ADDRESS: 0x05,
  GET_DESCRIPTOR: 0x06,
  GET_CONFIGURATION: 0x08,
  SET_CONFIGURATION: 0x09,
  GET_INTERFACE: 0x0a,
  SET_INTERFACE: 0x0b,
} as const;
const ENDPOINT_HALT = 0;

const requestTypes: readonly USBRequestType[] = ['standard', 'class', 'vendor'];
const recipients: readonly USBRecipient[] = ['device', 'interface', 'endpoint', 'other'];

const DISCONNECTED = 'The device was disconnected.';
const STATE_CHANGE = 'An operation that changes the device state is in progress.';
const IFACE_CHANGE = 'An operation that changes interface state is in progress.';
const NOT_OPEN = 'The device must be opened first.';
const NOT_CONFIGURED = 'The device must have a configuration selected.';
const NO_IFACE = 'The interface number provided is not supported by the device in its current configuration.';
const NO_ENDPOINT = 'The specified endpoint is not part of a claimed and selected alternate interface.';

const macrotask = () => new Promise<void>((r) => setImmediate(r));

function toBytes(src: BufferSource | undefined): Uint8Array {
  if (src === undefined) return new Uint8Array(0);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength).slice();
  if (src instanceof ArrayBuffer) return new Uint8Array(src).slice();
  throw new TypeError('data must be a BufferSource (ArrayBuffer or a view of one)');
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].length === total) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
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

/** Decodes bmRequestType into the WebUSB words. */
export function decodeSetup(f: SetupFields): ControlSetup {
  const t = (f.bmRequestType >> 5) & 3;
  const r = f.bmRequestType & 0x1f;
  return {
    ...f,
    direction: f.bmRequestType & 0x80 ? 'in' : 'out',
    requestType: requestTypes[t] ?? 'reserved',
    recipient: recipients[r] ?? 'reserved',
  };
}

/** bmRequestType from WebUSB words. */
export function encodeRequestType(direction: USBDirection, requestType: USBRequestType, recipient: USBRecipient): number {
  return (direction === 'in' ? 0x80 : 0) | (requestTypes.indexOf(requestType) << 5) | recipients.indexOf(recipient);
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
  private readonly halted = new Set<number>();
  private stateChanging = false;
  private readonly ifaceChanging = new Set<number>();
  private readonly pending = new Set<Pending>();
  private readonly queues = new Map<number, Pending[]>();
  private readonly pumpScheduled = new Set<number>();
  private readonly pumpTimers = new Map<number, ReturnType<typeof setTimeout>>();
  private readonly injected = new Map<number, Uint8Array[]>();
  private readonly outChains = new Map<number, Promise<void>>();
  private controlChain: Promise<void> = Promise.resolve();
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
    return this.pending.size;
  }

  /** Pending transfers on one endpoint address (0 counts control transfers). */
  pendingOn(endpointAddress: number): number {
    let n = 0;
    for (const p of this.pending) if (p.ep === endpointAddress || (endpointAddress === 0 && p.iface === null)) n++;
    return n;
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
      pendingTransfers: this.pending.size,
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
    return this.halted.has(endpointAddress);
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
    const q = this.injected.get(endpointAddress) ?? [];
    for (let at = 0; at < bytes.length; at += size) q.push(bytes.slice(at, at + size));
    if (bytes.length % size === 0) q.push(new Uint8Array(0));
    this.injected.set(endpointAddress, q);
    this.schedulePump(endpointAddress);
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
    for (const p of [...this.pending]) this.finish(p, { error: transferError('disconnected', DISCONNECTED) });
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const t of this.pumpTimers.values()) clearTimeout(t);
    this.pumpTimers.clear();
    this.injected.clear();
    this.halted.clear();
    this.alternates.clear();
    this.configValue = null;
    this.controlChain = Promise.resolve();
    this.outChains.clear();
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
    this.abortWhere(() => true, 'the device was closed');
    this.claimed.clear();
    await this.stateChange(() => this.closeNow());
  }

  async forget(): Promise<void> {
    if (this.isOpen) {
      this.abortWhere(() => true, 'the device was forgotten');
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
      this.abortWhere((p) => p.iface !== null, 'the configuration changed');
      this.claimed.clear();
      const r = await this.submitControl(
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
    this.abortWhere((p) => p.iface === interfaceNumber, `interface ${interfaceNumber} was released`);
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
    this.abortWhere((p) => p.iface === interfaceNumber, `interface ${interfaceNumber} changed alternate setting`);
    this.ifaceChanging.add(interfaceNumber);
    const gen = this.generation;
    try {
      const r = await this.submitControl(
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
    const r = await this.submitControl(fields, undefined, options);
    return { status: r.status, data: view(r.data ?? new Uint8Array(0)) };
  }

  async controlTransferOut(setup: USBControlTransferParameters, data?: BufferSource, options?: TransferOptions): Promise<USBOutTransferResult> {
    const bytes = toBytes(data);
    const fields = this.checkControl(setup, 'out', checkUint(bytes.length, 0xffff, 'data length'));
    const r = await this.submitControl(fields, bytes, options);
    return { status: r.status, bytesWritten: r.bytesWritten ?? 0 };
  }

  async clearHalt(direction: USBDirection, endpointNumber: number): Promise<void> {
    const { address } = this.checkEndpoint(direction, endpointNumber);
    const gen = this.generation;
    const r = await this.submitControl(
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
      const p = this.newPending(`${endpoint.type as 'bulk' | 'interrupt'}-in`, address, iface, settle, { length });
      this.startTransfer(p, { on: 'in', endpoint: endpointNumber }, options);
    });
    if ('error' in r) throw r.error;
    return { status: r.status, data: view(r.data ?? new Uint8Array(0)) };
  }

  async transferOut(endpointNumber: number, data: BufferSource, options?: TransferOptions): Promise<USBOutTransferResult> {
    const { address, iface, endpoint } = this.checkEndpoint('out', endpointNumber);
    const bytes = toBytes(data);
    this.checkInFlight(address);
    const r = await new Promise<Settle>((settle) => {
      const p = this.newPending(`${endpoint.type as 'bulk' | 'interrupt'}-out`, address, iface, settle, { data: bytes });
      this.startTransfer(p, { on: 'out', endpoint: endpointNumber }, options);
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
    this.abortWhere(() => true, 'the device was reset');
    await this.stateChange(() => {
      // A bus reset loses endpoint state and alternates; Linux restores the configuration and claims.
      this.halted.clear();
      this.alternates.clear();
      this.injected.clear();
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
    if ((this.queues.get(address)?.length ?? 0) >= limit) throw new TransferLimitError(address, limit);
  }

  private checkControl(setup: USBControlTransferParameters, direction: USBDirection, wLength: number): SetupFields {
    if (!requestTypes.includes(setup?.requestType)) {
      throw new TypeError(`requestType must be one of ${requestTypes.join(', ')}, got ${String(setup?.requestType)}`);
    }
    if (!recipients.includes(setup.recipient)) {
      throw new TypeError(`recipient must be one of ${recipients.join(', ')}, got ${String(setup.recipient)}`);
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
      this.abortWhere((p) => p.iface !== null, 'the configuration changed');
      this.claimed.clear();
    }
    this.configValue = value;
    this.alternates.clear();
    this.halted.clear();
    this.behaviour.configurationChanged?.(value, this.ctx);
  }

  private setAlternate(interfaceNumber: number, alternateSetting: number): void {
    this.alternates.set(interfaceNumber, alternateSetting);
    const iface = this.currentConfig()?.interfaces.find((i) => i.bInterfaceNumber === interfaceNumber);
    for (const a of iface?.alternates ?? []) for (const e of a.endpoints) this.halted.delete(e.bEndpointAddress);
    this.behaviour.alternateChanged?.(interfaceNumber, alternateSetting, this.ctx);
  }

  private halt(address: number): void {
    this.halted.add(address);
    this.schedulePump(address);
  }

  // ---- transfers ----

  private newPending(
    kind: TransferKind,
    ep: number,
    iface: number | null,
    settle: (s: Settle) => void,
    io: { length?: number; data?: Uint8Array; setup?: SetupFields },
  ): Pending {
    const capture = this.transfers.captureData;
    const entry = this.transfers.open({
      kind,
      endpoint: ep,
      setup: io.setup,
      length: io.length,
      data: io.data && capture ? io.data.slice() : undefined,
      bytes: io.data ? io.data.length : undefined,
    });
    const p: Pending = {
      kind,
      ep,
      iface,
      entry,
      settle,
      done: false,
      blocked: false,
      notBefore: 0,
      length: io.length ?? 0,
      limit: io.length ?? io.data?.length ?? 0,
      short: false,
      chunks: [],
      got: 0,
      data: io.data,
      started: false,
    };
    this.pending.add(p);
    if (iface !== null) {
      const q = this.queues.get(ep);
      if (q) q.push(p);
      else this.queues.set(ep, [p]);
    }
    return p;
  }

  /** Applies a fault (if one matches) and the timeout, then lets the endpoint's queue serve it. */
  private startTransfer(
    p: Pending,
    probe: { on: 'control' | 'in' | 'out'; endpoint?: number; request?: number; direction?: USBDirection; value?: number; index?: number },
    options: TransferOptions | undefined,
  ): void {
    const timeout = options?.timeoutMs ?? this.transferTimeoutMs;
    const f = this.faults.take(probe);
    if (f) {
      p.fault = f;
      p.entry.fault = f.kind;
      this.log().debug({ fault: f.kind, kind: p.kind, endpoint: p.ep }, 'fault fires');
      const isIn = p.kind.endsWith('-in');
      switch (f.kind) {
        case 'stall':
          p.blocked = true;
          // A bulk/interrupt stall halts the endpoint; a control stall fails only this request.
          if (p.iface !== null) this.halted.add(p.ep);
          setImmediate(() => this.finish(p, { status: 'stall', bytesWritten: 0 }));
          return;
        case 'babble': {
          p.blocked = true;
          const n = Math.min(p.length, f.bytes ?? p.length);
          setImmediate(() => this.finish(p, { status: 'babble', data: new Uint8Array(n).fill(0xff) }));
          return;
        }
        case 'timeout': {
          p.blocked = true;
          const ms = f.ms ?? timeout ?? 0;
          p.timer = setTimeout(() => this.finish(p, { error: transferError('timeout', `transfer timed out after ${ms} ms (injected)`) }), ms);
          return;
        }
        case 'disconnect': {
          p.blocked = true;
          const gen = this.generation;
          const t = setTimeout(() => {
            this.timers.delete(t);
            if (gen === this.generation) this.link?.unplug();
          }, f.ms ?? 0);
          this.timers.add(t);
          break; // the transfer's own timeout still applies, as it would on a real bus
        }
        case 'delay':
          p.notBefore = performance.now() + (f.ms ?? 0);
          break;
        case 'short':
          p.short = true;
          p.limit = Math.min(p.limit, f.bytes ?? Math.floor((isIn ? p.length : (p.data?.length ?? 0)) / 2));
          break;
      }
    }
    if (timeout !== undefined) {
      p.timer = setTimeout(() => {
        // Bytes the device already sent are not dropped (libusb reports them with the timeout too).
        if (p.got > 0) this.finish(p, { status: 'ok', data: concat(p.chunks, p.got) });
        else this.finish(p, { error: transferError('timeout', `transfer timed out after ${timeout} ms`) });
      }, timeout);
    }
    if (p.iface === null) {
      if (!p.blocked) this.enqueueControl(p);
    } else {
      this.schedulePump(p.ep);
    }
  }

  private finish(p: Pending, s: Settle): void {
    if (p.done) return;
    p.done = true;
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(p);
    if (p.iface !== null) {
      const q = this.queues.get(p.ep);
      const at = q ? q.indexOf(p) : -1;
      if (q && at >= 0) {
        q.splice(at, 1);
        if (q.length === 0) this.queues.delete(p.ep);
        else if (at === 0) this.schedulePump(p.ep);
      }
    }
    const e = p.entry;
    e.end = performance.now();
    if ('error' in s) {
      e.error = { name: s.error.name, message: s.error.message };
    } else {
      e.status = s.status;
      if (s.data) {
        e.bytes = s.data.length;
        if (this.transfers.captureData) e.data = s.data.slice();
      } else if (s.bytesWritten !== undefined) {
        e.bytes = s.bytesWritten;
        if (e.data && s.bytesWritten < e.data.length) e.data = e.data.slice(0, s.bytesWritten);
      }
    }
    p.settle(s);
  }

  /** Rejects matching pending transfers with AbortError (release, close, reset, new configuration). */
  private abortWhere(pred: (p: Pending) => boolean, why: string): void {
    for (const p of [...this.pending]) if (pred(p)) this.finish(p, { error: transferError('aborted', `transfer aborted: ${why}`) });
  }

  private schedulePump(ep: number): void {
    if (this.pumpScheduled.has(ep)) return;
    this.pumpScheduled.add(ep);
    // Always a macrotask: a read loop fed at once must still let timers and I/O run, as on real hardware.
    setImmediate(() => {
      this.pumpScheduled.delete(ep);
      if (ep & 0x80) this.pumpIn(ep);
      else this.pumpOut(ep);
    });
  }

  private waitUntil(ep: number, at: number): void {
    if (this.pumpTimers.has(ep)) return;
    const t = setTimeout(() => {
      this.pumpTimers.delete(ep);
      this.schedulePump(ep);
    }, Math.max(0, at - performance.now()));
    this.pumpTimers.set(ep, t);
  }

  private pumpIn(ep: number): void {
    const q = this.queues.get(ep);
    while (q && q.length > 0) {
      const p = q[0];
      if (p.blocked) return;
      if (p.notBefore > performance.now()) return this.waitUntil(ep, p.notBefore);
      if (this.halted.has(ep)) {
        this.finish(p, { status: 'stall', data: concat(p.chunks, p.got) });
        continue;
      }
      const size = (this.activeEndpoint(ep)?.wMaxPacketSize ?? 64) & 0x7ff;
      for (;;) {
        const room = p.limit - p.got;
        if (room <= 0) {
          this.finish(p, { status: 'ok', data: concat(p.chunks, p.got) });
          break;
        }
        const max = p.short ? Math.min(size, room) : size;
        let reply: InReply;
        try {
          reply = this.produceIn(ep, max);
        } catch (err) {
          this.finish(p, { error: err instanceof Error ? err : new Error(String(err)) });
          break;
        }
        if (reply === undefined) return; // NAK: wait for ctx.inReady / queueIn
        if (reply === 'stall') {
          this.halted.add(ep);
          this.finish(p, { status: 'stall', data: concat(p.chunks, p.got) });
          break;
        }
        if (reply.length > room || reply.length > size) {
          // Babble: the device sent more than the host had room for; the excess is lost.
          const keep = reply.subarray(0, Math.min(room, reply.length));
          p.chunks.push(keep);
          p.got += keep.length;
          this.finish(p, { status: 'babble', data: concat(p.chunks, p.got) });
          break;
        }
        p.chunks.push(reply);
        p.got += reply.length;
        if (reply.length < size || p.got >= p.limit) {
          this.finish(p, { status: 'ok', data: concat(p.chunks, p.got) });
          break;
        }
      }
    }
  }

  private produceIn(ep: number, max: number): InReply {
    const q = this.injected.get(ep);
    if (q && q.length > 0) {
      const head = q[0];
      if (head.length <= max) {
        q.shift();
        return head;
      }
      // A short fault asked for less than a queued packet: split it rather than lose bytes.
      q[0] = head.subarray(max);
      return head.subarray(0, max);
    }
    return this.behaviour.onIn?.(ep, max, this.ctx);
  }

  private pumpOut(ep: number): void {
    const q = this.queues.get(ep);
    while (q && q.length > 0) {
      const p = q[0];
      if (p.started || p.blocked) return;
      if (p.notBefore > performance.now()) return this.waitUntil(ep, p.notBefore);
      if (this.halted.has(ep)) {
        this.finish(p, { status: 'stall', bytesWritten: 0 });
        continue;
      }
      p.started = true;
      const data = p.data!.subarray(0, p.limit);
      const prev = this.outChains.get(ep) ?? Promise.resolve();
      const run = prev.then(async () => {
        if (p.done) return; // aborted or timed out before the device took it
        try {
          const r = await this.behaviour.onOut?.(ep, data, this.ctx);
          if (r === 'stall') {
            this.halted.add(ep);
            this.finish(p, { status: 'stall', bytesWritten: 0 });
          } else {
            this.finish(p, { status: 'ok', bytesWritten: data.length });
          }
        } catch (err) {
          this.finish(p, { error: err instanceof Error ? err : new Error(String(err)) });
        }
      });
      this.outChains.set(ep, run);
      return;
    }
  }

  /** Runs one control transfer on the default pipe (public methods and internal requests alike). */
  private submitControl(
    fields: SetupFields,
    data: Uint8Array | undefined,
    options?: TransferOptions,
  ): Promise<{ status: USBTransferStatus; data?: Uint8Array; bytesWritten?: number }> {
    const setup = decodeSetup(fields);
    return new Promise((resolve, reject) => {
      const p = this.newPending(
        setup.direction === 'in' ? 'control-in' : 'control-out',
        setup.direction === 'in' ? 0x80 : 0x00,
        null,
        (s) => ('error' in s ? reject(s.error) : resolve(s)),
        { setup: fields, data: setup.direction === 'out' ? data : undefined, length: setup.direction === 'in' ? fields.wLength : undefined },
      );
      this.startTransfer(
        p,
        { on: 'control', request: fields.bRequest, direction: setup.direction, value: fields.wValue, index: fields.wIndex },
        options,
      );
    });
  }

  private enqueueControl(p: Pending): void {
    const gen = this.generation;
    // The default pipe serves one request at a time, in order, even when a handler is slow.
    this.controlChain = this.controlChain.then(async () => {
      if (p.done || gen !== this.generation) return;
      const wait = p.notBefore - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else await macrotask();
      if (p.done || gen !== this.generation) return;
      const setup = decodeSetup(p.entry.setup!);
      const out = setup.direction === 'out' ? p.data!.subarray(0, p.limit) : undefined;
      let reply: ControlReply;
      try {
        reply = await this.behaviour.onControl?.(setup, out, this.ctx);
        if (reply === undefined) reply = this.standardRequest(setup);
      } catch (err) {
        this.finish(p, { error: err instanceof Error ? err : new Error(String(err)) });
        return;
      }
      if (gen !== this.generation) return;
      if (reply === undefined || reply === 'stall') {
        this.finish(p, { status: 'stall', data: setup.direction === 'in' ? new Uint8Array(0) : undefined, bytesWritten: 0 });
        return;
      }
      if (setup.requestType === 'standard') this.afterStandard(setup);
      if (setup.direction === 'in') {
        const bytes = reply === 'ack' ? new Uint8Array(0) : reply;
        const n = Math.min(bytes.length, setup.wLength, p.limit);
        this.finish(p, { status: 'ok', data: bytes.slice(0, n) });
      } else {
        this.finish(p, { status: 'ok', bytesWritten: out!.length });
      }
    });
  }

  /** Answers standard requests from the descriptors and state; undefined = not a known one (stall). */
  private standardRequest(s: ControlSetup): ControlReply {
    if (s.requestType !== 'standard') return undefined;
    const d = this.descriptor;
    const c = this.currentConfig();
    switch (s.bRequest) {
      case REQ.GET_DESCRIPTOR: {
        if (s.direction !== 'in') return 'stall';
        const type = s.wValue >> 8;
        const index = s.wValue & 0xff;
        if (type === 1) return encodeDeviceDescriptor(d);
        if (type === 2) {
          const cfg = d.configurations[index];
          return cfg ? encodeConfigurationDescriptor(cfg, d.bcdUSB) : 'stall';
        }
        if (type === 3) {
          if (index === 0) return encodeLangIds(d.langIds);
          const text = d.strings.get(index);
          return text === undefined ? 'stall' : encodeStringDescriptor(text);
        }
        return 'stall'; // device qualifier, BOS, ...: a full-speed device has none
      }
      case REQ.GET_STATUS: {
        if (s.direction !== 'in') return 'stall';
        if (s.recipient === 'device') return new Uint8Array([(c?.bmAttributes ?? 0) & 0x40 ? 1 : 0, 0]);
        if (s.recipient === 'interface') {
          return c?.interfaces.some((i) => i.bInterfaceNumber === (s.wIndex & 0xff)) ? new Uint8Array([0, 0]) : 'stall';
        }
        if (s.recipient === 'endpoint') {
          const a = s.wIndex & 0x8f;
          if ((a & 0x0f) === 0) return new Uint8Array([0, 0]);
          return this.activeEndpoint(a) ? new Uint8Array([this.halted.has(a) ? 1 : 0, 0]) : 'stall';
        }
        return 'stall';
      }
      case REQ.GET_CONFIGURATION:
        return new Uint8Array([this.configValue ?? 0]);
      case REQ.SET_CONFIGURATION:
        return s.wValue === 0 || d.configurations.some((x) => x.bConfigurationValue === s.wValue) ? 'ack' : 'stall';
      case REQ.GET_INTERFACE: {
        const iface = c?.interfaces.find((i) => i.bInterfaceNumber === (s.wIndex & 0xff));
        return iface ? new Uint8Array([this.alternates.get(iface.bInterfaceNumber) ?? 0]) : 'stall';
      }
      case REQ.SET_INTERFACE: {
        const iface = c?.interfaces.find((i) => i.bInterfaceNumber === (s.wIndex & 0xff));
        return iface?.alternates.some((a) => a.bAlternateSetting === s.wValue) ? 'ack' : 'stall';
      }
      case REQ.CLEAR_FEATURE:
      case REQ.SET_FEATURE:
        if (s.recipient === 'endpoint') {
          const a = s.wIndex & 0x8f;
          return s.wValue === ENDPOINT_HALT && ((a & 0x0f) === 0 || this.activeEndpoint(a)) ? 'ack' : 'stall';
        }
        return s.recipient === 'device' ? 'ack' : 'stall';
      case REQ.SET_ADDRESS:
        return 'ack';
      default:
        return undefined;
    }
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
          const was = this.halted.delete(a);
          if (was) this.behaviour.haltCleared?.(a, this.ctx);
          this.schedulePump(a);
        }
        break;
      case REQ.SET_FEATURE:
        if (s.recipient === 'endpoint' && s.wValue === ENDPOINT_HALT && (s.wIndex & 0x0f) !== 0) this.halt(s.wIndex & 0x8f);
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
      inReady: (ep) => {
        if (dev.queues.has(ep)) dev.schedulePump(ep);
      },
      halt: (ep) => dev.halt(ep),
      isHalted: (ep) => dev.halted.has(ep),
      after: (ms, fn) => timer(ms, fn, false),
      every: (ms, fn) => timer(ms, fn, true),
      now: () => performance.now(),
      get log() {
        return dev.log();
      },
    };
  }
}
