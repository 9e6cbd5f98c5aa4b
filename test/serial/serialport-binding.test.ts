// The node-serialport binding, driven through the real @serialport/stream SerialPortStream, on
// emulated loopchips in the mock lab.
import { expect } from 'chai';
import { once } from 'node:events';
import { SerialPortStream } from '@serialport/stream';
import { SerialSettingsError } from '../../src/serial/index.ts';
import { UnknownPortError } from '../../src/serial/port-resolver.ts';
import { createUsbSerialBinding, PortBusyError, PortLockedError, SerialBindingError, type UsbSerialBinding, type UsbSerialBindingPort, type UsbSerialHotplugEvent } from '../../src/serial/serialport-binding.ts';
import { sleep, until } from '../helpers/async.ts';
import { pattern } from '../helpers/bytes.ts';
import { loopLab, type LoopLab } from './fixtures/lab.ts';

type Stream = SerialPortStream;

function opened(binding: UsbSerialBinding, path: string, extra: Record<string, unknown> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const s = new SerialPortStream({ binding, path, baudRate: 115200, ...extra }, (err) => (err ? reject(err) : resolve(s)));
  });
}

const cb =
  <T = void>(fn: (done: (err: Error | null, v?: T) => void) => void) =>
  () =>
    new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

async function collect(stream: Stream, n: number, ms = 5000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${got} of ${n} bytes`)), ms);
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        clearTimeout(timer);
        stream.off('data', onData);
        stream.pause();
        resolve();
      }
    };
    stream.on('data', onData);
    stream.resume();
  });
  return Buffer.concat(chunks);
}

describe('serial: node-serialport binding through @serialport/stream', () => {
  let lab: LoopLab;
  let binding: UsbSerialBinding;
  beforeEach(async () => {
    lab = await loopLab();
    binding = createUsbSerialBinding({ usb: lab.usb });
  });
  afterEach(async () => {
    await lab.close();
  });

  it('list: only PortInfo fields (as the Linux binding: by-id pnpId, absent values undefined), location names the interface', async () => {
    await lab.plug({ at: '1-2.3', serialNumber: 'AB12CD' });
    await lab.plug({ at: '2-1', serialNumber: null, product: 'Loop Serial Mk II' });
    const list = await binding.list();
    expect(list).to.deep.equal([
      {
        path: 'serial:AB12CD:if0',
        manufacturer: 'Harness Labs',
        serialNumber: 'AB12CD',
        pnpId: 'usb-Harness_Labs_Loop_Serial_AB12CD-if00-port0',
        locationId: '1-2.3:1.0',
        productId: '5701',
        vendorId: '1209',
      },
      {
        path: 'port:2-1:if0',
        manufacturer: 'Harness Labs',
        serialNumber: undefined,
        pnpId: 'usb-Harness_Labs_Loop_Serial_Mk_II-if00-port0',
        locationId: '2-1:1.0',
        productId: '5701',
        vendorId: '1209',
      },
    ]);
    for (const info of list) expect(Object.keys(info).sort()).to.deep.equal(['locationId', 'manufacturer', 'path', 'pnpId', 'productId', 'serialNumber', 'vendorId']);
  });

  it('list: an empty manufacturer string is reported as undefined, not as ""', async () => {
    await lab.plug({ manufacturer: '' });
    const [info] = await binding.list();
    expect(info!.manufacturer).to.equal(undefined);
    expect(info!.pnpId).to.equal('usb-1209_Loop_Serial_LOOP0001-if00-port0');
  });

  it('the binding is a plain object: list and open work detached, as SerialPort.list calls them', async () => {
    const { port: usbPort } = await lab.plug();
    const { list, open } = binding;
    expect((await list()).map((p) => p.path)).to.deep.equal([usbPort.stablePath]);
    const bp = await open({ path: usbPort.stablePath, baudRate: 9600 });
    expect(bp.isOpen).to.equal(true);
    await bp.close();
    expect(Object.getPrototypeOf(binding)).to.equal(Object.prototype);
  });

  it('open, write, read back over loopback, update the baud rate, getBaudRate, close', async () => {
    const { chip } = await lab.plug();
    const port = await opened(binding, 'serial:LOOP0001:if0');
    expect(port.isOpen).to.equal(true);
    const data = pattern(200_000);
    const back = collect(port, data.length);
    port.write(data);
    expect((await back).equals(Buffer.from(data))).to.equal(true);
    await cb((d) => port.update({ baudRate: 1_000_000 }, d))();
    expect(chip.uart.settings.baudRate).to.equal(1_000_000);
    const rate = await (port.port as UsbSerialBindingPort).getBaudRate();
    expect(rate.baudRate).to.equal(1_000_000);
    // A rate the chip cannot do is refused with a typed error; the old one stays.
    const bad = await cb((d) => port.update({ baudRate: 7_000_000 }, d))().catch((e: unknown) => e);
    expect(bad).to.be.instanceOf(SerialSettingsError);
    expect(chip.uart.settings.baudRate).to.equal(1_000_000);
    await cb((d) => port.close(d))();
    expect(port.isOpen).to.equal(false);
    expect(lab.portOf([...lab.host.devices][0]!.usb)!.portState).to.equal('closed');
  });

  it('paths: the ttyUSB name and the by-id name open the same port; an unknown path is a typed error', async () => {
    await lab.plug({ serialNumber: 'XY' });
    const a = await opened(binding, '/dev/ttyUSB0');
    expect((a.port as UsbSerialBindingPort).port.stablePath).to.equal('serial:XY:if0');
    await cb((d) => a.close(d))();
    const b = await opened(binding, '/dev/serial/by-id/usb-Harness_Labs_Loop_Serial_XY-if00-port0');
    await cb((d) => b.close(d))();
    const err = await opened(binding, 'serial:NOPE:if0').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UnknownPortError);
    expect((err as Error).message).to.equal("no usb-serial port 'serial:NOPE:if0' (ports now: serial:XY:if0)");
  });

  it('bad options: a baud the chip cannot do, parity it lacks, xany: typed errors, nothing left open', async () => {
    const { port, device } = await lab.plug();
    for (const [opts, setting] of [
      [{ baudRate: 9_000_000 }, 'baudRate'],
      [{ parity: 'mark' }, 'parity'],
      [{ parity: 'sideways' }, 'parity'],
      [{ xany: true }, 'flowControl'],
      [{ rtscts: true, xon: true }, 'flowControl'],
    ] as const) {
      const err = await opened(binding, port.stablePath, opts).catch((e: unknown) => e);
      expect(err, JSON.stringify(opts)).to.be.instanceOf(SerialSettingsError);
      expect((err as SerialSettingsError).setting).to.equal(setting);
      expect(port.portState).to.equal('closed');
    }
    expect(device.resources().pendingTransfers).to.equal(0);
    // TypeErrors for a malformed call, as bindings-cpp gives.
    expect(await binding.open({ path: port.stablePath } as never).catch((e: unknown) => e)).to.be.instanceOf(TypeError);
  });

  it('set and get signals (DTR/RTS/break out; CTS/DSR/DCD in, looped back)', async () => {
    const { chip } = await lab.plug();
    const port = await opened(binding, 'serial:LOOP0001:if0');
    expect(await cb<object>((d) => port.get(d))()).to.deep.equal({ cts: true, dsr: true, dcd: true });
    await cb((d) => port.set({ dtr: false, rts: true }, d))();
    expect(chip.uart.outputs).to.deep.equal({ dtr: false, rts: true, brk: false });
    expect(await cb<object>((d) => port.get(d))()).to.deep.equal({ cts: true, dsr: false, dcd: false });
    await cb((d) => port.set({ brk: true }, d))(); // SerialPortStream fills the rest: dtr and rts true
    expect(chip.uart.outputs).to.deep.equal({ dtr: true, rts: true, brk: true });
    const brk = await collect(port, 1);
    expect(brk[0]).to.equal(0);
    await cb((d) => port.set({ brk: false }, d))();
    await cb((d) => port.close(d))();
    expect(chip.uart.outputs, 'hupcl drops DTR and RTS at close').to.deep.equal({ dtr: false, rts: false, brk: false });
  });

  it('flush discards unread data; drain waits for the chip to take the writes', async () => {
    const { chip, port: usbPort } = await lab.plug();
    const port = await opened(binding, 'serial:LOOP0001:if0');
    port.pause();
    port.write(pattern(3000));
    await cb((d) => port.drain(d))();
    expect(usbPort.stats.bytesWritten).to.equal(3000);
    await until(() => usbPort.stats.bytesRead === 3000, 2000, 'the echo');
    await cb((d) => port.flush(d))();
    expect(chip.requests).to.include('PURGE 3');
    port.write(Buffer.from('after'));
    // SerialPortStream may hold bytes it read before the flush; the binding dropped the rest.
    const rest = await collect(port, 5);
    expect(rest.subarray(rest.length - 5).toString()).to.equal('after');
    expect(rest.length).to.be.below(3000 + 5);
    await cb((d) => port.close(d))();
  });

  it('close with a read pending: it rejects with canceled: true and the stream closes normally', async () => {
    const { port: usbPort } = await lab.plug();
    const bp = await binding.open({ path: usbPort.stablePath, baudRate: 9600 });
    const read = bp.read(Buffer.alloc(64), 0, 64).catch((e: unknown) => e);
    await sleep(20);
    await bp.close();
    const err = await read;
    expect(err).to.be.instanceOf(SerialBindingError);
    expect((err as SerialBindingError).canceled).to.equal(true);
    expect(bp.isOpen).to.equal(false);
    expect(usbPort.portState).to.equal('closed');
    // And through the stream: closing while its read is pending gives a plain close.
    const s = await opened(binding, usbPort.stablePath);
    s.resume();
    await sleep(20);
    const closed = once(s, 'close');
    s.close();
    const [closeArg] = await closed;
    expect(closeArg).to.equal(null);
  });

  it('close with a write pending (held by flow control): it rejects canceled, the close does not hang', async () => {
    const { port: usbPort, device } = await lab.plug();
    const bp = await binding.open({ path: usbPort.stablePath, baudRate: 9600, rtscts: true });
    await bp.set({ rts: false, dtr: true, brk: false });
    const write = bp.write(Buffer.from(pattern(500))).catch((e: unknown) => e);
    await sleep(30);
    await bp.close();
    const err = await write;
    expect((err as SerialBindingError).canceled).to.equal(true);
    expect(usbPort.portState).to.equal('closed');
    expect(device.resources().pendingTransfers).to.equal(0);
  });

  it('unplug: the pending read fails as a disconnect and the stream closes with disconnected: true', async () => {
    const { port: usbPort, device } = await lab.plug();
    const port = await opened(binding, usbPort.stablePath);
    const data: Buffer[] = [];
    port.on('data', (c: Buffer) => data.push(c));
    port.write(Buffer.from('before the unplug'));
    await until(() => Buffer.concat(data).length === 17, 2000, 'the echo');
    const closed = once(port, 'close');
    await lab.unplug(device);
    const [closeErr] = (await closed) as [{ disconnected?: boolean; message: string } | null];
    expect(closeErr).to.not.equal(null);
    expect(closeErr!.disconnected).to.equal(true);
    expect(closeErr!.message).to.match(/serial:LOOP0001:if0 \(ttyUSB0\) was disconnected/);
    expect(port.isOpen).to.equal(false);
    expect(Buffer.concat(data).toString()).to.equal('before the unplug');
    expect(device.resources()).to.deep.include({ plugged: false, pendingTransfers: 0 });
    expect(await binding.list()).to.deep.equal([]);
  });

  it('an unplug with bytes still buffered hands them out before the disconnect', async () => {
    const { port: usbPort, device } = await lab.plug();
    const bp = await binding.open({ path: usbPort.stablePath, baudRate: 9600 });
    await bp.write(Buffer.from('kept'));
    await until(() => usbPort.stats.bytesRead === 4, 2000, 'the echo');
    await lab.unplug(device);
    const buf = Buffer.alloc(16);
    expect((await bp.read(buf, 0, 16)).bytesRead).to.equal(4);
    expect(buf.subarray(0, 4).toString()).to.equal('kept');
    const err = (await bp.read(buf, 0, 16).catch((e: unknown) => e)) as SerialBindingError;
    expect(err.canceled).to.equal(false);
    expect(err.disconnected).to.equal(true);
    await bp.close(); // resolves after an unplug
  });

  it('hotplug: ports appearing and disappearing as an Observable, with the ones already there first', async () => {
    await lab.plug({ serialNumber: 'FIRST' });
    const seen: UsbSerialHotplugEvent[] = [];
    const sub = binding.hotplug().subscribe((e) => seen.push(e));
    const second = await lab.plug({ serialNumber: 'SECOND' });
    await lab.unplug(second.device);
    sub.unsubscribe();
    expect(seen.map((e) => `${e.type} ${e.port.path}${e.initial ? ' (initial)' : ''}`)).to.deep.equal([
      'add serial:FIRST:if0 (initial)',
      'add serial:SECOND:if0',
      'remove serial:SECOND:if0',
    ]);
    expect(seen[1]!.port).to.deep.include({ vendorId: '1209', path: 'serial:SECOND:if0' });
    expect(seen[1]).to.deep.include({ ttyName: 'ttyUSB1', driver: 'loopchip' });
  });

  it('a second open with lock refused leaves the first opener untouched: it still reads, writes and closes', async () => {
    const { port: usbPort } = await lab.plug();
    const a = await opened(binding, usbPort.stablePath);
    const err = await opened(binding, usbPort.stablePath).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PortLockedError);
    expect((err as Error).message).to.match(/Cannot lock port/);
    expect(a.isOpen).to.equal(true);
    expect(usbPort.portState).to.equal('open');
    const data = pattern(4096, 3);
    const back = collect(a, data.length);
    a.write(data);
    expect((await back).equals(Buffer.from(data))).to.equal(true);
    await cb((d) => a.close(d))();
    expect(usbPort.portState).to.equal('closed');
  });

  it('a port open through another API is refused as busy and left open', async () => {
    const { port: usbPort } = await lab.plug();
    await usbPort.open({ baudRate: 9600 });
    const err = await binding.open({ path: usbPort.stablePath, baudRate: 9600 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PortBusyError);
    expect(usbPort.portState).to.equal('open');
    await usbPort.close();
  });

  it('lock: false lets a second opener in (as the Linux binding, which takes no flock then); the port closes with the last', async () => {
    const { port: usbPort } = await lab.plug();
    const a = await binding.open({ path: usbPort.stablePath, baudRate: 115200 });
    const b = await binding.open({ path: usbPort.stablePath, baudRate: 57600, lock: false });
    expect(usbPort.settings!.baudRate).to.equal(57600); // the second open's settings are the port's
    // A lock: true open is still refused while the first holds the lock.
    expect(await binding.open({ path: usbPort.stablePath, baudRate: 9600 }).catch((e: unknown) => e)).to.be.instanceOf(PortLockedError);
    await b.write(Buffer.from('hi'));
    const buf = Buffer.alloc(8);
    let got = 0;
    while (got < 2) got += (await a.read(buf, got, 8 - got)).bytesRead; // the openers share one receive buffer
    expect(buf.subarray(0, 2).toString()).to.equal('hi');
    await a.close();
    expect(usbPort.portState).to.equal('open');
    expect(b.isOpen).to.equal(true);
    // The lock went with its holder: a lock: true open gets in now.
    const c = await binding.open({ path: usbPort.stablePath, baudRate: 57600 });
    await b.close();
    expect(usbPort.portState).to.equal('open');
    await c.close();
    expect(usbPort.portState).to.equal('closed');
  });

  it('hupcl: false keeps DTR and RTS up after close; the default drops them', async () => {
    const { port: usbPort, chip } = await lab.plug();
    const keep = await binding.open({ path: usbPort.stablePath, baudRate: 9600, hupcl: false });
    await keep.close();
    expect(chip.uart.outputs).to.include({ dtr: true, rts: true });
    const drop = await binding.open({ path: usbPort.stablePath, baudRate: 9600 });
    await drop.close();
    expect(chip.uart.outputs).to.include({ dtr: false, rts: false });
  });
});
