import { expect } from 'chai';
import { DriverModel } from '../../src/core/index.ts';
import { registerUsbSerialDrivers, deregisterUsbSerialDrivers, DEFAULT_SETTINGS, PortDisconnectedError, type PortOperations } from '../../src/serial/index.ts';
import { UsbSubsystem, usbDevice } from '../../src/usb/index.ts';
import { FakeBackend } from '../usb/fake-backend.ts';

/** Port operations that do nothing, with the ones a test cares about replaced. */
function stubOps(overrides: Partial<PortOperations>): PortOperations {
  return {
    open: async (_p, s) => ({ ...s, actualBaudRate: s.baudRate, reportedBaudRate: s.baudRate }),
    close: async () => undefined,
    setSettings: async (_p, s) => ({ ...s, actualBaudRate: s.baudRate, reportedBaudRate: s.baudRate }),
    setSignals: async () => undefined,
    getModemLines: async () => ({ cts: false, dsr: false, ri: false, dcd: false }),
    purge: async () => undefined,
    write: async () => undefined,
    ...overrides,
  };
}

describe('serial: port close', () => {
  it('a write held forever (flow control) cannot hang close: it waits closingWaitMs, then closes', async () => {
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const backend = new FakeBackend();
    await usb.attachBackend(backend);
    const calls: string[] = [];
    const ops = stubOps({
      close: async () => void calls.push('close'),
      write: () => new Promise<void>(() => undefined), // CTS never comes
    });
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

describe('serial: close waits for the control calls already running', () => {
  it('setSignals and getSignals started before close finish before the chip is closed (Linux: the tty lock orders ioctls and close)', async () => {
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const backend = new FakeBackend();
    await usb.attachBackend(backend);
    const calls: string[] = [];
    const slow = <T>(name: string, value: T) => async () => {
      calls.push(`${name} start`);
      await new Promise((r) => setTimeout(r, 20));
      calls.push(`${name} end`);
      return value;
    };
    const ops = stubOps({
      close: async () => void calls.push('close'),
      setSignals: slow('signals', undefined),
      getModemLines: slow('lines', { cts: true, dsr: false, ri: false, dcd: false }),
    });
    const reg = await registerUsbSerialDrivers([{ name: 'racy', idTable: [usbDevice(1, 1)], port: ops }], 'racy_usb', [usbDevice(1, 1)], { usbBus: usb.bus });
    backend.plug({ vendorId: 1, productId: 1 });
    await usb.settled();
    const port = reg.ports()[0]!;
    await port.open(DEFAULT_SETTINGS);
    const signals = port.setSignals({ dtr: true, rts: true });
    const lines = port.getSignals();
    await port.close();
    expect(await signals).to.equal(undefined);
    expect((await lines).cts).to.equal(true);
    expect(calls).to.deep.equal(['signals start', 'lines start', 'signals end', 'lines end', 'close']);
    // Once close has begun, new calls are refused at once with the port's state named.
    await port.open(DEFAULT_SETTINGS);
    const closing = port.close();
    const late = await port.setSignals({ dtr: false }).catch((e: Error) => e);
    expect(late).to.be.instanceOf(Error).with.property('message').that.matches(/setSignals needs an open port/);
    await closing;
    await deregisterUsbSerialDrivers(reg);
    await usb.stop();
  });
});

describe('serial: port open racing an unbind', () => {
  it("open() cut short by deregistration rejects with PortDisconnectedError (the backend's error as cause)", async () => {
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const backend = new FakeBackend();
    await usb.attachBackend(backend);
    let release!: () => void;
    const opening = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inOpen = new Promise<void>((r) => (entered = r));
    const ops = stubOps({
      // Like a chip's open: control transfers that the unbind cuts off with the backend's error.
      open: async () => {
        entered();
        await opening;
        throw Object.assign(new Error('controlTransferOut on 0001:0001: device is closed'), { name: 'InvalidStateError' });
      },
    });
    const reg = await registerUsbSerialDrivers([{ name: 'racy', idTable: [usbDevice(1, 1)], port: ops }], 'racy_usb', [usbDevice(1, 1)], { usbBus: usb.bus });
    backend.plug({ vendorId: 1, productId: 1 });
    await usb.settled();
    const port = reg.ports()[0]!;
    const result = port.open(DEFAULT_SETTINGS).then(
      () => null,
      (e: unknown) => e,
    );
    await inOpen;
    const deregistering = deregisterUsbSerialDrivers(reg);
    await new Promise((r) => setImmediate(r));
    release();
    const err = (await result) as Error & { cause?: Error };
    expect(err).to.be.instanceOf(PortDisconnectedError);
    expect(err.message).to.match(/port .* was disconnected/);
    expect(err.cause?.name).to.equal('InvalidStateError');
    await deregistering;
    await usb.stop();
  });

  it('an error unrelated to an unplug still reaches the caller as it is', async () => {
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const backend = new FakeBackend();
    await usb.attachBackend(backend);
    const ops = stubOps({
      open: async () => {
        throw new RangeError('baud 12 is not possible');
      },
    });
    const reg = await registerUsbSerialDrivers([{ name: 'picky', idTable: [usbDevice(1, 1)], port: ops }], 'picky_usb', [usbDevice(1, 1)], { usbBus: usb.bus });
    backend.plug({ vendorId: 1, productId: 1 });
    await usb.settled();
    const port = reg.ports()[0]!;
    const err = await port.open(DEFAULT_SETTINGS).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RangeError);
    expect(port.portState).to.equal('closed');
    await deregisterUsbSerialDrivers(reg);
    await usb.stop();
  });
});
