// A fake of the usb 3.x (nusb) native binding, rejecting with the messages the real one uses.
import type {
  NusbConfiguration,
  NusbEmitter,
  NusbModule,
  NusbNativeDevice,
  NusbSetup,
} from '../../../src/usb/backends/nusb.ts';

export interface PendingCall<T> {
  args: unknown[];
  resolve(value: T): void;
  reject(err: Error): void;
}

function deferred<T>(args: unknown[], into: PendingCall<T>[]): Promise<T> {
  return new Promise<T>((resolve, reject) => into.push({ args, resolve, reject }));
}

export const FTDI_NUSB_CONFIG: NusbConfiguration = {
  configurationValue: 1,
  configurationName: null,
  interfaces: [
    {
      interfaceNumber: 0,
      alternate: {
        alternateSetting: 0,
        interfaceClass: 0xff,
        interfaceSubclass: 0xff,
        interfaceProtocol: 0xff,
        interfaceName: 'FT232R UART',
        endpoints: [
          { endpointNumber: 1, direction: 'in', type: 'bulk', packetSize: 64 },
          { endpointNumber: 2, direction: 'out', type: 'bulk', packetSize: 64 },
        ],
      },
      alternates: [],
    },
  ],
};
FTDI_NUSB_CONFIG.interfaces[0]!.alternates.push(FTDI_NUSB_CONFIG.interfaces[0]!.alternate);

export class FakeNusbDevice implements NusbNativeDevice {
  readonly vendorId = 0x0403;
  readonly productId = 0x6001;
  readonly deviceVersionMajor = 6;
  readonly deviceVersionMinor = 0;
  readonly deviceVersionSubminor = 0;
  readonly usbVersionMajor = 2;
  readonly usbVersionMinor = 0;
  readonly usbVersionSubminor = 0;
  readonly deviceClass = 0;
  readonly deviceSubclass = 0;
  readonly deviceProtocol = 0;
  readonly manufacturerName = 'QEMU';
  readonly productName = 'QEMU USB SERIAL';
  readonly serialNumber = '1-0000:00:04.0-1';
  opened = false;
  claimed = new Set<number>();
  configReads = 0;
  ins: PendingCall<Uint8Array | null>[] = [];
  outs: PendingCall<number>[] = [];
  controlIns: PendingCall<Uint8Array | null>[] = [];
  controlOuts: PendingCall<number>[] = [];
  busyEndpoints = new Set<string>();
  calls: string[] = [];
  kernelDriverBound = true;
  /** Answer control requests like a device, and let idle IN transfers time out (nusb: "Cancelled"). */
  autoRespond = false;

  constructor(
    readonly bus = '1',
    readonly ports: number[] = [1],
    readonly address = 2,
  ) {}

  get handle(): string {
    return `DeviceId(${this.bus}, ${this.address})`;
  }
  get configuration(): NusbConfiguration {
    this.configReads++;
    return FTDI_NUSB_CONFIG;
  }
  get configurations(): NusbConfiguration[] {
    this.configReads++;
    return [FTDI_NUSB_CONFIG];
  }
  async open(): Promise<void> {
    this.calls.push('open');
    this.opened = true;
  }
  /** Like usb 3.1: a running transfer borrows the device; mutating calls meanwhile throw. */
  private assertNotBorrowed(): void {
    if (this.busyEndpoints.size > 0) throw new Error('cannot be borrowed mutably while another borrow is active');
  }
  async close(): Promise<void> {
    this.assertNotBorrowed();
    this.calls.push('close');
    this.opened = false;
    this.claimed.clear();
  }
  async reset(): Promise<void> {
    this.assertNotBorrowed();
    this.calls.push('reset');
  }
  async selectConfiguration(v: number): Promise<void> {
    this.assertNotBorrowed();
    this.calls.push(`selectConfiguration ${v}`);
  }
  async claimInterface(n: number): Promise<void> {
    if (!this.opened) throw new Error('claimInterface error: invalid state');
    if (this.kernelDriverBound) throw new Error('claimInterface error: interface is busy');
    this.claimed.add(n);
  }
  async releaseInterface(n: number): Promise<void> {
    this.assertNotBorrowed();
    if (!this.claimed.delete(n)) throw new Error('releaseInterface error: not claimed');
  }
  async selectAlternateInterface(n: number, alt: number): Promise<void> {
    this.assertNotBorrowed();
    this.calls.push(`alt ${n} ${alt}`);
  }
  nativeControlTransferIn(setup: NusbSetup, timeout: number, length: number): Promise<Uint8Array | null> {
    if (this.claimed.size === 0) return Promise.reject(new Error('controlTransferIn error: invalid state'));
    if (this.autoRespond) {
      if (setup.request === 6 && setup.value === 0x0100) {
        const dd = new Uint8Array(18);
        const v = new DataView(dd.buffer);
        dd[0] = 18;
        dd[1] = 1;
        v.setUint16(8, this.vendorId, true);
        v.setUint16(10, this.productId, true);
        return Promise.resolve(dd.subarray(0, length));
      }
      return Promise.reject(new Error('controlTransferIn error: endpoint stalled'));
    }
    return deferred([setup, timeout, length], this.controlIns);
  }
  nativeControlTransferOut(setup: NusbSetup, timeout: number, data?: Uint8Array | null): Promise<number> {
    if (this.claimed.size === 0) return Promise.reject(new Error('controlTransferOut error: invalid state'));
    // The package's JS wrapper would have thrown a TypeError before getting here.
    if (!(data instanceof Uint8Array)) return Promise.reject(new TypeError("Cannot read properties of undefined (reading 'buffer')"));
    if (this.autoRespond) return Promise.resolve(data.byteLength);
    return deferred([setup, timeout, data], this.controlOuts);
  }
  nativeTransferIn(ep: number, timeout: number, length: number): Promise<Uint8Array | null> {
    return this.endpointCall(`in${ep}`, 'transferIn', [ep, timeout, length], this.ins);
  }
  nativeTransferOut(ep: number, timeout: number, data: Uint8Array): Promise<number> {
    return this.endpointCall(`out${ep}`, 'transferOut', [ep, timeout, data], this.outs);
  }
  async clearHalt(direction: USBDirection, ep: number): Promise<void> {
    if (this.busyEndpoints.has(`${direction}${ep}`)) throw new Error('clearHalt error: endpoint not found');
    this.calls.push(`clearHalt ${direction} ${ep}`);
  }
  async detachKernelDriver(n: number): Promise<void> {
    if (!this.opened) throw new Error('detachKernelDriver error: invalid state');
    if (!this.kernelDriverBound) throw new Error('detachKernelDriver error: no kernel driver attached');
    this.calls.push(`detach ${n}`);
    this.kernelDriverBound = false;
  }
  async attachKernelDriver(n: number): Promise<void> {
    if (!this.opened) throw new Error('attachKernelDriver error: invalid state');
    if (this.kernelDriverBound) throw new Error('attachKernelDriver error: kernel driver already attached');
    this.calls.push(`attach ${n}`);
    this.kernelDriverBound = true;
  }

