// The whole stack for a chip driver's tests: a mock host with emulated parts and a usb-serial
// stack (src/stack.ts) on it, the family's driver registered once the host is attached, with its
// probe errors kept; and the event helpers the drivers' tests share. One table row per family.
import type { PortEvent, SerialDriverSpec, UsbSerial, UsbSerialPort, UsbSerialRegistration } from '../../src/serial/index.ts';
import { createStack } from '../../src/stack.ts';
import type { UsbSubsystem } from '../../src/usb/index.ts';
import type { UsbInterface } from '../../src/usb/device.ts';
import type { UsbDeviceId } from '../../src/usb/ids.ts';
import { MockUsbHost, type MockUsbDevice, type MockUsbHostOptions, type TransferLogEntry } from '../../mocks/index.ts';
import { cdcAcmAdapterOf, CDC_ACM_ID_TABLE, createCdcAcmDriver, type CdcAcmAdapter, type CdcAcmDriverOptions } from '../../drivers/cdc-acm/index.ts';
import { ch341AdapterOf, CH341_ID_TABLE, createCh341Driver, type Ch341Adapter, type Ch341DriverOptions } from '../../drivers/ch341/index.ts';
import { cp210xAdapterOf, CP210X_ID_TABLE, createCp210xDriver, type Cp210xAdapter, type Cp210xDriverOptions } from '../../drivers/cp210x/index.ts';
import { createPl2303Driver, pl2303AdapterOf, PL2303_ID_TABLE, type Pl2303Adapter, type Pl2303DriverOptions } from '../../drivers/pl2303/index.ts';

type ProbeErrorHook = { onProbeError?(intf: UsbInterface, error: unknown): void };

/** What a lab needs of a chip family. */
export interface LabFamily<A, O> {
  /** The usb driver's name. */
  readonly name: string;
  /** How error messages name an adapter. */
  readonly label: string;
  readonly ids: readonly UsbDeviceId[];
  create(options: O & ProbeErrorHook): SerialDriverSpec;
  adapterOf(target: UsbSerial | UsbSerialPort): A | undefined;
  /** port(n) and info(n): the n-th bound port ('index') or the port on interface n ('interface', multi-port parts). */
  readonly portBy: 'index' | 'interface';
}

export const LAB_FAMILIES = {
  pl2303: { name: 'pl2303', label: 'PL2303', ids: PL2303_ID_TABLE, create: createPl2303Driver, adapterOf: pl2303AdapterOf, portBy: 'index' } as LabFamily<Pl2303Adapter, Pl2303DriverOptions>,
  cp210x: { name: 'cp210x', label: 'CP210x', ids: CP210X_ID_TABLE, create: createCp210xDriver, adapterOf: cp210xAdapterOf, portBy: 'interface' } as LabFamily<Cp210xAdapter, Cp210xDriverOptions>,
  ch341: { name: 'ch341', label: 'CH341', ids: CH341_ID_TABLE, create: createCh341Driver, adapterOf: ch341AdapterOf, portBy: 'index' } as LabFamily<Ch341Adapter, Ch341DriverOptions>,
  cdcAcm: { name: 'cdc_acm', label: 'CDC-ACM', ids: CDC_ACM_ID_TABLE, create: createCdcAcmDriver, adapterOf: cdcAcmAdapterOf, portBy: 'index' } as LabFamily<CdcAcmAdapter, CdcAcmDriverOptions>,
} as const;

export interface ChipLab<A> {
  readonly usb: UsbSubsystem;
  readonly host: MockUsbHost;
  readonly reg: UsbSerialRegistration;
  readonly probeErrors: { intf: string; error: unknown }[];
  /** Plugs a device and waits until its probe has run. */
  plug(device: MockUsbDevice, portPath?: string): Promise<void>;
  unplug(device: MockUsbDevice): Promise<void>;
  adapter(index?: number): UsbSerial;
  info(index?: number): A;
  port(index?: number): UsbSerialPort;
  /** Closes the ports, deregisters the driver (unless a test did), stops the bus, closes the host. */
  close(): Promise<void>;
}

export interface LabOptions<O> {
  host?: MockUsbHostOptions;
  driver?: O;
}

export async function chipLab<A, O>(family: LabFamily<A, O>, options: LabOptions<O> = {}): Promise<ChipLab<A>> {
  const host = new MockUsbHost(options.host);
  const probeErrors: { intf: string; error: unknown }[] = [];
  const driver = family.create({ ...(options.driver as O), onProbeError: (intf: UsbInterface, error: unknown) => probeErrors.push({ intf: intf.name, error }) });
  const stack = await createStack({ host, driverSets: [{ name: family.name, specs: [driver], ids: family.ids }], order: 'host-first' });
  const { usb } = stack;
  const reg = stack.registrations[0]!;
  const settle = async () => {
    await host.flush();
    await usb.settled();
  };
  const errors = () => probeErrors.map((e) => String(e.error)).join('; ') || 'none';
  const adapter = (i = 0): UsbSerial => {
    const a = reg.adapters()[i];
    if (!a) throw new Error(`no ${family.label} adapter ${i} bound (probe errors: ${errors()})`);
    return a;
  };
  const port = (i = 0): UsbSerialPort => {
    const p = family.portBy === 'interface' ? reg.ports().find((x) => x.serial.intf.interfaceNumber === i) : reg.ports()[i];
    if (!p) throw new Error(`no ${family.label} port ${family.portBy === 'interface' ? `on interface ${i}` : i} (probe errors: ${errors()})`);
    return p;
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
      const a = family.adapterOf(family.portBy === 'interface' ? port(i) : adapter(i));
      if (!a) throw new Error(`no ${family.label} state on adapter ${i}`);
      return a;
    },
    port,
    async close() {
      for (const p of reg.ports()) await p.close().catch(() => undefined);
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

