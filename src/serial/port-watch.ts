// Which usb-serial ports are usable, watching them come and go, closing them without hanging:
// what the user-facing APIs (the Node stream, the serialport binding, Web Serial) share. A port
// counts once its adapter has finished probing (all its ports exist, so its stable path is
// final) and until it is unplugged or unbound. Names and lookup are in port-resolver.ts.
// Browser-safe: no Node imports.
import { Observable } from 'rxjs';
import type { UsbBus } from '../usb/bus.ts';
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
