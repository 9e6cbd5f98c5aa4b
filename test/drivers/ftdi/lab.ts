// The whole stack for FTDI tests: a usb-serial stack (src/stack.ts) fed by a MockUsbHost with
// ftdi_sio registered, and emulated FTDI parts plugged in.
import {
  type PortEvent,
  type UsbSerialPort,
  type UsbSerialRegistration,
} from '../../../src/serial/index.ts';
import { createStack } from '../../../src/stack.ts';
import type { UsbSubsystem } from '../../../src/usb/index.ts';
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
  const stack = await createStack({ host, driverSets: [{ name: 'ftdi_sio', specs: [ftdiSerialDriver], ids: FTDI_IDS }], order: 'host-first' });
  const { usb } = stack;
  const reg = stack.registrations[0]!;
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
      // Deregisters ftdi_sio (unless a test already did), stops the bus, closes the host.
      await stack.close();
    },
  };
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
