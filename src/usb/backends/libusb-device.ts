// The WebUSB USBDevice over one legacy libusb Device: every transferIn submits its own libusb
// Transfer (several in flight on one endpoint), transfers time out on a JS timer, and
// release/close/reset cancel what is pending and wait for libusb to hand it back.
import { childLog } from '../../log.ts';
import { ConfigurationTracker } from './configuration-tracker.ts';
import { usbError } from './errors.ts';
import { toWebUsbConfigurations, decodeBcd, bmRequestType, type DescriptorNames } from './libusb-descriptors.ts';
import { mapLibusbError, throwMapped, type LibusbErrorContext } from './libusb-errors.ts';
import type {
  ErrCallback,
  LibusbConfigDescriptor,
  LibusbLegacyDevice,
  LibusbModule,
  LibusbTransfer,
  LibusbTransferCallback,
} from './libusb-module.ts';
import { LIBUSB } from './libusb-module.ts';
import { PendingTransfers } from './pending-transfers.ts';
import { describeSetup, inOk, inStatus, outResult, toBytes } from './transfer-results.ts';

const log = childLog('usb.backend.libusb');

function callbackToPromise(run: (cb: ErrCallback) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      run((error) => (error ? reject(error) : resolve()));
    } catch (err) {
      reject(err);
    }
  });
}

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
    return this.bulk(op, 'in', endpointNumber, Buffer.alloc(length), this.timeouts.inTimeoutMs, inOk, inStatus);
  }

  transferOut(endpointNumber: number, data: BufferSource): Promise<USBOutTransferResult> {
    const bytes = toBytes(data);
    const op = `transferOut(${endpointNumber}, ${bytes.byteLength} bytes)`;
    // Copied: the caller may reuse its buffer while libusb still reads ours.
    return this.bulk(op, 'out', endpointNumber, Buffer.from(bytes), this.timeouts.outTimeoutMs, (d) => outResult('ok', d.byteLength), () => outResult('stall', 0));
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

  /**
   * One bulk or interrupt transfer. The caller's result is made here (`ok` from the bytes moved,
   * `status` for a stall or babble), so a transfer costs one promise and no chain.
   */
  private bulk<T>(
    op: string,
    direction: USBDirection,
    endpointNumber: number,
    buffer: Buffer,
    timeoutMs: number,
    ok: (data: Buffer) => T,
    status: (kind: 'stall' | 'babble') => T,
  ): Promise<T> {
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
    return new Promise<T>((resolve, reject) => {
      let abortReason: Error | undefined;
      // libusb's own transfer timeout is not used: the `usb` 2.x event thread sleeps in poll()
      // with libusb's 60 s default and is not woken for a shorter deadline, so the callback came
      // ~60 s late on a real kernel. A JS timer cancels instead (a cancel completes at once).
      let timer: ReturnType<typeof setTimeout> | undefined;
      let transfer: LibusbTransfer | undefined;
      const cancel = (reason: Error): void => {
        if (abortReason) return;
        abortReason = reason;
        if (timer) clearTimeout(timer);
        try {
          transfer?.cancel();
        } catch (err) {
          // Already completing: its callback still comes and settles the promise.
          log.debug({ err, device: this.label, op }, 'cancel failed');
        }
      };
      const pending = this.pending.begin(found.interfaceNumber, cancel);
      const failed = (error: unknown): void => {
        const o = mapLibusbError(op, error, { ...this.ctx(timeoutMs), abortReason });
        if (o.kind === 'error') reject(o.error);
        else resolve(status(o.kind));
      };
      const settle: LibusbTransferCallback = (error, _buf, actual) => {
        if (timer) clearTimeout(timer);
        pending.end();
        if (!error) resolve(ok(buffer.subarray(0, actual)));
        else failed(error);
      };
      try {
        transfer = new this.lib.Transfer(this.legacy, address, type, 0, settle);
        transfer.submit(buffer);
      } catch (err) {
        pending.end();
        failed(err);
        return;
      }
      if (timeoutMs > 0) {
        timer = setTimeout(
          () => cancel(usbError('TimeoutError', `${op} on ${this.label} timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }
    });
  }
}
