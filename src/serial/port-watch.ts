// Finding usb-serial ports by name, watching them come and go, closing them without hanging:
// what the user-facing APIs (the Node stream, the serialport binding, Web Serial) share. A port counts once its adapter has finished
// probing (all its ports exist, so its stable path is final) and until it is unplugged or unbound.
// Browser-safe: no Node imports.
import { Observable } from 'rxjs';
import { CoreError } from '../core/index.ts';
import type { UsbBus } from '../usb/bus.ts';
import { formatPortPath } from '../usb/host.ts';
import { defaultUsb } from '../usb/default.ts';
import { childLog } from '../log.ts';
import { usbSerialBusOf } from './bus.ts';
import type { UsbSerialPort } from './port.ts';

const log = childLog('serial.ports');

/** What the serial APIs need of a USB subsystem (a UsbSubsystem fits). */
export interface UsbSerialHost {
  readonly bus: UsbBus;
  /** Resolves once queued hotplug events are applied (UsbSubsystem.settled). */
  settled?(): Promise<void>;
}

export function resolveHost(usb: UsbSerialHost | undefined): UsbSerialHost {
  return usb ?? defaultUsb();
}

/** The port is usable: on the bus, bound, its adapter's probe done, not unplugged. */
export function isPortReady(port: UsbSerialPort): boolean {
  return port.state === 'live' && port.bound && !port.gone && port.serial.intf.driverData === port.serial && port.serial.ports.includes(port);
}

/** Usable usb-serial ports, in creation order. */
export function readyPorts(usb: UsbSerialHost): UsbSerialPort[] {
  return usbSerialBusOf(usb.bus).listDevices().filter(isPortReady);
}

export interface PortChange {
  readonly type: 'add' | 'remove';
  readonly port: UsbSerialPort;
  /** An 'add' for a port that was already there when watching began. */
  readonly initial: boolean;
}

/**
 * Ports appearing and disappearing, from the driver model's uevents. With `initial` (default
 * true) the ports present at subscription come first, as 'add' with `initial: true`.
 */
export function watchPorts(usb: UsbSerialHost, options: { initial?: boolean } = {}): Observable<PortChange> {
  return new Observable<PortChange>((subscriber) => {
    const known = new Set<UsbSerialPort>();
    const rescan = (initial: boolean) => {
      const now = readyPorts(usb);
      const present = new Set(now);
      for (const port of [...known]) {
        if (present.has(port)) continue;
        known.delete(port);
        subscriber.next({ type: 'remove', port, initial: false });
      }
      for (const port of now) {
        if (known.has(port)) continue;
        known.add(port);
        subscriber.next({ type: 'add', port, initial });
      }
    };
    if (options.initial ?? true) rescan(true);
    else for (const p of readyPorts(usb)) known.add(p);
    // An adapter's ports become ready when its interface binds (after they were added); they
    // stop being ready when unplugged, which the port's unbind/remove shows. Any uevent of
    // either bus may change the picture, so each one triggers a (cheap) rescan.
    const sub = usb.bus.model.uevents.subscribe((e) => {
      if (e.kind === 'device' && (e.bus === 'usb' || e.bus === 'usb-serial')) rescan(false);
    });
    return () => sub.unsubscribe();
  });
}

/** No usb-serial port goes by that path. */
export class UnknownPortError extends CoreError {
  constructor(
    readonly path: string,
    readonly known: readonly string[],
  ) {
    super('ENODEV', `no usb-serial port '${path}'${known.length ? ` (ports now: ${known.join(', ')})` : ' (no usb-serial port is present)'}`);
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

/**
 * The port a path names: its stable path (port.stablePath, e.g. `serial:A50285BI:if0` or
 * `port:1-2.3:if0`), its ttyUSB name (`ttyUSB0`, `/dev/ttyUSB0`), or its udev by-id name
 * (`/dev/serial/by-id/usb-FTDI_..-if00-port0`). Throws UnknownPortError.
 */
export function findPort(usb: UsbSerialHost, path: string): UsbSerialPort {
  if (typeof path !== 'string' || path.trim() === '') throw new UnknownPortError(String(path), readyPorts(usb).map((p) => p.stablePath));
  const ports = readyPorts(usb);
  const wanted = path.trim();
  const tty = /^(?:\/dev\/)?(ttyUSB\d+)$/.exec(wanted)?.[1];
  const byId = wanted.replace(/^\/dev\/serial\/by-id\//, '');
  const hit =
    ports.find((p) => p.stablePath === wanted) ??
    (tty ? ports.find((p) => p.name === tty) : undefined) ??
    ports.find((p) => byIdName(p) === byId);
  if (!hit) throw new UnknownPortError(wanted, ports.map((p) => p.stablePath));
  return hit;
}

/**
 * Closes a port; with writes still pending, first discards what the chip has not sent, so a
 * write held by flow control cannot hold the close forever. (UsbSerialPort.close waits for
 * queued writes; it has no way yet to abort the one in flight.)
 */
export async function closeDiscarding(port: UsbSerialPort, writesPending: boolean): Promise<void> {
  const closing = port.close(); // sets 'closing' at once: no further write chunk starts
  if (writesPending && !port.gone) {
    await port.serial.type.spec.port?.purge(port, { rx: false, tx: true }).catch((err: unknown) => log.debug({ err, port: port.name }, 'tx purge at close failed'));
  }
  await closing;
}
