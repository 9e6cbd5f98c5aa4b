// The whole stack for CP210x tests: a mock host with emulated parts, the USB subsystem, and the
// cp210x driver registered through registerUsbSerialDrivers.
import { DriverModel } from '../../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, type UsbSerialPort, type UsbSerialRegistration } from '../../../src/serial/index.ts';
import { UsbSubsystem } from '../../../src/usb/index.ts';
import type { UsbInterface } from '../../../src/usb/device.ts';
import { MockUsbHost, type MockUsbDevice, type MockUsbHostOptions } from '../../../mocks/index.ts';
import { createCp210xDriver, cp210xAdapterOf, CP210X_ID_TABLE, type Cp210xAdapter, type Cp210xDriverOptions } from '../../../drivers/cp210x/index.ts';

export { collect, controlLines, hex, nextEvent } from '../pl2303/lab.ts';
export { sleep as tick } from '../../helpers/async.ts';

export interface Cp210xLab {
  readonly usb: UsbSubsystem;
  readonly host: MockUsbHost;
  readonly reg: UsbSerialRegistration;
  readonly probeErrors: { intf: string; error: unknown }[];
  plug(device: MockUsbDevice, portPath?: string): Promise<void>;
  unplug(device: MockUsbDevice): Promise<void>;
  /** The port on interface `n` of the (only) plugged device. */
  port(n?: number): UsbSerialPort;
  info(n?: number): Cp210xAdapter;
  close(): Promise<void>;
}

export async function cp210xLab(options: { host?: MockUsbHostOptions; driver?: Cp210xDriverOptions } = {}): Promise<Cp210xLab> {
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const host = new MockUsbHost(options.host);
  await usb.attachBackend(host);
  const probeErrors: { intf: string; error: unknown }[] = [];
  const driver = createCp210xDriver({ ...options.driver, onProbeError: (intf: UsbInterface, error) => probeErrors.push({ intf: intf.name, error }) });
  const reg = await registerUsbSerialDrivers([driver], 'cp210x', CP210X_ID_TABLE, { usbBus: usb.bus });
  const settle = async () => {
    await host.flush();
    await usb.settled();
  };
  const port = (n = 0): UsbSerialPort => {
    const p = reg.ports().find((x) => x.serial.intf.interfaceNumber === n);
    if (!p) throw new Error(`no port on interface ${n} (probe errors: ${probeErrors.map((e) => String(e.error)).join('; ') || 'none'})`);
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
    port,
    info(n = 0) {
      const a = cp210xAdapterOf(port(n));
      if (!a) throw new Error('port has no CP210x state');
      return a;
    },
    async close() {
      for (const p of reg.ports()) await p.close().catch(() => undefined);
      if (reg.state === 'registered') await deregisterUsbSerialDrivers(reg);
      host.unplugAll();
      await usb.stop();
      await host.close();
    },
  };
}
