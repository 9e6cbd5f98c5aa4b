// A fake of the `usb` 2.x legacy module, shaped like the real one (errno on errors, Transfer
// objects that complete through their callback, EventEmitter-style attach/detach).
import { EventEmitter } from 'node:events';
import { macrotask } from '../../helpers/async.ts';
import type {
  LibusbConfigDescriptor,
  LibusbError,
  LibusbLegacyDevice,
  LibusbModule,
  LibusbTransfer,
  LibusbTransferCallback,
} from '../../../src/usb/backends/libusb-module.ts';

export function libusbError(errno: number, name: string): LibusbError {
  const e = new Error(name) as LibusbError;
  e.errno = errno;
  return e;
}

export const FTDI_CONFIG: LibusbConfigDescriptor = {
  bConfigurationValue: 1,
  iConfiguration: 0,
  interfaces: [
    [
      {
        bInterfaceNumber: 0,
        bAlternateSetting: 0,
        bInterfaceClass: 0xff,
        bInterfaceSubClass: 0xff,
        bInterfaceProtocol: 0xff,
        iInterface: 2,
        endpoints: [
          { bEndpointAddress: 0x81, bmAttributes: 2, wMaxPacketSize: 64 },
          { bEndpointAddress: 0x02, bmAttributes: 2, wMaxPacketSize: 64 },
        ],
      },
    ],
  ],
};

export class FakeTransfer implements LibusbTransfer {
  buffer: Buffer | undefined;
  done = false;
  cancelCalls = 0;
  constructor(
    readonly lib: FakeLibusb,
    readonly device: FakeLegacyDevice,
    readonly address: number,
    readonly type: number,
    readonly timeoutMs: number,
    private readonly cb: LibusbTransferCallback,
  ) {}

  submit(buffer: Buffer): this {
    if (this.device.submitError) throw this.device.submitError;
    if (!this.device.isOpen) throw new Error('Device is not open');
    this.buffer = buffer;
    this.lib.transfers.push(this);
    if (this.device.autoTimeout && this.timeoutMs > 0) {
      // libusb's own timeout: the transfer completes TIMED_OUT.
      setTimeout(() => this.complete(libusbError(2, 'LIBUSB_TRANSFER_TIMED_OUT')), this.timeoutMs);
    }
    return this;
  }

  cancel(): boolean {
    this.cancelCalls++;
    if (this.done || !this.buffer) return false;
    // libusb reports the cancel later, from its event thread.
    setImmediate(() => this.complete(libusbError(3, 'LIBUSB_TRANSFER_CANCELLED')));
    return true;
  }

  /** Completes with data (IN), a byte count (OUT) or an error. */
  complete(error?: LibusbError, data?: Uint8Array | number): void {
    if (this.done) return;
    this.done = true;
    const buf = this.buffer as Buffer;
    let actual = 0;
    if (typeof data === 'number') actual = data;
    else if (data) {
      buf.set(data);
      actual = data.length;
    } else if (!error && !(this.address & 0x80)) actual = buf.length;
    this.cb(error, buf, actual);
  }

  get pending(): boolean {
    return !!this.buffer && !this.done;
  }
}

type ControlHandler = (
  bmRequestType: number,
  bRequest: number,
  wValue: number,
  wIndex: number,
  dataOrLength: number | Buffer,
) => { error?: LibusbError; data?: Buffer | number };

export class FakeLegacyDevice implements LibusbLegacyDevice {
  readonly deviceDescriptor = {
    bcdUSB: 0x0200,
    bDeviceClass: 0,
    bDeviceSubClass: 0,
    bDeviceProtocol: 0,
    idVendor: 0x0403,
    idProduct: 0x6001,
    bcdDevice: 0x0600,
    iManufacturer: 1,
    iProduct: 2,
    iSerialNumber: 3,
  };
  timeout = 0;
  isOpen = false;
  calls: string[] = [];
  submitError: LibusbError | undefined;
  /** Let IN/OUT transfers time out on their own (idle device). */
  autoTimeout = false;
  claimError: LibusbError | undefined;
  kernelDriverActive = new Set<number>([0]);
  controls: { bmRequestType: number; bRequest: number; wValue: number; wIndex: number; data: number | Buffer }[] = [];
  strings: Record<number, string> = { 1: 'FTDI', 2: 'FT232R USB UART', 3: 'A12345' };
  control: ControlHandler = (bm, req, value, _i, d) => {
    if (bm === 0x80 && req === 6 && value === 0x0100) {
      const dd = Buffer.alloc(18);
      dd.writeUInt8(18, 0);
      dd.writeUInt8(1, 1);
      dd.writeUInt16LE(0x0200, 2);
      dd.writeUInt8(64, 7);
      dd.writeUInt16LE(this.deviceDescriptor.idVendor, 8);
      dd.writeUInt16LE(this.deviceDescriptor.idProduct, 10);
      dd.writeUInt8(1, 17);
      return { data: dd.subarray(0, d as number) };
    }
    if (bm === 0x80 && req === 6 && value >> 8 !== 3 && value >> 8 !== 2) {
      return { error: libusbError(4, 'LIBUSB_TRANSFER_STALL') };
    }
    if (bm === 0x80 && req === 6 && value >> 8 === 3) {
      const s = this.strings[value & 0xff];
      if (s === undefined) return { error: libusbError(4, 'LIBUSB_TRANSFER_STALL') };
      const body = Buffer.from(s, 'utf16le');
      return { data: Buffer.concat([Buffer.from([body.length + 2, 3]), body]) };
    }
    return { data: bm & 0x80 ? Buffer.alloc(d as number) : (d as Buffer).length };
  };

