// The three user-facing APIs (Node stream, node-serialport binding, Web Serial) over the real
// chip drivers and their emulations: FTDI FT232R and FT2232H (channel B), PL2303HX (no serial
// number: named by its bus/port path) and PL2303GC, each behind a loopback plug.
import { expect } from 'chai';
import { SerialPortStream } from '@serialport/stream';
import { DriverModel } from '../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, SerialSettingsError, type UsbSerialPort, type UsbSerialRegistration } from '../../src/serial/index.ts';
import { openSerialStream } from '../../src/serial/stream.ts';
import { createUsbSerialBinding } from '../../src/serial/serialport-binding.ts';
import { createWebSerial } from '../../src/serial/web-serial.ts';
import { UsbSubsystem } from '../../src/usb/index.ts';
import { loopbackPlug, MockUsbHost, type MockUsbDevice, type UartPort } from '../../mocks/index.ts';
import { registerFtdi } from '../../drivers/ftdi/index.ts';
import { createPl2303Driver, PL2303_ID_TABLE } from '../../drivers/pl2303/index.ts';
import { mockFt232r, mockFt2232h } from '../../mocks/ftdi/index.ts';
import { createPl2303 } from '../../mocks/pl2303/index.ts';
import { until } from '../helpers/async.ts';
import { pattern } from '../helpers/bytes.ts';

interface Dongle {
  label: string;
  device: MockUsbDevice;
  uart: UartPort;
  at: string;
  /** Which of the device's ports is looped back (FT2232H: channel B). */
  path: string;
  vid: number;
  pid: number;
  /** A setting the chip refuses, and the setting it names. */
  refused: [Record<string, unknown>, string];
}

function dongles(): Dongle[] {
  const r = mockFt232r({ serialNumber: 'FTR001' });
  const h = mockFt2232h({ serialNumber: 'FTH002' });
  const hx = createPl2303('PL2303HX');
  const gc = createPl2303('PL2303GC');
  return [
    { label: 'FTDI FT232R', device: r.device, uart: r.uart(), at: '1-1', path: 'serial:FTR001:if0', vid: 0x0403, pid: 0x6001, refused: [{ dataBits: 5 }, 'dataBits'] },
    { label: 'FTDI FT2232H channel B', device: h.device, uart: h.uart(1), at: '1-2', path: 'serial:FTH002:if1', vid: 0x0403, pid: 0x6010, refused: [{ baudRate: 20_000_000 }, 'baudRate'] },
    { label: 'PL2303HX (no serial number)', device: hx.device, uart: hx.chip.uart, at: '1-3.2', path: 'port:1-3.2:if0', vid: 0x067b, pid: 0x2303, refused: [{ flowControl: 'dtr-dsr' }, 'flowControl'] },
    { label: 'PL2303GC', device: gc.device, uart: gc.chip.uart, at: '2-1', path: 'serial:GC0001:if0', vid: 0x067b, pid: 0x23a3, refused: [{ baudRate: 20_000_000 }, 'baudRate'] },
  ];
}

