// USB devices and their interfaces as devices on the `usb` bus (Linux: usb_device and
// usb_interface), built from a backend's HostDevice (a WebUSB USBDevice plus extras).
import { Device } from '../core/index.ts';
import { AsyncMutex } from '../core/mutex.ts';
import { childLog } from '../log.ts';
import { bcdFromVersion } from './descriptors.ts';
import { formatPortPath, transferErrorKind, type HostDevice, type RawDeviceDescriptor, type UsbLocation } from './host.ts';
import type { UsbMatchTarget } from './ids.ts';

const log = childLog('usb.device');

export interface UsbEndpointInfo {
  /** Endpoint number without the direction bit. */
  number: number;
  /** bEndpointAddress: number | 0x80 for IN. */
  address: number;
  direction: 'in' | 'out';
  type: 'bulk' | 'interrupt' | 'isochronous';
  packetSize: number;
}

/** A device on the usb bus: the whole gadget. Interfaces are its children. */
export class UsbDevice extends Device {
  readonly vendorId: number;
  readonly productId: number;
  readonly bcdDevice: number;
  readonly bcdUSB: number;
  readonly deviceClass: number;
  readonly deviceSubclass: number;
  readonly deviceProtocol: number;
  readonly manufacturer: string | undefined;
  readonly product: string | undefined;
  readonly serialNumber: string | undefined;
  readonly location: UsbLocation | undefined;
  /** Aborted the moment the backend reports the device gone, before teardown runs. */
  readonly disconnected: AbortSignal;
  readonly interfaces: UsbInterface[] = [];
  private readonly abort = new AbortController();
  private opens = 0;
  private readonly steps = new AsyncMutex();

  constructor(readonly host: HostDevice) {
    const u = host.usb;
    super(host.location ? formatPortPath(host.location) : host.key);
    this.vendorId = u.vendorId;
    this.productId = u.productId;
    this.bcdDevice = host.deviceDescriptor?.bcdDevice ?? bcdFromVersion(u.deviceVersionMajor, u.deviceVersionMinor, u.deviceVersionSubminor);
    this.bcdUSB = host.deviceDescriptor?.bcdUSB ?? bcdFromVersion(u.usbVersionMajor, u.usbVersionMinor, u.usbVersionSubminor);
    this.deviceClass = u.deviceClass;
    this.deviceSubclass = u.deviceSubclass;
    this.deviceProtocol = u.deviceProtocol;
    this.manufacturer = u.manufacturerName ?? undefined;
    this.product = u.productName ?? undefined;
    this.serialNumber = u.serialNumber ?? undefined;
    this.location = host.location;
    this.disconnected = this.abort.signal;
    const config = u.configuration ?? u.configurations[0];
    for (const iface of config?.interfaces ?? []) {
      this.interfaces.push(new UsbInterface(this, iface, config!.configurationValue));
    }
  }

  get usb(): USBDevice {
    return this.host.usb;
  }

  /** The raw descriptor if the backend gave it (see readDeviceDescriptor otherwise). */
  get rawDescriptor(): RawDeviceDescriptor | undefined {
    return this.host.deviceDescriptor;
  }

  get gone(): boolean {
    return this.disconnected.aborted;
  }

  /** @internal called by the hotplug feed when the backend reports the device gone. */
  markDisconnected(): void {
    if (!this.abort.signal.aborted) this.abort.abort(new Error(`USB device ${this.name} was disconnected`));
  }

  /** @internal open the device (shared by its interfaces; closed when the last one lets go). */
  async acquire(): Promise<void> {
    await this.serialize(async () => {
      if (this.opens === 0 && !this.usb.opened) {
        await this.usb.open();
        try {
          if (this.usb.configuration === null) await this.usb.selectConfiguration(this.interfaces[0]?.configurationValue ?? 1);
        } catch (err) {
          // The open is ours until a holder counts it: a device that refuses its configuration
          // is closed again, or it stays open with nothing bound (libusb_close on a failed setup).
          await this.usb.close().catch((e: unknown) => quietIfGone(e, this, 'close'));
          throw err;
        }
      }
      this.opens++;
    });
  }

  /** @internal */
  async releaseOpen(): Promise<void> {
    await this.serialize(async () => {
      this.opens = Math.max(0, this.opens - 1);
      if (this.opens === 0 && this.usb.opened) {
        await this.usb.close().catch((err: unknown) => quietIfGone(err, this, 'close'));
      }
    });
  }

  /** Runs device-level steps one at a time (two interfaces of one FT2232 probe at once). */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    return this.steps.run(fn);
  }

  get openCount(): number {
    return this.opens;
  }

  uevent(): Record<string, string> {
    const env: Record<string, string> = {
      DEVTYPE: 'usb_device',
      PRODUCT: `${this.vendorId.toString(16)}/${this.productId.toString(16)}/${this.bcdDevice.toString(16)}`,
      TYPE: `${this.deviceClass}/${this.deviceSubclass}/${this.deviceProtocol}`,
    };
    if (this.serialNumber) env.SERIAL = this.serialNumber;
    if (this.location) env.DEVPATH = formatPortPath(this.location);
    return env;
  }
}

/**
 * The endpoints drivers may use. An endpoint whose wMaxPacketSize is 0 is left out, as Linux's
 * usb_parse_endpoint skips it ("invalid wMaxPacketSize 0", drivers/usb/core/config.c): it can move
 * no data, and a reader sized by it would ask for zero-length transfers forever. A driver that
 * needs that endpoint then refuses the interface at probe like any interface missing one.
 */
