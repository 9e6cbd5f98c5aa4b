// Linux sysfs for the native backends (libusb and nusb): where /sys/bus/usb is, device
// directory names, attribute reads off the JS thread, and binding a kernel driver through
// drivers_probe. Browser-loadable: node:fs is reached only when a function here runs.
import { formatPortPath, type UsbLocation } from '../host.ts';
import { childLog } from '../../log.ts';
import { HostBackendError } from './errors.ts';

const log = childLog('usb.backend.sysfs');

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

/**
 * A hub port's `disable` attribute (linux drivers/usb/core/port.c `disable_store`, kernel 6.0+):
 * writing 1 disconnects the device below, then clears the port's PORT_POWER and keeps it off;
 * 0 powers it again and the device re-enumerates. Through it the kernel's hub driver knows the
 * port is meant to be off: a bare ClearPortFeature(PORT_POWER) from userspace is undone by the
 * hub driver within seconds (uhubctl's README says the same of real hubs).
 * Root hub `usb1` port 3: `<root>/devices/1-0:1.0/usb1-port3/disable`; hub `1-2` port 3:
 * `<root>/devices/1-2:<bConfigurationValue>.0/1-2-port3/disable` (uhubctl builds the same names).
 * The path, or null where it does not exist or this process may not write it.
 */
export async function hubPortDisablePath(opts: SysfsOptions, hub: string, port: number): Promise<string | null> {
  if ((opts.platform ?? process.platform) !== 'linux') return null;
  const devices = `${sysfsUsbRoot(opts)}/devices`;
  const root = /^usb(\d+)$/.exec(hub);
  let fs: NodeFs;
  try {
    fs = nodeFs();
  } catch {
    return null;
  }
  let interfaceDir: string | undefined;
  if (root) interfaceDir = `${root[1]}-0:1.0`;
  else {
    // The hub's interface 0 in whichever configuration is active (hubs have one; 1 in practice).
    const entries = await fs.promises.readdir(devices).catch(() => [] as string[]);
    interfaceDir = entries.find((e) => e.startsWith(`${hub}:`) && e.endsWith('.0'));
  }
  if (!interfaceDir) return null;
  const path = `${devices}/${interfaceDir}/${hub}-port${port}/disable`;
  try {
    await fs.promises.access(path, fs.constants.W_OK);
    return path;
  } catch {
    return null;
  }
}

/** Writes a hub port's `disable` attribute: true cuts the port's power, false restores it. */
export async function writeHubPortDisable(path: string, disable: boolean): Promise<void> {
  const fs = nodeFs();
  await fs.promises.writeFile(path, disable ? '1' : '0', { flag: fs.constants.O_WRONLY });
}
