// The whole stack for CH341 tests: a mock host, the USB subsystem, and the ch341 driver
// registered through registerUsbSerialDrivers.
import { DriverModel } from '../../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, type UsbSerialPort, type UsbSerialRegistration } from '../../../src/serial/index.ts';
import { UsbSubsystem } from '../../../src/usb/index.ts';
import type { UsbInterface } from '../../../src/usb/device.ts';
import { MockUsbHost, type MockUsbDevice, type MockUsbHostOptions } from '../../../mocks/index.ts';
import { ch341AdapterOf, CH341_ID_TABLE, createCh341Driver, type Ch341Adapter } from '../../../drivers/ch341/index.ts';

export { collect, controlLines, nextEvent } from '../pl2303/lab.ts';
export { sleep as tick } from '../../helpers/async.ts';

export interface Ch341Lab {
  readonly usb: UsbSubsystem;
  readonly host: MockUsbHost;
  readonly reg: UsbSerialRegistration;
  readonly probeErrors: { intf: string; error: unknown }[];
  plug(device: MockUsbDevice): Promise<void>;
  info(index?: number): Ch341Adapter;
  port(index?: number): UsbSerialPort;
  close(): Promise<void>;
}

export async function ch341Lab(options: { host?: MockUsbHostOptions } = {}): Promise<Ch341Lab> {
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const host = new MockUsbHost(options.host);
  await usb.attachBackend(host);
  const probeErrors: { intf: string; error: unknown }[] = [];
  const driver = createCh341Driver({ onProbeError: (intf: UsbInterface, error) => probeErrors.push({ intf: intf.name, error }) });
  const reg = await registerUsbSerialDrivers([driver], 'ch341', CH341_ID_TABLE, { usbBus: usb.bus });
  return {
    usb,
    host,
    reg,
    probeErrors,
    async plug(device) {
      host.plug(device);
      await host.flush();
      await usb.settled();
    },
    info(i = 0) {
      const a = reg.adapters()[i];
      const info = a && ch341AdapterOf(a);
      if (!info) throw new Error(`no CH341 adapter ${i} (probe errors: ${probeErrors.map((e) => String(e.error)).join('; ') || 'none'})`);
      return info;
    },
    port(i = 0) {
      const p = reg.ports()[i];
      if (!p) throw new Error(`no port ${i}`);
      return p;
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