  constructor(
    readonly lib: FakeLibusb,
    readonly busNumber = 1,
    readonly portNumbers: number[] = [2, 3],
    readonly deviceAddress = 5,
  ) {}

  get configDescriptor(): LibusbConfigDescriptor {
    return FTDI_CONFIG;
  }
  get allConfigDescriptors(): LibusbConfigDescriptor[] {
    return [FTDI_CONFIG];
  }
  __open(): void {
    this.calls.push('open');
    this.isOpen = true;
  }
  __close(): void {
    this.calls.push('close');
    if (this.lib.transfers.some((t) => t.device === this && t.pending)) {
      throw new Error("Can't close device with a pending request");
    }
    this.isOpen = false;
  }
  __setConfiguration(value: number, cb: (e?: LibusbError) => void): void {
    this.calls.push(`setConfiguration ${value}`);
    setImmediate(() => cb());
  }
  __claimInterface(n: number): void {
    this.calls.push(`claim ${n}`);
    if (this.claimError) throw this.claimError;
  }
  __releaseInterface(n: number, cb: (e?: LibusbError) => void): void {
    this.calls.push(`release ${n}`);
    setImmediate(() => cb());
  }
  __setInterface(n: number, alt: number, cb: (e?: LibusbError) => void): void {
    this.calls.push(`setInterface ${n} ${alt}`);
    setImmediate(() => cb());
  }
  __clearHalt(addr: number, cb: (e?: LibusbError) => void): void {
    this.calls.push(`clearHalt ${addr.toString(16)}`);
    setImmediate(() => cb());
  }
  __isKernelDriverActive(n: number): boolean {
    if (!this.isOpen) throw new Error('Device is not opened');
    return this.kernelDriverActive.has(n);
  }
  __detachKernelDriver(n: number): void {
    if (!this.isOpen) throw new Error('Device is not opened');
    this.calls.push(`detachKernelDriver ${n}`);
    if (!this.kernelDriverActive.delete(n)) throw libusbError(-5, 'LIBUSB_ERROR_NOT_FOUND');
  }
  __attachKernelDriver(n: number): void {
    if (!this.isOpen) throw new Error('Device is not opened');
    this.calls.push(`attachKernelDriver ${n}`);
    this.kernelDriverActive.add(n);
  }
  controlTransfer(
    bmRequestType: number,
    bRequest: number,
    wValue: number,
    wIndex: number,
    dataOrLength: number | Buffer,
    cb: (error: LibusbError | undefined, data?: Buffer | number) => void,
  ): this {
    if (!this.isOpen) {
      process.nextTick(() => cb(new Error('Device is not open')));
      return this;
    }
    this.controls.push({ bmRequestType, bRequest, wValue, wIndex, data: dataOrLength });
    const r = this.control(bmRequestType, bRequest, wValue, wIndex, dataOrLength);
    setImmediate(() => cb(r.error, r.data));
    return this;
  }
  reset(cb: (e?: LibusbError) => void): void {
    this.calls.push('reset');
    setImmediate(() => cb());
  }
}

export class FakeLibusb extends EventEmitter implements LibusbModule {
  readonly INIT_ERROR = 0;
  devices: FakeLegacyDevice[] = [];
  transfers: FakeTransfer[] = [];
  pollHotplug = false;
  readonly Transfer: LibusbModule['Transfer'];

  constructor() {
    super();
    const lib = this;
    this.Transfer = class extends FakeTransfer {
      constructor(
        device: LibusbLegacyDevice,
        address: number,
        type: number,
        timeoutMs: number,
        cb: LibusbTransferCallback,
      ) {
        super(lib, device as FakeLegacyDevice, address, type, timeoutMs, cb);
      }
    };
  }

  getDeviceList(): FakeLegacyDevice[] {
    return [...this.devices];
  }

  plug(dev: FakeLegacyDevice): void {
    this.devices.push(dev);
    this.emit('attach', dev);
  }

  unplug(dev: FakeLegacyDevice): void {
    this.devices = this.devices.filter((d) => d !== dev);
    for (const t of this.transfers) if (t.device === dev && t.pending) t.complete(libusbError(5, 'LIBUSB_TRANSFER_NO_DEVICE'));
    this.emit('detach', dev);
  }

  pendingOn(dev: FakeLegacyDevice, address?: number): FakeTransfer[] {
    return this.transfers.filter((t) => t.device === dev && t.pending && (address === undefined || t.address === address));
  }
}

export { macrotask as tick };

/** Polls `cond` every tick until true, failing after `ms`. */
export async function waitFor(cond: () => boolean, ms = 1000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await macrotask();
  }
}
