// The whole stack for FTDI tests: a UsbSubsystem fed by a MockUsbHost, ftdi_sio registered
// through registerUsbSerialDrivers, and emulated FTDI parts plugged in.
import { DriverModel } from '../../../src/core/index.ts';
import {
  deregisterUsbSerialDrivers,
  registerUsbSerialDrivers,
  type PortEvent,
  type UsbSerialPort,
  type UsbSerialRegistration,
} from '../../../src/serial/index.ts';
import { UsbSubsystem } from '../../../src/usb/index.ts';
import { MockUsbHost, type MockUsbDevice, type MockUsbHostOptions, type TransferLogEntry } from '../../../mocks/index.ts';
import { FTDI_IDS, ftdiSerialDriver } from '../../../drivers/ftdi/index.ts';
import type { MockFtdi } from '../../../mocks/ftdi/index.ts';

export interface FtdiLab {
  host: MockUsbHost;
  usb: UsbSubsystem;
  reg: UsbSerialRegistration;
  /** Plugs and waits until the bus has applied it; returns the ports of the device, by interface. */
  plug(dev: MockFtdi | MockUsbDevice, at?: string): Promise<UsbSerialPort[]>;
  unplug(dev: MockFtdi | MockUsbDevice): Promise<void>;
  portsOf(dev: MockFtdi | MockUsbDevice): UsbSerialPort[];
  close(): Promise<void>;
}

const usbOf = (d: MockFtdi | MockUsbDevice): MockUsbDevice => ('device' in d ? d.device : d);

export async function ftdiLab(o: { host?: MockUsbHostOptions } = {}): Promise<FtdiLab> {
  const host = new MockUsbHost(o.host);
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const stop = await usb.attachBackend(host);
  const reg = await registerUsbSerialDrivers([ftdiSerialDriver], 'ftdi_sio', FTDI_IDS, { usbBus: usb.bus });
  const portsOf = (d: MockFtdi | MockUsbDevice) =>
    reg
      .ports()
      .filter((p) => p.serial.usbDevice.usb === usbOf(d))
      .sort((a, b) => a.serial.intf.interfaceNumber - b.serial.intf.interfaceNumber);
  return {
    host,
    usb,
    reg,
    portsOf,
    async plug(d, at) {
      host.plug(usbOf(d), at);
      await host.flush();
      await usb.settled();
      return portsOf(d);
    },
    async unplug(d) {
      host.unplug(usbOf(d));
      await host.flush();
      await usb.settled();
    },
    async close() {
      host.unplugAll();
      await host.flush();
      await usb.settled();
      if (reg.state === 'registered') await deregisterUsbSerialDrivers(reg);
      stop();
      await usb.stop();
      await host.close();
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when `check` holds (polling); rejects after `ms`. */
export async function until(check: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** Collects a port's events (and received bytes) from now on. */
export function record(port: UsbSerialPort) {
  const events: PortEvent[] = [];
  const chunks: Uint8Array[] = [];
  let received = 0;
  const sub = port.events.subscribe((e) => {
    if (e.type === 'data') {
      chunks.push(e.data);
      received += e.data.length;
    } else events.push(e);
  });
  return {
    events,
    get received() {
      return received;
    },
    bytes(): Uint8Array {
      const out = new Uint8Array(received);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      return out;
    },
    ofType<T extends PortEvent['type']>(type: T): Extract<PortEvent, { type: T }>[] {
      return events.filter((e): e is Extract<PortEvent, { type: T }> => e.type === type);
    },
    stop: () => sub.unsubscribe(),
  };
}

/** The vendor control requests in a device's transfer log, as [bRequest, wValue, wIndex] (IN ones with wLength). */
export function vendorRequests(log: readonly TransferLogEntry[]): { req: number; value: number; index: number; dir: 'in' | 'out'; length: number; status?: string }[] {
  return log
    .filter((e) => e.setup && ((e.setup.bmRequestType >> 5) & 3) === 2)
    .map((e) => ({
      req: e.setup!.bRequest,
      value: e.setup!.wValue,
      index: e.setup!.wIndex,
      dir: e.setup!.bmRequestType & 0x80 ? ('in' as const) : ('out' as const),
      length: e.setup!.wLength,
      status: e.status,
    }));
}

/** A reproducible byte pattern. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
