// A minimal in-test backend: devices are plain WebUSB-shaped objects that record what was done
// to them (open, claim, kernel-driver detach). The full emulated lab lives in mocks/; this one
// keeps the usb-layer tests independent of it.
import type { HostBackend, HostDevice, HostEvent, KernelDriverControl } from '../../src/usb/host.ts';

export interface FakeInterfaceSpec {
  number: number;
  cls?: number;
  sub?: number;
  proto?: number;
}

export interface FakeDeviceSpec {
  vendorId: number;
  productId: number;
  bcdDevice?: number;
  deviceClass?: number;
  serialNumber?: string;
  interfaces?: FakeInterfaceSpec[];
  port?: number[];
  kernelBound?: boolean;
}

export class FakeUsbDevice {
  opened = false;
  configuration: USBConfiguration | null = null;
  readonly configurations: USBConfiguration[];
  readonly claimed = new Set<number>();
  readonly log: string[] = [];
  gone = false;
  readonly usbVersionMajor = 2;
  readonly usbVersionMinor = 0;
  readonly usbVersionSubminor = 0;
  readonly deviceSubclass = 0;
  readonly deviceProtocol = 0;
  readonly manufacturerName = 'Fake';
  readonly productName = 'Fake device';
  readonly vendorId: number;
  readonly productId: number;
  readonly deviceClass: number;
  readonly serialNumber: string | undefined;
  readonly deviceVersionMajor: number;
  readonly deviceVersionMinor: number;
  readonly deviceVersionSubminor: number;

  constructor(spec: FakeDeviceSpec) {
    this.vendorId = spec.vendorId;
    this.productId = spec.productId;
    this.deviceClass = spec.deviceClass ?? 0;
    this.serialNumber = spec.serialNumber;
    const bcd = spec.bcdDevice ?? 0x0600;
    this.deviceVersionMajor = bcd >> 8;
    this.deviceVersionMinor = (bcd >> 4) & 0xf;
    this.deviceVersionSubminor = bcd & 0xf;
    const interfaces = (spec.interfaces ?? [{ number: 0, cls: 0xff }]).map((i) => {
      const alt = {
        alternateSetting: 0,
        interfaceClass: i.cls ?? 0xff,
        interfaceSubclass: i.sub ?? 0xff,
        interfaceProtocol: i.proto ?? 0xff,
        interfaceName: null,
        endpoints: [
          { endpointNumber: 1, direction: 'in', type: 'bulk', packetSize: 64 },
          { endpointNumber: 2, direction: 'out', type: 'bulk', packetSize: 64 },
        ],
      };
      return { interfaceNumber: i.number, alternate: alt, alternates: [alt], claimed: false };
    });
    this.configurations = [{ configurationValue: 1, configurationName: null, interfaces } as unknown as USBConfiguration];
  }

  private check(): void {
    if (this.gone) {
      const e = new Error('device gone');
      e.name = 'NotFoundError';
      throw e;
    }
  }
  async open() {
    this.check();
    this.log.push('open');
    this.opened = true;
  }
  async close() {
    this.log.push('close');
    this.opened = false;
    this.configuration = null;
  }
  async selectConfiguration(v: number) {
    this.check();
    this.configuration = this.configurations.find((c) => c.configurationValue === v) ?? null;
  }
  async claimInterface(n: number) {
    this.check();
    if (!this.opened) throw new Error('InvalidStateError: not open');
    this.log.push(`claim ${n}`);
    this.claimed.add(n);
  }
  async releaseInterface(n: number) {
    this.check();
    this.log.push(`release ${n}`);
    this.claimed.delete(n);
  }
}

export class FakeKernelDriver implements KernelDriverControl {
  readonly bound = new Set<number>();
  readonly log: string[] = [];
  async isActive(n: number) {
    return this.bound.has(n);
  }
  async detach(n: number) {
    this.log.push(`detach ${n}`);
    this.bound.delete(n);
  }
  async attach(n: number) {
    this.log.push(`attach ${n}`);
    this.bound.add(n);
  }
}

export class FakeBackend implements HostBackend {
  readonly name = 'fake';
  private readonly listeners = new Set<(e: HostEvent) => void>();
  private readonly attached = new Set<HostDevice>();
  private next = 1;

  plug(spec: FakeDeviceSpec, opts: { silent?: boolean } = {}): HostDevice & { fake: FakeUsbDevice; kernel: FakeKernelDriver } {
    const fake = new FakeUsbDevice(spec);
    const kernel = new FakeKernelDriver();
    if (spec.kernelBound) for (const i of spec.interfaces ?? [{ number: 0 }]) kernel.bound.add(i.number);
    const host = {
      key: `fake:${this.next++}`,
      usb: fake as unknown as USBDevice,
      ...(spec.port ? { location: { busNumber: 1, portNumbers: spec.port } } : {}),
      kernelDriver: kernel,
      maxTransfersInFlight: 4,
      fake,
      kernel,
    };
    this.attached.add(host);
    if (!opts.silent) this.emit({ type: 'connect', device: host });
    return host;
  }

  unplug(host: HostDevice): void {
    this.attached.delete(host);
    (host.usb as unknown as FakeUsbDevice).gone = true;
    this.emit({ type: 'disconnect', device: host });
  }

  /** Fires an event as is (duplicates, unknown devices) to test the stream's robustness. */
  emit(e: HostEvent): void {
    for (const l of this.listeners) l(e);
  }

  async getDevices(): Promise<HostDevice[]> {
    return [...this.attached];
  }

  async watch(listener: (e: HostEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
