// The hotplug stream: a backend's initial enumeration plus its connect/disconnect events, as an
// RxJS Observable of attach and detach. Watching starts before enumerating, so nothing that
// happens in between is lost; a duplicated connect, or a disconnect of a device never seen,
// is dropped.
import { filter, Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { formatPortPath, type HostBackend, type HostDevice, type HostEvent } from './host.ts';

export interface HotplugEvent {
  readonly type: 'attach' | 'detach';
  readonly device: HostDevice;
  readonly vendorId: number;
  readonly productId: number;
  readonly serialNumber: string | undefined;
  /** Linux-style bus-port path (`1-2.3`) where the backend knows it. */
  readonly portPath: string | undefined;
  /** Order of this event within its subscription. */
  readonly seq: number;
}

export interface HotplugOptions {
  /** Called once the initial enumeration has been delivered. */
  onEnumerated?: () => void;
}

export function hotplugEvents(backend: HostBackend, options: HotplugOptions = {}): Observable<HotplugEvent> {
  return new Observable<HotplugEvent>((subscriber) => {
    const known = new Set<HostDevice>();
    const buffered: HostEvent[] = [];
    let enumerating = true;
    let closed = false;
    let stop: (() => void) | null = null;
    let seq = 0;

    const deliver = (ev: HostEvent) => {
      if (closed) return;
      if (ev.type === 'connect') {
        if (known.has(ev.device)) return;
        known.add(ev.device);
      } else if (!known.delete(ev.device)) {
        return;
      }
      const u = ev.device.usb;
      subscriber.next({
        type: ev.type === 'connect' ? 'attach' : 'detach',
        device: ev.device,
        vendorId: u.vendorId,
        productId: u.productId,
        serialNumber: u.serialNumber ?? undefined,
        portPath: ev.device.location ? formatPortPath(ev.device.location) : undefined,
        seq: ++seq,
      });
    };

    (async () => {
      stop = await backend.watch((ev) => (enumerating ? buffered.push(ev) : deliver(ev)));
      if (closed) {
        stop();
        return;
      }
      for (const device of await backend.getDevices()) deliver({ type: 'connect', device });
      enumerating = false;
      for (const ev of buffered.splice(0)) deliver(ev);
      options.onEnumerated?.();
    })().catch((err: unknown) => {
      if (!closed) subscriber.error(err);
    });

    return () => {
      closed = true;
      stop?.();
    };
  });
}

export interface HotplugFilter {
  vendorId?: number;
  productId?: number;
  serialNumber?: string;
}

/** Keeps the events of matching devices (by VID/PID and/or serial number). */
export function matchingDevices(f: HotplugFilter): MonoTypeOperatorFunction<HotplugEvent> {
  return filter(
    (e) =>
      (f.vendorId === undefined || e.vendorId === f.vendorId) &&
      (f.productId === undefined || e.productId === f.productId) &&
      (f.serialNumber === undefined || e.serialNumber === f.serialNumber),
  );
}
