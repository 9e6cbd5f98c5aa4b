// The whole stack for PL2303 tests: a mock host with emulated parts and a usb-serial stack
// (src/stack.ts) on it with the pl2303 driver registered once the host is attached.
import {
  type PortEvent,
  type UsbSerial,
  type UsbSerialPort,
  type UsbSerialRegistration,
} from '../../../src/serial/index.ts';
import { createStack } from '../../../src/stack.ts';
import type { UsbSubsystem } from '../../../src/usb/index.ts';
import type { UsbInterface } from '../../../src/usb/device.ts';
import { MockUsbHost, type MockUsbDevice, type MockUsbHostOptions, type TransferLogEntry } from '../../../mocks/index.ts';
import { createPl2303Driver, pl2303AdapterOf, PL2303_ID_TABLE, type Pl2303Adapter, type Pl2303DriverOptions } from '../../../drivers/pl2303/index.ts';

export interface Pl2303Lab {
  readonly usb: UsbSubsystem;
  readonly host: MockUsbHost;
  readonly reg: UsbSerialRegistration;
  readonly probeErrors: { intf: string; error: unknown }[];
  /** Plugs a device and waits until its probe has run. */
  plug(device: MockUsbDevice, portPath?: string): Promise<void>;
  unplug(device: MockUsbDevice): Promise<void>;
  adapter(index?: number): UsbSerial;
  info(index?: number): Pl2303Adapter;
  port(index?: number): UsbSerialPort;
  close(): Promise<void>;
}

export async function pl2303Lab(
  options: { host?: MockUsbHostOptions; driver?: Pl2303DriverOptions } = {},
): Promise<Pl2303Lab> {
  const host = new MockUsbHost(options.host);
  const probeErrors: { intf: string; error: unknown }[] = [];
  const driver = createPl2303Driver({
    ...options.driver,
    onProbeError: (intf: UsbInterface, error) => probeErrors.push({ intf: intf.name, error }),
  });
  const stack = await createStack({ host, driverSets: [{ name: 'pl2303', specs: [driver], ids: PL2303_ID_TABLE }], order: 'host-first' });
  const { usb } = stack;
  const reg = stack.registrations[0]!;
  const settle = async () => {
    await host.flush();
    await usb.settled();
  };
  const adapter = (i = 0): UsbSerial => {
    const a = reg.adapters()[i];
    if (!a) throw new Error(`no adapter ${i} bound (probe errors: ${probeErrors.map((e) => String(e.error)).join('; ') || 'none'})`);
    return a;
  };
  return {
    usb,
    host,
    reg,
    probeErrors,
    async plug(device, portPath) {
      host.plug(device, portPath);
      await settle();
    },
    async unplug(device) {
      host.unplug(device);
      await settle();
    },
    adapter,
    info(i = 0) {
      const a = pl2303AdapterOf(adapter(i));
      if (!a) throw new Error('adapter has no PL2303 state');
      return a;
    },
    port(i = 0) {
      const p = reg.ports()[i];
      if (!p) throw new Error(`no port ${i}`);
      return p;
    },
    async close() {
      for (const p of reg.ports()) await p.close().catch(() => undefined);
      // Deregisters the driver (unless a test already did), stops the bus, closes the host.
      await stack.close();
    },
  };
}

/** Control transfers of the log as compact strings: `c0 01 8484 0000 1`, `40 01 0404 0000 0`, with data. */
export function controlLines(log: readonly TransferLogEntry[]): string[] {
  return log
    .filter((e) => e.kind === 'control-in' || e.kind === 'control-out')
    .map((e) => {
      const s = e.setup!;
      const head = `${h2(s.bmRequestType)} ${h2(s.bRequest)} ${h4(s.wValue)} ${h4(s.wIndex)} ${s.wLength}`;
      const data = e.kind === 'control-out' && e.data && e.data.length ? ` [${hex(e.data)}]` : '';
      const stall = e.status === 'stall' ? ' STALL' : '';
      return head + data + stall;
    });
}

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
const h2 = (n: number) => n.toString(16).padStart(2, '0');
const h4 = (n: number) => n.toString(16).padStart(4, '0');

/** Resolves with the next event of a type (or rejects after `ms`). */
export function nextEvent<T extends PortEvent['type']>(
  port: UsbSerialPort,
  type: T,
  ms = 2000,
  where: (e: Extract<PortEvent, { type: T }>) => boolean = () => true,
): Promise<Extract<PortEvent, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`no '${type}' event within ${ms} ms`));
    }, ms);
    const sub = port.events.subscribe((e) => {
      if (e.type === type && where(e as Extract<PortEvent, { type: T }>)) {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(e as Extract<PortEvent, { type: T }>);
      }
    });
  });
}

/** Collects received bytes until `n` arrived. */
export function collect(port: UsbSerialPort, n: number, ms = 20_000): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const out = new Uint8Array(n);
    let got = 0;
    const timer = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`only ${got} of ${n} bytes arrived within ${ms} ms`));
    }, ms);
    const sub = port.events.subscribe((e) => {
      if (e.type !== 'data') return;
      const take = Math.min(e.data.length, n - got);
      out.set(e.data.subarray(0, take), got);
      got += take;
      if (got >= n) {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(out);
      }
    });
  });
}

