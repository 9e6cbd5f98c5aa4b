// Port names and the one lookup every user-facing API shares (the command line, the serialport
// binding, the Node stream helpers). A usb-serial port answers to:
//   - its ttyUSB name:   ttyUSB0, /dev/ttyUSB0 (changes across plugs, as in Linux)
//   - its stable path:   serial:<serial number>:if<n>, or port:<bus-port path>:if<n> without one;
//                        a multi-port interface adds .<port number> (see UsbSerialPort.stablePath)
//   - its udev by-id name: usb-<vendor>_<product>[_<serial>]-if<NN>-port<n>, with or without
//                        /dev/serial/by-id/ (udev's 60-serial.rules)
//   - its adapter's serial number, when that names exactly one port.
// Browser-safe: no Node imports.
import { CoreError } from '../core/index.ts';
import { formatPortPath } from '../usb/host.ts';
import type { UsbSerialPort } from './port.ts';
import { readyPorts, type UsbSerialHost } from './port-watch.ts';

/** No usb-serial port goes by that name. `known` lists the stable paths of the ports present. */
export class UnknownPortError extends CoreError {
  constructor(
    readonly path: string,
    readonly known: readonly string[],
  ) {
    super('ENODEV', `no usb-serial port '${path}'${known.length ? ` (ports now: ${known.join(', ')})` : ' (no usb-serial port is present)'}`);
  }
}

/** The name fits more than one port (a serial number of a multi-port adapter, or one shared by two adapters). */
export class AmbiguousPortError extends CoreError {
  constructor(
    readonly path: string,
    readonly candidates: readonly string[],
  ) {
    super('EINVAL', `'${path}' names ${candidates.length} usb-serial ports (${candidates.join(', ')}); name one by its ttyUSB name or stable path`);
  }
}

/** The bus/port path of the port's USB device ('1-2.3'), where the backend knows it. */
export function locationOf(port: UsbSerialPort): string | undefined {
  const loc = port.serial.usbDevice.location;
  return loc ? formatPortPath(loc) : undefined;
}

const udevSafe = (s: string) => s.trim().replace(/\s+/g, '_').replace(/[^A-Za-z0-9_.+-]/g, '_');

/** udev's /dev/serial/by-id name: usb-<vendor>_<product>[_<serial>]-if<NN>-port<n>. */
export function byIdName(port: UsbSerialPort): string {
  const dev = port.serial.usbDevice;
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  const parts = [dev.manufacturer ? udevSafe(dev.manufacturer) : hex(dev.vendorId), dev.product ? udevSafe(dev.product) : hex(dev.productId)];
  if (dev.serialNumber) parts.push(udevSafe(dev.serialNumber));
  const ifnum = port.serial.intf.interfaceNumber.toString(16).padStart(2, '0');
  return `usb-${parts.join('_')}-if${ifnum}-port${port.portNumber}`;
}

const TTY = /^(?:\/dev\/)?(ttyUSB\d+)$/;
const BY_ID_DIR = /^\/dev\/serial\/by-id\//;

/**
 * The port among `ports` that `name` names, trying the forms above in that order (a stable path
 * first: it is the name that cannot change under the caller). Throws UnknownPortError when no
 * port fits, and AmbiguousPortError when several fit the first form that fits any (two adapters
 * sharing a serial number share their stable paths too; their ttyUSB names still differ).
 */
export function resolvePort(ports: readonly UsbSerialPort[], name: string): UsbSerialPort {
  const known = () => ports.map((p) => p.stablePath);
  if (typeof name !== 'string' || name.trim() === '') throw new UnknownPortError(String(name), known());
  const wanted = name.trim();
  const tty = TTY.exec(wanted)?.[1];
  const byId = wanted.replace(BY_ID_DIR, '');
  const forms: ((p: UsbSerialPort) => boolean)[] = [
    (p) => p.stablePath === wanted,
    (p) => tty !== undefined && p.name === tty,
    (p) => byIdName(p) === byId,
    (p) => p.serial.usbDevice.serialNumber === wanted,
  ];
  for (const fits of forms) {
    const hits = ports.filter(fits);
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw new AmbiguousPortError(wanted, hits.map((p) => `${p.name} (${p.stablePath})`));
  }
  throw new UnknownPortError(wanted, known());
}

/** The ready port (see port-watch.ts isPortReady) that `name` names on a USB subsystem. */
export function findPort(usb: UsbSerialHost, name: string): UsbSerialPort {
  return resolvePort(readyPorts(usb), name);
}
