// Finds our gadget as the guest kernel's USB host side sees it (on dummy_hcd), for the jobs that
// bridge an emulation: which driver has interface 0, its ttyUSB, the endpoint addresses.
// By idVendor and the sysfs path only: the string attributes (serial...) take the device lock,
// which the hub thread holds while it enumerates; a synchronous read of one would block the
// caller's event loop, and with it a bridge answering the kernel's control requests.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';

export interface GadgetOnHost {
  /** The USB device's sysfs name (e.g. 3-1). */
  dev: string;
  /** The driver bound to interface 0, if any. */
  driver?: string;
  tty?: string;
  /** The endpoint addresses the host sees (the UDC's autoconfig chose them), as 0x.. strings. */
  endpoints: string[];
}

/** The first device on a dummy_hcd bus with this idVendor (4 hex digits), or undefined. */
export function findGadgetDevice(idVendor: string): GadgetOnHost | undefined {
  for (const d of readdirSync('/sys/bus/usb/devices')) {
    if (!/^\d+-[\d.]+$/.test(d)) continue;
    const path = `/sys/bus/usb/devices/${d}`;
    if (!realpathSync(path).includes('dummy_hcd')) continue;
    try {
      if (readFileSync(`${path}/idVendor`, 'utf8').trim() !== idVendor) continue;
    } catch {
      continue;
    }
    const intf = `${path}/${d}:1.0`;
    const present = existsSync(intf);
    const driver = existsSync(`${intf}/driver`) ? basename(realpathSync(`${intf}/driver`)) : undefined;
    const tty = present ? readdirSync(intf).find((n) => n.startsWith('ttyUSB')) : undefined;
    const endpoints = present ? readdirSync(intf).filter((n) => /^ep_[0-9a-f]{2}$/.test(n)).map((n) => `0x${n.slice(3)}`) : [];
    return { dev: d, driver, tty, endpoints };
  }
  return undefined;
}

export interface GadgetInterfaceOnHost {
  /** bInterfaceNumber. */
  number: number;
  driver?: string;
  /** ttyUSB* (usb-serial) or ttyACM* (cdc_acm, under the interface's tty/ folder). */
  tty?: string;
}

export interface GadgetOnBus {
  dev: string;
  idVendor: string;
  idProduct: string;
  /** bNumInterfaces of the active configuration; interfaces holds fewer while the kernel still adds them. */
  numInterfaces: number;
  interfaces: GadgetInterfaceOnHost[];
}

/** The number of the USB bus of dummy_hcd.<index> (one bus per emulated controller). */
export function dummyBusOf(index: number): number {
  const dir = `/sys/devices/platform/dummy_hcd.${index}`;
  const bus = existsSync(dir) ? readdirSync(dir).find((n) => /^usb\d+$/.test(n)) : undefined;
  if (!bus) throw new Error(`no USB bus under ${dir}`);
  return Number(bus.slice(3));
}

/**
 * The device on a bus (the first one that is not the root hub) with every interface's driver and
 * tty, or undefined while none is enumerated. Reads only idVendor/idProduct and the interface
 * folders (no string attributes: see findGadgetDevice).
 */
export function findGadgetOnBus(bus: number): GadgetOnBus | undefined {
  const dev = readdirSync('/sys/bus/usb/devices').find((d) => d.startsWith(`${bus}-`) && /^\d+-[\d.]+$/.test(d));
  if (!dev) return undefined;
  const path = `/sys/bus/usb/devices/${dev}`;
  let idVendor: string;
  let idProduct: string;
  let numInterfaces: number;
  try {
    idVendor = readFileSync(`${path}/idVendor`, 'utf8').trim();
    idProduct = readFileSync(`${path}/idProduct`, 'utf8').trim();
    // Empty until a configuration is set.
    numInterfaces = Number(readFileSync(`${path}/bNumInterfaces`, 'utf8').trim() || '0');
  } catch {
    return undefined;
  }
  const interfaces: GadgetInterfaceOnHost[] = [];
  for (const name of readdirSync(path).filter((n) => n.startsWith(`${dev}:`)).sort()) {
    const intf = `${path}/${name}`;
    let number: number;
    try {
      number = parseInt(readFileSync(`${intf}/bInterfaceNumber`, 'utf8').trim(), 16);
    } catch {
      continue;
    }
    const driver = existsSync(`${intf}/driver`) ? basename(realpathSync(`${intf}/driver`)) : undefined;
    let tty = readdirSync(intf).find((n) => /^tty(USB|ACM)\d+$/.test(n));
    if (!tty && existsSync(`${intf}/tty`)) tty = readdirSync(`${intf}/tty`).find((n) => /^ttyACM\d+$/.test(n));
    interfaces.push({ number, driver, tty });
  }
  return { dev, idVendor, idProduct, numInterfaces, interfaces };
}
