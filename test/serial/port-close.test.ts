import { expect } from 'chai';
import { DriverModel } from '../../src/core/index.ts';
import { registerUsbSerialDrivers, deregisterUsbSerialDrivers, DEFAULT_SETTINGS, type PortOperations } from '../../src/serial/index.ts';
import { UsbSubsystem, usbDevice } from '../../src/usb/index.ts';
import { FakeBackend } from '../usb/fake-backend.ts';

describe('serial: port close', () => {
  it('a write held forever (flow control) cannot hang close: it waits closingWaitMs, then closes', async () => {
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const backend = new FakeBackend();
    await usb.attachBackend(backend);
    const calls: string[] = [];
    const ops: PortOperations = {
      open: async (_p, s) => ({ ...s, actualBaudRate: s.baudRate }),
      close: async () => void calls.push('close'),
      setSettings: async (_p, s) => ({ ...s, actualBaudRate: s.baudRate }),
      setSignals: async () => undefined,
      getModemLines: async () => ({ cts: false, dsr: false, ri: false, dcd: false }),
      purge: async () => undefined,
      write: () => new Promise<void>(() => undefined), // CTS never comes
    };
    const reg = await registerUsbSerialDrivers([{ name: 'held', idTable: [usbDevice(1, 1)], port: ops }], 'held_usb', [usbDevice(1, 1)], { usbBus: usb.bus });
    backend.plug({ vendorId: 1, productId: 1 });
    await usb.settled();
    const port = reg.ports()[0]!;
    await port.open(DEFAULT_SETTINGS);
    const writing = port.write(new Uint8Array(10)).catch((e: Error) => e);
    const t0 = performance.now();
    await port.close({ closingWaitMs: 50 });
    expect(performance.now() - t0).to.be.below(1000);
    expect(port.portState).to.equal('closed');
    expect(calls).to.deep.equal(['close']);
    void writing;
    await deregisterUsbSerialDrivers(reg);
    await usb.stop();
  });
});
