// The Web Serial API in Node over the mock lab (loopchips with loopback plugs), and the browser
// path: navigator.usb with a page's permissions, through the webusb backend.
import { expect } from 'chai';
import { DriverModel } from '../../src/core/index.ts';
import { registerUsbSerialDrivers, SerialSettingsError } from '../../src/serial/index.ts';
import { createWebSerial, SerialConnectionEvent, type Serial, type SerialPort } from '../../src/serial/web-serial.ts';
import { createWebUsbBackend, UsbSubsystem, usbDevice } from '../../src/usb/index.ts';
import { loopbackPlug, MockUsbDevice, MockUsbHost } from '../../mocks/index.ts';
import { PagePermissionsUsb } from './fixtures/browser-usb.ts';
import { LoopChip, loopChipDescriptor, LOOP_PID, LOOP_VID } from './fixtures/loop-chip.ts';
import { loopChipDriver } from './fixtures/loop-driver.ts';
import { sleep, until } from '../helpers/async.ts';
import { pattern } from '../helpers/bytes.ts';
import { loopLab, type LoopLab } from './fixtures/lab.ts';

async function readN(port: SerialPort, n: number, ms = 5000): Promise<Uint8Array> {
  const reader = port.readable!.getReader();
  const out = new Uint8Array(n);
  let got = 0;
  const timer = setTimeout(() => void reader.cancel(), ms);
  try {
    while (got < n) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended after ${got} of ${n} bytes`);
      out.set(value.subarray(0, n - got), got);
      got += value.length;
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return out;
}

async function write(port: SerialPort, data: Uint8Array): Promise<void> {
  const w = port.writable!.getWriter();
  await w.write(data);
  w.releaseLock();
}

/** Reads until the readable errors; returns the bytes and the error. */
async function readUntilError(port: SerialPort, ms = 2000): Promise<{ bytes: number[]; error: unknown }> {
  const reader = port.readable!.getReader();
  const bytes: number[] = [];
  const timer = setTimeout(() => void reader.cancel(), ms);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { bytes, error: 'done' };
      bytes.push(...value);
    }
  } catch (error) {
    return { bytes, error };
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

describe('serial: Web Serial API in Node (mock lab)', () => {
  let lab: LoopLab;
  let serial: Serial;
  beforeEach(async () => {
    lab = await loopLab();
    serial = createWebSerial({ usb: lab.usb });
  });
  afterEach(async () => {
    await serial.dispose();
    await lab.close();
  });

  it('getPorts: the ports present, one object per port, with getInfo', async () => {
    await lab.plug({ serialNumber: 'A' });
    await lab.plug({ serialNumber: 'B', productId: 0x5702, vendorId: 0x1209 }).catch(() => undefined); // another PID: no driver
    const ports = await serial.getPorts();
    expect(ports).to.have.length(1);
    expect(ports[0]!.getInfo()).to.deep.equal({ usbVendorId: LOOP_VID, usbProductId: LOOP_PID });
    expect(ports[0]!.connected).to.equal(true);
    expect((await serial.getPorts())[0]).to.equal(ports[0]);
  });

  it('requestPort: the first port matching the filters; NotFoundError if none; TypeError for a bad filter', async () => {
    await lab.plug({ serialNumber: 'A' });
    const port = await serial.requestPort({ filters: [{ usbVendorId: 0x0403 }, { usbVendorId: LOOP_VID, usbProductId: LOOP_PID }] });
    expect(port.usbSerialPort.stablePath).to.equal('serial:A:if0');
    expect(await serial.requestPort()).to.equal(port);
    const none = await serial.requestPort({ filters: [{ usbVendorId: 0x067b }] }).catch((e: unknown) => e);
    expect(none).to.be.instanceOf(DOMException);
    expect((none as DOMException).name).to.equal('NotFoundError');
    for (const filters of [[{ usbProductId: 1 }], [{}]]) {
      expect(await serial.requestPort({ filters }).catch((e: unknown) => e)).to.be.instanceOf(TypeError);
    }
  });

  it('open, write through the writable, read back through the readable, close', async () => {
    await lab.plug();
    const [port] = await serial.getPorts();
    await port!.open({ baudRate: 3_000_000, bufferSize: 4096 });
    const data = pattern(64 * 1024);
    const back = readN(port!, data.length);
    await write(port!, data);
    expect(Buffer.from(await back).equals(Buffer.from(data))).to.equal(true);
    await port!.close();
    expect(port!.readable).to.equal(null);
    expect(port!.usbSerialPort.portState).to.equal('closed');
    // Closed twice is an InvalidStateError; it opens again.
    expect(((await port!.close().catch((e: unknown) => e)) as DOMException).name).to.equal('InvalidStateError');
    await port!.open({ baudRate: 9600 });
    await port!.close();
  });

  it('open: the spec TypeErrors, InvalidStateError when open, NetworkError (with the typed cause) for what the chip cannot do', async () => {
    const { device } = await lab.plug();
    const [port] = await serial.getPorts();
    const bad: [unknown, RegExp][] = [
      [{}, /'baudRate'.*Required member is undefined/],
      [{ baudRate: 0 }, /greater than zero/],
      [{ baudRate: 9600, dataBits: 6 }, /7 or 8/],
      [{ baudRate: 9600, stopBits: 3 }, /1 or 2/],
      [{ baudRate: 9600, parity: 'mark' }, /ParityType/],
      [{ baudRate: 9600, flowControl: 'xon' }, /FlowControlType/],
      [{ baudRate: 9600, bufferSize: 0 }, /buffer size must be greater than zero/],
      [{ baudRate: 9600, bufferSize: 32 * 1024 * 1024 }, /maximum allowed/],
    ];
    for (const [options, message] of bad) {
      const err = await port!.open(options as never).catch((e: unknown) => e);
      expect(err, JSON.stringify(options)).to.be.instanceOf(TypeError);
      expect((err as Error).message).to.match(message);
    }
    const chip = (await port!.open({ baudRate: 5_000_000 }).catch((e: unknown) => e)) as DOMException & { cause: unknown };
    expect(chip.name).to.equal('NetworkError');
    expect(chip.message).to.match(/cannot run at 5000000 baud/);
    expect(chip.cause).to.be.instanceOf(SerialSettingsError);
    expect(port!.usbSerialPort.portState).to.equal('closed');
    expect(device.resources().pendingTransfers).to.equal(0);
    await port!.open({ baudRate: 9600 });
    expect(((await port!.open({ baudRate: 9600 }).catch((e: unknown) => e)) as DOMException).name).to.equal('InvalidStateError');
    await port!.close();
  });

  it('setSignals and getSignals (looped back: RTS to CTS, DTR to DSR and DCD)', async () => {
    const { chip } = await lab.plug();
    const [port] = await serial.getPorts();
    expect(((await port!.getSignals().catch((e: unknown) => e)) as DOMException).name).to.equal('InvalidStateError');
    await port!.open({ baudRate: 115200 });
    expect(await port!.getSignals()).to.deep.equal({ dataCarrierDetect: true, clearToSend: true, ringIndicator: false, dataSetReady: true });
    await port!.setSignals({ requestToSend: false });
    expect(await port!.getSignals()).to.deep.include({ clearToSend: false, dataSetReady: true });
    await port!.setSignals({ dataTerminalReady: false, break: true });
    expect(chip.uart.outputs).to.deep.equal({ dtr: false, rts: false, brk: true });
    expect(await port!.getSignals()).to.deep.equal({ dataCarrierDetect: false, clearToSend: false, ringIndicator: false, dataSetReady: false });
    await port!.setSignals({ break: false });
    expect(await port!.setSignals({}).catch((e: unknown) => e)).to.be.instanceOf(TypeError);
    await port!.close();
  });

  it('named read errors, byte-accurate: the bytes before, the error, then a new readable with the bytes after', async () => {
    const { chip } = await lab.plug();
    const [port] = await serial.getPorts();
    await port!.open({ baudRate: 115200 });
    chip.uart.injectRx([10, 11, 12, 13, 14], [{ offset: 2, kind: 'parity' }]);
    const first = port!.readable!;
    const r1 = await readUntilError(port!);
    expect(r1.bytes).to.deep.equal([10, 11]);
    expect((r1.error as DOMException).name).to.equal('ParityError');
    expect(port!.readable, 'a new readable after a non-fatal error').to.not.equal(first);
    expect([...(await readN(port!, 2))]).to.deep.equal([13, 14]);
    // Several in one chunk: framing, then overrun (its byte is kept), then break.
    chip.uart.injectRx([1, 2, 3, 4, 0, 5], [
      { offset: 1, kind: 'framing' },
      { offset: 3, kind: 'overrun' },
      { offset: 4, kind: 'break' },
    ]);
    const seen: (number | string)[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await readUntilError(port!, 300);
      seen.push(...r.bytes);
      if (r.error === 'done' || !(r.error instanceof DOMException)) break;
      seen.push(r.error.name);
    }
    expect(seen).to.deep.equal([1, 'FramingError', 3, 'BufferOverrunError', 4, 'BreakError', 5]);
    await port!.close();
  });

  it('unplug: disconnect events (target: the port), the reader gets NetworkError, close still resolves, getPorts drops it', async () => {
    const { device } = await lab.plug();
    const [port] = await serial.getPorts();
    await port!.open({ baudRate: 115200 });
    const events: string[] = [];
    serial.addEventListener('disconnect', (e) => events.push(`serial ${(e.target as SerialPort) === port} ${(e as SerialConnectionEvent).port === port}`));
    port!.ondisconnect = () => events.push('port');
    const reading = readUntilError(port!, 3000);
    await sleep(20);
    await lab.unplug(device);
    const r = await reading;
    expect((r.error as DOMException).name).to.equal('NetworkError');
    expect(events).to.deep.equal(['port', 'serial true true']);
    expect(port!.connected).to.equal(false);
    expect(port!.readable).to.equal(null);
    expect(port!.writable).to.equal(null);
    await port!.close();
    expect(await serial.getPorts()).to.deep.equal([]);
    expect(((await port!.open({ baudRate: 9600 }).catch((e: unknown) => e)) as DOMException).name).to.equal('NetworkError');
  });

  it('connect: a plugged dongle fires connect at the Serial with the new port as target', async () => {
    const seen: SerialPort[] = [];
    serial.onconnect = (e) => seen.push(e.target as SerialPort);
    await lab.plug({ serialNumber: 'NEW' });
    await until(() => seen.length === 1, 1000, 'connect');
    expect(seen[0]!.usbSerialPort.stablePath).to.equal('serial:NEW:if0');
    expect((await serial.getPorts())[0]).to.equal(seen[0]);
  });

  it('forget: closes the port, hides it from getPorts and its connect events; requestPort brings it back', async () => {
    const { device } = await lab.plug({ serialNumber: 'F' });
    const [port] = await serial.getPorts();
    await port!.open({ baudRate: 9600 });
    const reader = port!.readable!.getReader(); // a held lock does not stop forget
    const pending = reader.read().catch((e: unknown) => e);
    await port!.forget();
    expect(((await pending) as DOMException).name).to.equal('AbortError');
    expect(port!.usbSerialPort.portState).to.equal('closed');
    expect(await serial.getPorts()).to.deep.equal([]);
    const connects: unknown[] = [];
    serial.onconnect = (e) => connects.push(e);
    await lab.unplug(device);
    lab.host.plug(device);
    await lab.host.flush();
    await lab.usb.settled();
    expect(connects).to.deep.equal([]);
    const again = await serial.requestPort({ filters: [{ usbVendorId: LOOP_VID }] });
    expect(again.usbSerialPort.stablePath).to.equal('serial:F:if0');
    expect(await serial.getPorts()).to.deep.equal([again]);
  });

  it('close with a locked readable rejects (as the spec has it); after cancel and releaseLock it closes', async () => {
    await lab.plug();
    const [port] = await serial.getPorts();
    await port!.open({ baudRate: 9600 });
    const reader = port!.readable!.getReader();
    expect(await port!.close().catch((e: unknown) => e)).to.be.instanceOf(TypeError);
    await reader.cancel();
    reader.releaseLock();
    await port!.close();
    expect(port!.usbSerialPort.portState).to.equal('closed');
  });

  it('close with a write held by hardware flow control does not hang', async () => {
    const { device } = await lab.plug();
    const [port] = await serial.getPorts();
    await port!.open({ baudRate: 9600, flowControl: 'hardware' });
    await port!.setSignals({ requestToSend: false }); // CTS low through the plug
    const writer = port!.writable!.getWriter();
    const w = writer.write(pattern(500)).catch((e: unknown) => e);
    await sleep(30);
    writer.releaseLock();
    const t0 = Date.now();
    await port!.close();
    expect(Date.now() - t0).to.be.below(1000);
    await w;
    expect(port!.usbSerialPort.portState).to.equal('closed');
    expect(device.resources().pendingTransfers).to.equal(0);
  });

  it('backpressure: bufferSize bounds what is held while nobody reads; nothing is lost', async () => {
    const { chip } = await lab.plug();
    const [port] = await serial.getPorts();
    await port!.open({ baudRate: 3_000_000, bufferSize: 1024 });
    const data = pattern(100_000);
    const writer = port!.writable!.getWriter();
    const writing = writer.write(data);
    await until(() => chip.uart.rxAvailable === chip.uart.rxFifoSize, 3000, 'the chip FIFO to fill');
    await sleep(50);
    expect(port!.usbSerialPort.stats.bytesRead).to.be.below(1024 + 4 * 16 * 64 + 64);
    const back = await readN(port!, data.length);
    await writing;
    writer.releaseLock();
    expect(Buffer.from(back).equals(Buffer.from(data))).to.equal(true);
    expect(chip.uart.stats.overruns).to.equal(0);
    await port!.close();
  });
});

describe('serial: Web Serial over navigator.usb (browser path, page permissions, webusb backend)', () => {
  it('getPorts starts empty; requestPort goes through the chooser; the port works; unplug is a disconnect', async () => {
    const host = new MockUsbHost();
    const page = new PagePermissionsUsb(host);
    const backend = createWebUsbBackend({ usb: page });
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const stop = await usb.attachBackend(backend);
    await registerUsbSerialDrivers([loopChipDriver()], 'loopchip', [usbDevice(LOOP_VID, LOOP_PID)], { usbBus: usb.bus });
    const chip = new LoopChip();
    loopbackPlug(chip.uart);
    const device = new MockUsbDevice(loopChipDescriptor({ serialNumber: 'WEB1' }), chip);
    host.plug(device, '1-4', { kernelDriver: { bound: 'none' } }); // a browser cannot detach a kernel driver
    await host.flush();
    const serial = createWebSerial({ usb, webusb: page, backend });
    try {
      expect(await serial.getPorts(), 'nothing granted yet').to.deep.equal([]);
      const port = await serial.requestPort({ filters: [{ usbVendorId: LOOP_VID, usbProductId: LOOP_PID }] });
      expect(page.requests).to.deep.equal([{ filters: [{ vendorId: LOOP_VID, productId: LOOP_PID }] }]);
      // No location through WebUSB: the stable path comes from the serial number.
      expect(port.usbSerialPort.stablePath).to.equal('serial:WEB1:if0');
      expect(await serial.getPorts()).to.deep.equal([port]);
      await port.open({ baudRate: 115200 });
      const back = readN(port, 5);
      await write(port, new TextEncoder().encode('hello'));
      expect(new TextDecoder().decode(await back)).to.equal('hello');
      const gone = new Promise((r) => (serial.ondisconnect = r));
      host.unplug(device);
      await gone;
      expect(port.connected).to.equal(false);
      await port.close();
      expect(await serial.getPorts()).to.deep.equal([]);
      const none = (await serial.requestPort({ filters: [{ usbVendorId: LOOP_VID }] }).catch((e: unknown) => e)) as DOMException;
      expect(none.name).to.equal('NotFoundError');
      // Replugged: permission persists in a browser; forget gives it up, USB permission included.
      host.plug(device, '1-4', { kernelDriver: { bound: 'none' } });
      await host.flush();
      await usb.settled();
      const [replugged] = await serial.getPorts();
      expect(replugged!.usbSerialPort.stablePath).to.equal('serial:WEB1:if0');
      await replugged!.forget();
      expect(await serial.getPorts()).to.deep.equal([]);
      expect(device._forgotten, 'navigator.usb forgot the device').to.equal(true);
      expect(await page.getDevices()).to.deep.equal([]);
      expect(device.resources()).to.deep.include({ opened: false, claimedInterfaces: [], pendingTransfers: 0 });
      // The chooser grants it again, and it works.
      const again = await serial.requestPort({ filters: [{ usbVendorId: LOOP_VID }] });
      await again.open({ baudRate: 9600 });
      const echo = readN(again, 2);
      await write(again, Uint8Array.of(7, 9));
      expect([...(await echo)]).to.deep.equal([7, 9]);
      await again.close();
    } finally {
      await serial.dispose();
      stop();
      await usb.stop();
      await host.close();
    }
    expect(page.listeners.connect.size + page.listeners.disconnect.size, 'no listener left on navigator.usb').to.equal(0);
  });
});