  /** Like nusb: one transfer per endpoint; a second gets "endpoint not found". */
  private endpointCall<T>(key: string, op: string, args: unknown[], into: PendingCall<T>[]): Promise<T> {
    if (this.claimed.size === 0 || this.busyEndpoints.has(key)) {
      return Promise.reject(new Error(`${op} error: endpoint not found`));
    }
    this.busyEndpoints.add(key);
    const p = deferred(args, into);
    if (this.autoRespond) {
      const call = into[into.length - 1]!;
      setTimeout(() => call.reject(new Error(`${op} error: Cancelled`)), args[1] as number);
    }
    const free = () => this.busyEndpoints.delete(key);
    p.then(free, free);
    return p;
  }
}

export class FakeEmitter implements NusbEmitter {
  attach: ((d: NusbNativeDevice) => void) | undefined;
  detach: ((handle: string) => void) | undefined;
  failStart: Error | undefined;
  constructor(readonly log: string[]) {}
  // The real ones resolve only after nusb's watcher is set up, a little later.
  async addAttach(cb: (d: NusbNativeDevice) => void): Promise<void> {
    await new Promise((r) => setTimeout(r, 15));
    if (this.failStart) throw this.failStart;
    this.attach = cb;
    this.log.push('addAttach');
  }
  async addDetach(cb: (handle: string) => void): Promise<void> {
    await new Promise((r) => setTimeout(r, 15));
    this.detach = cb;
    this.log.push('addDetach');
  }
  async removeAttach(): Promise<void> {
    this.attach = undefined;
    this.log.push('removeAttach');
  }
  async removeDetach(): Promise<void> {
    this.detach = undefined;
    this.log.push('removeDetach');
  }
}

export class FakeNusb implements NusbModule {
  devices: FakeNusbDevice[] = [];
  listError: Error | undefined;
  emitters: FakeEmitter[] = [];
  log: string[] = [];
  failStart: Error | undefined;
  readonly Emitter: new () => NusbEmitter;

  constructor() {
    const self = this;
    this.Emitter = class extends FakeEmitter {
      constructor() {
        super(self.log);
        this.failStart = self.failStart;
        self.emitters.push(this);
      }
    };
  }

  async nativeGetDevices(): Promise<NusbNativeDevice[]> {
    if (this.listError) throw this.listError;
    // A fresh object per device and call, as napi does; `handle` is what stays the same.
    return this.devices.map((d) => Object.create(d) as FakeNusbDevice);
  }

  plug(d: FakeNusbDevice): void {
    this.devices.push(d);
    for (const e of this.emitters) e.attach?.(d);
  }

  unplug(d: FakeNusbDevice): void {
    this.devices = this.devices.filter((x) => x !== d);
    for (const p of [...d.ins, ...d.outs]) p.reject(new Error('transferIn error: Disconnected'));
    for (const e of this.emitters) e.detach?.(d.handle);
  }
}
