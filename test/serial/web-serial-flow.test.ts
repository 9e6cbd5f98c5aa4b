// Web Serial's writable and readable over the real FTDI driver and its emulation: abort stops a
// write at once, close waits for the chip, writes after close are InvalidStateError, and
// bufferSize bounds what the host reads ahead (loopback and a null-modem pair).
import { expect } from 'chai';
import { DriverModel } from '../../src/core/index.ts';
import { deregisterUsbSerialDrivers, type UsbSerialRegistration } from '../../src/serial/index.ts';
import { createWebSerial, type Serial, type SerialPort } from '../../src/serial/web-serial.ts';
import { UsbSubsystem } from '../../src/usb/index.ts';
import { loopbackPlug, MockUsbHost, nullModem } from '../../mocks/index.ts';
import { registerFtdi } from '../../drivers/ftdi/index.ts';
import { mockFt232r, type MockFtdi } from '../../mocks/ftdi/index.ts';
import { sleep, until } from '../helpers/async.ts';
import { pattern } from '../helpers/bytes.ts';

describe('serial: Web Serial streams over an emulated FT232R', () => {
  let host: MockUsbHost;
  let usb: UsbSubsystem;
  let reg: UsbSerialRegistration;
  let serial: Serial;

  async function plug(...devs: MockFtdi[]): Promise<SerialPort[]> {
    devs.forEach((d, i) => host.plug(d.device, `1-${i + 1}`));
    await host.flush();
    await usb.settled();
    return serial.getPorts();
  }

  beforeEach(async () => {
    host = new MockUsbHost();
    usb = new UsbSubsystem({ model: new DriverModel() });
    await usb.attachBackend(host);
    reg = await registerFtdi(usb.bus);
    serial = createWebSerial({ usb });
  });
  afterEach(async () => {
    await serial.dispose();
    host.unplugAll();
    await host.flush();
    await usb.settled();
    if (reg.state === 'registered') await deregisterUsbSerialDrivers(reg);
    await usb.stop();
    await host.close();
  });

  it('writer.abort() during a write: the write rejects with the abort reason at once', async () => {
    const f = mockFt232r({ serialNumber: 'AB1', pacing: true });
    loopbackPlug(f.uart());
    const [port] = await plug(f);
    await port!.open({ baudRate: 9600 });
    const writer = port!.writable!.getWriter();
    const writing = writer.write(pattern(1024));
    await until(() => f.uart().stats.txBytes > 0, 2000, 'bytes on the wire');
    const reason = new Error('user pressed stop');
    const t0 = Date.now();
    const aborting = writer.abort(reason);
    const err = await writing.catch((e: unknown) => e);
    expect(err).to.equal(reason);
    expect(Date.now() - t0).to.be.below(200); // not after the 1 s the rest of the 1024 bytes take
    await aborting;
    expect(port!.writable).to.not.equal(null); // a new writable for the open port
    await port!.close();
  });

  it('writer.close() resolves only after the chip has sent everything written', async () => {
    const f = mockFt232r({ serialNumber: 'AB2', pacing: true });
    loopbackPlug(f.uart());
    const [port] = await plug(f);
    await port!.open({ baudRate: 115200 });
    const writer = port!.writable!.getWriter();
    void writer.write(pattern(2000));
    await writer.close();
    expect(f.uart().stats.txBytes).to.equal(2000);
    await port!.close();
  });

  it('a write through the writable after port.close() rejects with InvalidStateError', async () => {
    const f = mockFt232r({ serialNumber: 'AB3' });
    loopbackPlug(f.uart());
    const [port] = await plug(f);
    await port!.open({ baudRate: 115200 });
    const writable = port!.writable!;
    await port!.close();
    const err = await writable.getWriter().write(new Uint8Array([1])).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(DOMException);
    expect((err as DOMException).name).to.equal('InvalidStateError');
  });

  it('bufferSize bounds read-ahead on a loopback: with nobody reading the host stops at bufferSize; all bytes come later, or an overrun where they could not', async () => {
    const f = mockFt232r({ serialNumber: 'AB4', pacing: true });
    loopbackPlug(f.uart());
    const [port] = await plug(f);
    await port!.open({ baudRate: 1_000_000, bufferSize: 1024 });
    const writer = port!.writable!.getWriter();
    void writer.write(pattern(64 * 1024)).catch(() => undefined);
    let peak = 0;
    for (let i = 0; i < 40; i++) {
      await sleep(10);
      peak = Math.max(peak, port!.bufferedBytes);
    }
    // bufferSize plus what the transfers in flight bring when reading pauses.
    expect(peak).to.be.at.least(1024);
    expect(peak).to.be.below(1024 + 8 * 4096);
    writer.releaseLock();
    await port!.readable!.cancel();
    await port!.close().catch(() => undefined);
  });

  it('bufferSize on a null-modem pair with RTS/CTS: the sender is held, memory stays bounded, every byte arrives in order', async () => {
    const a = mockFt232r({ serialNumber: 'NMA', pacing: true });
    const b = mockFt232r({ serialNumber: 'NMB', pacing: true });
    nullModem(a.uart(), b.uart());
    const ports = await plug(a, b);
    const [tx, rx] = [ports.find((p) => p.usbSerialPort.stablePath.includes('NMA'))!, ports.find((p) => p.usbSerialPort.stablePath.includes('NMB'))!];
    await tx.open({ baudRate: 1_000_000, flowControl: 'hardware' });
    await rx.open({ baudRate: 1_000_000, flowControl: 'hardware', bufferSize: 512 });
    const data = pattern(32 * 1024, 5);
    const writer = tx.writable!.getWriter();
    const writing = writer.write(data);
    let peak = 0;
    for (let i = 0; i < 30; i++) {
      await sleep(10);
      peak = Math.max(peak, rx.bufferedBytes);
    }
    expect(peak).to.be.below(512 + 8 * 4096);
    expect(b.uart().stats.overruns).to.equal(0); // RTS/CTS held the sender instead
    const reader = rx.readable!.getReader();
    const got = new Uint8Array(data.length);
    let n = 0;
    while (n < data.length) {
      const { value } = await reader.read();
      got.set(value!, n);
      n += value!.length;
    }
    await writing;
    expect(Buffer.from(got).equals(Buffer.from(data))).to.equal(true);
    reader.releaseLock();
    writer.releaseLock();
    await tx.close();
    await rx.close();
  });
});