function usableEndpoints(interfaceName: string, endpoints: readonly USBEndpoint[]): UsbEndpointInfo[] {
  const usable: UsbEndpointInfo[] = [];
  for (const e of endpoints) {
    const address = e.endpointNumber | (e.direction === 'in' ? 0x80 : 0);
    // Isochronous endpoints may have 0 in their first alternate setting (USB 2.0 5.6.3); this model
    // only sees bulk and interrupt endpoints in use, so the rule applies to all it keeps.
    if (!(e.packetSize > 0) && e.type !== 'isochronous') {
      log.warn({ interface: interfaceName, endpoint: address }, 'endpoint has invalid wMaxPacketSize 0: skipped');
      continue;
    }
    usable.push({ number: e.endpointNumber, address, direction: e.direction, type: e.type, packetSize: e.packetSize });
  }
  return usable;
}

/** One interface (its first alternate setting) of a device: what usb drivers bind. */
export class UsbInterface extends Device implements UsbMatchTarget {
  readonly interfaceNumber: number;
  readonly interfaceClass: number;
  readonly interfaceSubclass: number;
  readonly interfaceProtocol: number;
  readonly interfaceName: string | undefined;
  readonly endpoints: UsbEndpointInfo[];
  /** Set while claimed by us. */
  claimed = false;
  /** Whether we detached a kernel driver from it (and so must reattach it). */
  kernelDriverDetached = false;

  constructor(
    readonly usbDevice: UsbDevice,
    iface: USBInterface,
    readonly configurationValue: number,
  ) {
    super(`${usbDevice.name}:${configurationValue}.${iface.interfaceNumber}`, usbDevice);
    const alt = iface.alternate ?? iface.alternates[0]!;
    this.interfaceNumber = iface.interfaceNumber;
    this.interfaceClass = alt.interfaceClass;
    this.interfaceSubclass = alt.interfaceSubclass;
    this.interfaceProtocol = alt.interfaceProtocol;
    this.interfaceName = alt.interfaceName ?? undefined;
    this.endpoints = usableEndpoints(this.name, alt.endpoints);
  }

  // UsbMatchTarget: the device's fields, seen from the interface.
  get vendorId(): number {
    return this.usbDevice.vendorId;
  }
  get productId(): number {
    return this.usbDevice.productId;
  }
  get bcdDevice(): number {
    return this.usbDevice.bcdDevice;
  }
  get deviceClass(): number {
    return this.usbDevice.deviceClass;
  }
  get deviceSubclass(): number {
    return this.usbDevice.deviceSubclass;
  }
  get deviceProtocol(): number {
    return this.usbDevice.deviceProtocol;
  }

  get usb(): USBDevice {
    return this.usbDevice.usb;
  }

  endpoint(direction: 'in' | 'out', type: UsbEndpointInfo['type']): UsbEndpointInfo | undefined {
    return this.endpoints.find((e) => e.direction === direction && e.type === type);
  }

  /**
   * Takes the interface for us: opens the device, detaches a kernel driver bound to this
   * interface (only this one), claims it. Undone by release().
   */
  async claim(): Promise<void> {
    const dev = this.usbDevice;
    await dev.acquire();
    try {
      await dev.serialize(async () => {
        const kd = dev.host.kernelDriver;
        if (kd && (await kd.isActive(this.interfaceNumber))) {
          await kd.detach(this.interfaceNumber);
          this.kernelDriverDetached = true;
        }
        await this.usb.claimInterface(this.interfaceNumber);
        this.claimed = true;
      });
    } catch (err) {
      await this.release();
      throw err;
    }
  }

  /** Gives the interface back: release, reattach the kernel driver we detached, close if last. */
  async release(): Promise<void> {
    const dev = this.usbDevice;
    await dev.serialize(async () => {
      if (this.claimed) {
        this.claimed = false;
        await this.usb.releaseInterface(this.interfaceNumber).catch((err: unknown) => quietIfGone(err, dev, 'releaseInterface'));
      }
      if (this.kernelDriverDetached) {
        this.kernelDriverDetached = false;
        if (!dev.gone) {
          await dev.host.kernelDriver?.attach(this.interfaceNumber).catch((err: unknown) => quietIfGone(err, dev, 'attachKernelDriver'));
        }
      }
    });
    await dev.releaseOpen();
  }

  uevent(): Record<string, string> {
    return {
      ...this.usbDevice.uevent(),
      DEVTYPE: 'usb_interface',
      INTERFACE: `${this.interfaceClass}/${this.interfaceSubclass}/${this.interfaceProtocol}`,
      MODALIAS:
        `usb:v${hex4(this.vendorId)}p${hex4(this.productId)}d${hex4(this.bcdDevice)}` +
        `dc${hex2(this.deviceClass)}dsc${hex2(this.deviceSubclass)}dp${hex2(this.deviceProtocol)}` +
        `ic${hex2(this.interfaceClass)}isc${hex2(this.interfaceSubclass)}ip${hex2(this.interfaceProtocol)}in${hex2(this.interfaceNumber)}`,
    };
  }
}

export type UsbNode = UsbDevice | UsbInterface;

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
const hex2 = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');

/** Teardown of a device that is already gone fails; that is expected, not worth a warning. */
function quietIfGone(err: unknown, dev: UsbDevice, step: string): void {
  if (dev.gone || transferErrorKind(err) === 'disconnected') {
    log.debug({ device: dev.name, step }, 'device gone during teardown');
    return;
  }
  log.warn({ err, device: dev.name, step }, 'USB teardown step failed');
}