describe('serial: the three APIs over FTDI and PL2303 (emulated)', () => {
  let host: MockUsbHost;
  let usb: UsbSubsystem;
  let regs: UsbSerialRegistration[];
  let all: Dongle[];

  beforeEach(async () => {
    host = new MockUsbHost();
    usb = new UsbSubsystem({ model: new DriverModel() });
    await usb.attachBackend(host);
    regs = [await registerFtdi(usb.bus), await registerUsbSerialDrivers([createPl2303Driver()], 'pl2303', PL2303_ID_TABLE, { usbBus: usb.bus })];
    all = dongles();
    for (const d of all) {
      loopbackPlug(d.uart);
      host.plug(d.device, d.at);
    }
    await host.flush();
    await usb.settled();
  });

  afterEach(async () => {
    host.unplugAll();
    await host.flush();
    await usb.settled();
    for (const r of regs) if (r.state === 'registered') await deregisterUsbSerialDrivers(r);
    await usb.stop();
    await host.close();
  });

  const portFor = (d: Dongle): UsbSerialPort => regs.flatMap((r) => r.ports()).find((p) => p.stablePath === d.path)!;

  it('every port is listed with its stable path and IDs', async () => {
    const list = await createUsbSerialBinding({ usb }).list();
    for (const d of all) {
      const info = list.find((p) => p.path === d.path);
      expect(info, d.path).to.not.equal(undefined);
      const ifnum = Number(/:if(\d+)$/.exec(d.path)![1]);
      expect(info).to.deep.include({ vendorId: d.vid.toString(16).padStart(4, '0'), productId: d.pid.toString(16).padStart(4, '0'), locationId: `${d.at}:1.${ifnum}` });
      expect(info!.pnpId).to.match(new RegExp(`-if0${ifnum}-port0$`));
    }
    // The two channels of the FT2232H: told apart by pnpId and locationId, as the Linux binding's udev names do.
    const [a, b] = ['serial:FTH002:if0', 'serial:FTH002:if1'].map((path) => list.find((p) => p.path === path)!);
    expect([a!.locationId, b!.locationId]).to.deep.equal(['1-2:1.0', '1-2:1.1']);
    expect(b!.pnpId).to.equal(a!.pnpId!.replace('-if00-', '-if01-'));
  });

  for (const index of [0, 1, 2, 3]) {
    describe(`${dongles()[index]!.label}`, () => {
      const d = () => all[index]!;

      it('Node stream: 128 KiB loopback byte-exact, signals, a refused setting is typed', async () => {
        const port = portFor(d());
        const stream = await openSerialStream(port, { baudRate: 115200 });
        const data = pattern(128 * 1024, index + 1);
        const got: Buffer[] = [];
        let n = 0;
        stream.on('data', (c: Buffer) => {
          got.push(c);
          n += c.length;
        });
        stream.write(data);
        await until(() => n >= data.length, 10_000, 'the echo');
        expect(Buffer.concat(got).equals(Buffer.from(data))).to.equal(true);
        expect(await stream.getSignals()).to.deep.include({ cts: true, dsr: true });
        await stream.close();
        const err = await openSerialStream(port, { baudRate: 9600, ...d().refused[0] }).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(SerialSettingsError);
        expect((err as SerialSettingsError).setting).to.equal(d().refused[1]);
        expect(port.portState).to.equal('closed');
      });

      it('serialport binding through SerialPortStream: loopback, get, update, close', async () => {
        const binding = createUsbSerialBinding({ usb });
        const sp = await new Promise<SerialPortStream>((resolve, reject) => {
          const s = new SerialPortStream({ binding, path: d().path, baudRate: 57600 }, (err) => (err ? reject(err) : resolve(s)));
        });
        const data = pattern(64 * 1024, index + 11);
        const got: Buffer[] = [];
        let n = 0;
        sp.on('data', (c: Buffer) => {
          got.push(c);
          n += c.length;
        });
        sp.write(data);
        await until(() => n >= data.length, 10_000, 'the echo');
        expect(Buffer.concat(got).equals(Buffer.from(data))).to.equal(true);
        const status = await new Promise((resolve, reject) => sp.get((err, s) => (err ? reject(err) : resolve(s))));
        expect(status).to.deep.equal({ cts: true, dsr: true, dcd: true });
        await new Promise<void>((resolve, reject) => sp.update({ baudRate: 921600 }, (err) => (err ? reject(err) : resolve())));
        expect(portFor(d()).settings!.actualBaudRate).to.be.closeTo(921600, 921600 * 0.03);
        await new Promise<void>((resolve, reject) => sp.close((err) => (err ? reject(err) : resolve())));
        expect(portFor(d()).portState).to.equal('closed');
      });

      it('Web Serial: requestPort by VID/PID, readable/writable loopback, signals, close', async () => {
        const serial = createWebSerial({ usb });
        try {
          const candidates = (await serial.getPorts()).filter((p) => p.getInfo().usbVendorId === d().vid && p.getInfo().usbProductId === d().pid);
          expect(candidates.length).to.be.greaterThan(0);
          const picked = await serial.requestPort({ filters: [{ usbVendorId: d().vid, usbProductId: d().pid }] });
          expect(candidates).to.include(picked);
          const port = candidates.find((p) => p.usbSerialPort.stablePath === d().path)!;
          await port.open({ baudRate: 115200, bufferSize: 4096 });
          const data = pattern(64 * 1024, index + 21);
          const reader = port.readable!.getReader();
          const writer = port.writable!.getWriter();
          const writing = writer.write(data);
          const out: number[] = [];
          while (out.length < data.length) {
            const { value, done } = await reader.read();
            if (done) break;
            out.push(...value);
          }
          await writing;
          expect(Buffer.from(out).equals(Buffer.from(data))).to.equal(true);
          expect(await port.getSignals()).to.deep.include({ clearToSend: true, dataSetReady: true });
          await reader.cancel();
          reader.releaseLock();
          writer.releaseLock();
          await port.close();
          expect(port.usbSerialPort.portState).to.equal('closed');
        } finally {
          await serial.dispose();
        }
      });
    });
  }

  it('unplug under each API at once: stream errors, binding closes disconnected, Web Serial fires disconnect', async () => {
    const [r, , hx, gc] = all;
    const stream = await openSerialStream(portFor(r!), { baudRate: 115200 });
    const streamEvents: string[] = [];
    stream.on('error', (e) => streamEvents.push(e.name));
    stream.on('close', () => streamEvents.push('close'));
    const binding = createUsbSerialBinding({ usb });
    const sp = await new Promise<SerialPortStream>((resolve, reject) => {
      const s = new SerialPortStream({ binding, path: hx!.path, baudRate: 9600 }, (err) => (err ? reject(err) : resolve(s)));
    });
    sp.resume();
    let spClose: unknown = 'open';
    sp.on('close', (e: unknown) => (spClose = e));
    const serial = createWebSerial({ usb });
    const web = (await serial.getPorts()).find((p) => p.usbSerialPort.stablePath === gc!.path)!;
    await web.open({ baudRate: 9600 });
    let webDisconnect = false;
    web.ondisconnect = () => (webDisconnect = true);
    host.unplugAll();
    await host.flush();
    await usb.settled();
    await until(() => streamEvents.includes('close') && spClose !== 'open' && webDisconnect, 3000, 'all three to notice');
    expect(streamEvents).to.deep.equal(['PortDisconnectedError', 'close']);
    expect((spClose as { disconnected?: boolean }).disconnected).to.equal(true);
    expect(web.connected).to.equal(false);
    await web.close();
    await serial.dispose();
    for (const d of all) expect(d.device.resources().pendingTransfers, d.label).to.equal(0);
  });
});
