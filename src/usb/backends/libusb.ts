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
import { DeviceRegistry } from './device-registry.ts';
import { HostBackendError, errorMessage } from './errors.ts';
import { LibusbUsbDevice, type LibusbTimeouts } from './libusb-device.ts';
import { throwMapped } from './libusb-errors.ts';
import { LIBUSB, loadLibusbModule, type LibusbError, type LibusbLegacyDevice, type LibusbModule } from './libusb-module.ts';
import { readStringsViaDescriptors, sysfsNames } from './libusb-names.ts';
import { bindKernelDriverViaSysfs, missingUsbSysfs, sysfsDeviceName, sysfsUsbRoot, type SysfsOptions } from './linux-sysfs.ts';
import { WatchHub } from './watch-hub.ts';

const log = childLog('usb.backend.libusb');

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

export interface LibusbBackendOptions extends SysfsOptions {
  /**
   * transferIn calls a caller may keep pending on one IN endpoint. Default 8: Linux's usb-serial
   * keeps 2 read URBs because its completion runs in microseconds; a userspace completion can wait
   * behind a GC pause or other JS, so more transfers hold the chip's stream meanwhile (8 x 16
   * packets of 64 bytes is ~27 ms at 3 Mbaud). On QEMU's emulated FTDI, 8 echoed 1.2-1.6x the
   * kernel path where 4 gave 0.6-1.1x (bench:vm, interleaved rounds).
   */
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
      maxTransfersInFlight: opts.maxTransfersInFlight ?? 8,
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

  /**
   * Resolves once every attach and detach libusb has reported so far is delivered to the
   * watchers. A new device reaches them only after its brief open to read the string
   * descriptors, which takes as many event-loop turns as it has strings: a caller that must see
   * the device on the bus waits for this (then UsbSubsystem.settled()), not for a number of turns.
   */
  flush(): Promise<void> {
    return this.hub.drain();
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
