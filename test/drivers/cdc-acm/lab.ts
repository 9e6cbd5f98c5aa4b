// The whole stack for CDC-ACM tests: a mock host, the USB subsystem, and the cdc_acm driver
// registered through registerUsbSerialDrivers.
import { DriverModel } from '../../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, type UsbSerialPort, type UsbSerialRegistration } from '../../../src/serial/index.ts';
import { UsbSubsystem } from '../../../src/usb/index.ts';
import type { UsbInterface } from '../../../src/usb/device.ts';
import { MockUsbHost, type MockUsbDevice, type MockUsbHostOptions } from '../../../mocks/index.ts';
import { cdcAcmAdapterOf, CDC_ACM_ID_TABLE, createCdcAcmDriver, type CdcAcmAdapter } from '../../../drivers/cdc-acm/index.ts';

export { collect, controlLines, nextEvent } from '../pl2303/lab.ts';
export { sleep as tick } from '../../helpers/async.ts';

export interface AcmLab {
  readonly usb: UsbSubsystem;
  readonly host: MockUsbHost;
  readonly reg: UsbSerialRegistration;
  readonly probeErrors: { intf: string; error: unknown }[];
  plug(device: MockUsbDevice): Promise<void>;
  info(index?: number): CdcAcmAdapter;
  port(index?: number): UsbSerialPort;
  close(): Promise<void>;
}

export async function acmLab(options: { host?: MockUsbHostOptions } = {}): Promise<AcmLab> {
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const host = new MockUsbHost(options.host);
  await usb.attachBackend(host);
  const probeErrors: { intf: string; error: unknown }[] = [];
  const driver = createCdcAcmDriver({ onProbeError: (intf: UsbInterface, error) => probeErrors.push({ intf: intf.name, error }) });
  const reg = await registerUsbSerialDrivers([driver], 'cdc_acm', CDC_ACM_ID_TABLE, { usbBus: usb.bus });
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
      const info = a && cdcAcmAdapterOf(a);
      if (!info) throw new Error(`no CDC-ACM adapter ${i} (probe errors: ${probeErrors.map((e) => String(e.error)).join('; ') || 'none'})`);
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
