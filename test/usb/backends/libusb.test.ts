import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NoUsbSubsystemError, transferErrorKind, type HostEvent } from '../../../src/usb/host.ts';
import { LibusbBackend } from '../../../src/usb/backends/libusb.ts';
import { decodeBcd } from '../../../src/usb/backends/libusb-descriptors.ts';
import type { LibusbUsbDevice } from '../../../src/usb/backends/libusb-device.ts';
import { mapLibusbError } from '../../../src/usb/backends/libusb-errors.ts';
import { FakeLegacyDevice, FakeLibusb, libusbError, tick, waitFor } from './fake-libusb.ts';
import { rejection } from '../../helpers/async.ts';

const NO_SYSFS = { platform: 'linux' as const, sysfsUsbPath: '/nonexistent/sys/bus/usb' };
const NOT_LINUX = { platform: 'darwin' as const };

describe('libusb backend: error mapping', () => {
  const ctx = { gone: false, device: '0403:6001 at 1-2' };
  it('maps a stall (transfer status and LIBUSB_ERROR_PIPE) to a stall outcome', () => {
    expect(mapLibusbError('transferIn', libusbError(4, 'LIBUSB_TRANSFER_STALL'), ctx)).to.deep.equal({ kind: 'stall' });
    expect(mapLibusbError('ctl', libusbError(-9, 'LIBUSB_ERROR_PIPE'), ctx)).to.deep.equal({ kind: 'stall' });
  });
  it('maps overflow to babble', () => {
    expect(mapLibusbError('transferIn', libusbError(6, 'LIBUSB_TRANSFER_OVERFLOW'), ctx)).to.deep.equal({ kind: 'babble' });
  });
  it('maps timeouts to TimeoutError naming the timeout', () => {
    const o = mapLibusbError('transferIn(1, 64)', libusbError(2, 'LIBUSB_TRANSFER_TIMED_OUT'), { ...ctx, timeoutMs: 300 });
    expect(o.kind).to.equal('error');
    const e = (o as { error: Error }).error;
    expect(transferErrorKind(e)).to.equal('timeout');
    expect(e.message).to.contain('timed out after 300 ms').and.contain('0403:6001');
  });
  it('maps no-device to NotFoundError, and any error once the device is gone', () => {
    for (const err of [libusbError(5, 'LIBUSB_TRANSFER_NO_DEVICE'), libusbError(-4, 'LIBUSB_ERROR_NO_DEVICE')]) {
      const o = mapLibusbError('op', err, ctx) as { error: Error };
      expect(transferErrorKind(o.error)).to.equal('disconnected');
    }
    const io = mapLibusbError('op', libusbError(1, 'LIBUSB_TRANSFER_ERROR'), { ...ctx, gone: true }) as { error: Error };
    expect(io.error.name).to.equal('NotFoundError');
  });
  it('maps a cancel to the abort reason this layer gave, else AbortError', () => {
    const reason = new Error('why');
    expect((mapLibusbError('op', libusbError(3, 'LIBUSB_TRANSFER_CANCELLED'), { ...ctx, abortReason: reason }) as { error: Error }).error).to.equal(reason);
    expect((mapLibusbError('op', libusbError(3, 'LIBUSB_TRANSFER_CANCELLED'), ctx) as { error: Error }).error.name).to.equal('AbortError');
  });
  it('names busy and permission problems', () => {
    const busy = (mapLibusbError('claimInterface(0)', libusbError(-6, 'LIBUSB_ERROR_BUSY'), ctx) as { error: Error }).error;
    expect(busy.message).to.contain('busy').and.contain('kernel driver');
    const acc = (mapLibusbError('open', libusbError(-3, 'LIBUSB_ERROR_ACCESS'), ctx) as { error: Error }).error;
    expect(acc.message).to.contain('permission denied');
    expect(transferErrorKind(acc)).to.equal('other');
  });
  it('decodes BCD versions as WebUSB does', () => {
    expect(decodeBcd(0x0210)).to.deep.equal([2, 1, 0]);
    expect(decodeBcd(0x1001)).to.deep.equal([10, 0, 1]);
  });
});

describe('libusb backend: no USB subsystem', () => {
  it('getDevices rejects with NoUsbSubsystemError when the list is empty and /sys/bus/usb is missing', async () => {
    const b = new LibusbBackend(new FakeLibusb(), NO_SYSFS);
    const err = await rejection(b.getDevices());
    expect(err).to.be.instanceOf(NoUsbSubsystemError);
    expect(err.message).to.contain("backend 'libusb'").and.contain('/nonexistent/sys/bus/usb missing');
    await b.close();
  });
  it('watch rejects the same way, without subscribing', async () => {
    const lib = new FakeLibusb();
    const b = new LibusbBackend(lib, NO_SYSFS);
    expect(await rejection(b.watch(() => undefined))).to.be.instanceOf(NoUsbSubsystemError);
    expect(lib.listenerCount('attach')).to.equal(0);
  });
  it('off Linux an empty list is just empty (sysfs is not consulted)', async () => {
    const b = new LibusbBackend(new FakeLibusb(), { ...NOT_LINUX, sysfsUsbPath: '/nonexistent' });
    expect(await b.getDevices()).to.deep.equal([]);
  });
});

describe('libusb backend: enumeration and hotplug', () => {
  let lib: FakeLibusb;
  let backend: LibusbBackend;
  beforeEach(() => {
    lib = new FakeLibusb();
    backend = new LibusbBackend(lib, NOT_LINUX);
  });
  afterEach(() => backend.close());

  it('wraps devices with key, location and WebUSB descriptors', async () => {
    lib.devices.push(new FakeLegacyDevice(lib));
    const [d] = await backend.getDevices();
    expect(d.key).to.equal('libusb:1-2.3@5');
    expect(d.location).to.deep.equal({ busNumber: 1, portNumbers: [2, 3], deviceAddress: 5 });
    expect(d.maxTransfersInFlight).to.be.at.least(4);
    expect(d.usb.vendorId).to.equal(0x0403);
    expect(d.usb.usbVersionMajor).to.equal(2);
    expect(d.usb.deviceVersionMajor).to.equal(6);
    const iface = d.usb.configuration?.interfaces[0];
    expect(iface?.alternate.endpoints).to.deep.equal([
      { endpointNumber: 1, direction: 'in', type: 'bulk', packetSize: 64 },
      { endpointNumber: 2, direction: 'out', type: 'bulk', packetSize: 64 },
    ]);
    expect(d.kernelDriver).to.equal(undefined, 'kernel driver control is Linux-only');
  });

  it('off Linux reads the string descriptors through a brief open', async () => {
    const dev = new FakeLegacyDevice(lib);
    lib.devices.push(dev);
    const [d] = await backend.getDevices();
    expect([d!.usb.manufacturerName, d!.usb.productName, d!.usb.serialNumber]).to.deep.equal(['FTDI', 'FT232R USB UART', 'A12345']);
    expect(d!.usb.configuration?.interfaces[0]?.alternate.interfaceName).to.equal('FT232R USB UART');
    expect(dev.isOpen).to.equal(false);
    expect(d!.usb.opened).to.equal(false);
  });

  it('hands out the same HostDevice across getDevices calls and events of one attachment', async () => {
    const dev = new FakeLegacyDevice(lib);
    lib.devices.push(dev);
    const [first] = await backend.getDevices();
    const events: HostEvent[] = [];
    const stop = await backend.watch((e) => events.push(e));
    const [second] = await backend.getDevices();
    expect(second).to.equal(first);
    lib.unplug(dev);
    const other = new FakeLegacyDevice(lib, 1, [4], 9);
    lib.plug(other);
    lib.unplug(other);
    await waitFor(() => events.length === 3);
    expect(events.map((e) => `${e.type} ${e.device.key}`)).to.deep.equal([
      'disconnect libusb:1-2.3@5',
      'connect libusb:1-4@9',
      'disconnect libusb:1-4@9',
    ]);
    expect(events[0]?.device).to.equal(first);
    expect(events[2]?.device).to.equal(events[1]?.device);
    stop();
    await waitFor(() => lib.listenerCount('attach') === 0 && lib.listenerCount('detach') === 0);
  });

  it('watch is live when it resolves (subscribes synchronously)', async () => {
    const events: HostEvent[] = [];
    const stop = await backend.watch((e) => events.push(e));
    lib.plug(new FakeLegacyDevice(lib));
    await waitFor(() => events.length === 1);
    expect(events[0]?.device.usb.productName).to.equal('FT232R USB UART', 'strings are read before connect');
    stop();
  });

  it('flush resolves once the devices libusb reported are delivered, string reads included', async () => {
    const events: string[] = [];
    const stop = await backend.watch((e) => events.push(`${e.type} ${e.device.usb.productName}`));
    const dev = new FakeLegacyDevice(lib);
    lib.plug(dev);
    lib.plug(new FakeLegacyDevice(lib, 1, [4], 9));
    lib.unplug(dev);
    expect(events).to.deep.equal([]);
    await backend.flush();
    expect(events).to.deep.equal(['connect FT232R USB UART', 'connect FT232R USB UART', 'disconnect FT232R USB UART']);
    expect(dev.isOpen).to.equal(false);
    stop();
  });

  it('a device gone from the list (not watching) is dropped and fails with NotFoundError', async () => {
    const dev = new FakeLegacyDevice(lib);
    lib.devices.push(dev);
    const [d] = await backend.getDevices();
    lib.devices = [];
    expect(await backend.getDevices()).to.deep.equal([]);
    const err = await rejection(d!.usb.open());
    expect(err.name).to.equal('NotFoundError');
  });

  it('close releases open devices (an open handle would keep the process alive)', async () => {
    const dev = new FakeLegacyDevice(lib);
    lib.devices.push(dev);
    const [d] = await backend.getDevices();
    await d!.usb.open();
    await backend.close();
    expect(dev.isOpen).to.equal(false);
    expect(await rejection(backend.getDevices())).to.have.property('name', 'HostBackendError');
  });
});

describe('libusb backend: Linux sysfs strings and kernel driver', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'usb-sysfs-'));
    const dir = join(root, 'devices', '1-2.3');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'manufacturer'), 'FTDI\n');
    writeFileSync(join(dir, 'product'), 'FT232R USB UART\n');
    writeFileSync(join(dir, 'serial'), 'A12345\n');
    writeFileSync(join(dir, 'bConfigurationValue'), '1\n');
    mkdirSync(join(root, 'devices', '1-2.3:1.0'));
    writeFileSync(join(root, 'devices', '1-2.3:1.0', 'interface'), 'FT232R UART\n');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reads strings from sysfs without opening the device', async () => {
    const lib = new FakeLibusb();
    const dev = new FakeLegacyDevice(lib);
    lib.devices.push(dev);
    const b = new LibusbBackend(lib, { platform: 'linux', sysfsUsbPath: root });
    const [d] = await b.getDevices();
    expect(d!.usb.manufacturerName).to.equal('FTDI');
    expect(d!.usb.productName).to.equal('FT232R USB UART');
    expect(d!.usb.serialNumber).to.equal('A12345');
    expect(d!.usb.configuration?.interfaces[0]?.alternate.interfaceName).to.equal('FT232R UART');
    expect(dev.calls).to.not.include('open');
  });

  /** One fake FTDI behind a Linux libusb backend whose sysfs is `root`. */
  async function oneDevice() {
    const lib = new FakeLibusb();
    const dev = new FakeLegacyDevice(lib);
    lib.devices.push(dev);
    const b = new LibusbBackend(lib, { platform: 'linux', sysfsUsbPath: root });
    const [d] = await b.getDevices();
    return { dev, kd: d!.kernelDriver! };
  }

  it('kernelDriver opens a handle briefly when the device is closed; detach of nothing is fine', async () => {
    const { dev, kd } = await oneDevice();
    expect(await kd.isActive(0)).to.equal(true);
    await kd.detach(0);
    expect(await kd.isActive(0)).to.equal(false);
    await kd.detach(0); // LIBUSB_ERROR_NOT_FOUND: already detached
    await kd.attach(0);
    expect(await kd.isActive(0)).to.equal(true);
    expect(dev.isOpen).to.equal(false);
    expect(dev.calls.filter((c) => c === 'open')).to.have.length(dev.calls.filter((c) => c === 'close').length);
  });

  it('kernelDriver.attach binds through sysfs drivers_probe (off the JS thread) when it can write it', async () => {
    const probe = join(root, 'drivers_probe');
    writeFileSync(probe, '');
    try {
      const { dev, kd } = await oneDevice();
      await kd.detach(0);
      await kd.attach(0);
      // The interface's sysfs name went to drivers_probe; the blocking ioctl was not used.
      expect(readFileSync(probe, 'utf8')).to.equal('1-2.3:1.0');
      expect(dev.calls).to.not.include('attachKernelDriver 0');
    } finally {
      rmSync(probe);
    }
  });
});

describe('libusb backend: transfers', () => {
  let lib: FakeLibusb;
  let dev: FakeLegacyDevice;
  let usb: LibusbUsbDevice;
  let backend: LibusbBackend;

  beforeEach(async () => {
    lib = new FakeLibusb();
    dev = new FakeLegacyDevice(lib);
    lib.devices.push(dev);
    backend = new LibusbBackend(lib, { ...NOT_LINUX, inTimeoutMs: 250 });
    const [d] = await backend.getDevices();
    usb = d!.usb as LibusbUsbDevice;
    await usb.open();
    await usb.claimInterface(0);
  });
  afterEach(() => backend.close());

  it('keeps several IN transfers in flight on one endpoint, each its own libusb transfer', async () => {
    const reads = [1, 2, 3, 4].map(() => usb.transferIn(1, 64));
    const pending = lib.pendingOn(dev, 0x81);
    expect(pending).to.have.length(4);
    // libusb's own timeout stays off (0): the backend's JS timer enforces inTimeoutMs.
    expect(pending.every((t) => t.timeoutMs === 0 && t.type === 2)).to.equal(true);
    pending.forEach((t, i) => t.complete(undefined, Uint8Array.of(i, i)));
    const results = await Promise.all(reads);
    expect(results.map((r) => [...new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength)])).to.deep.equal([
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it('resolves a stall as status stall, a timeout as TimeoutError, no-device as NotFoundError', async () => {
    const a = usb.transferIn(1, 64);
    const b = usb.transferIn(1, 64);
    const c = usb.transferOut(2, Uint8Array.of(1, 2, 3));
    const [ta, tb] = lib.pendingOn(dev, 0x81);
    ta!.complete(libusbError(4, 'LIBUSB_TRANSFER_STALL'));
    tb!.complete(libusbError(2, 'LIBUSB_TRANSFER_TIMED_OUT'));
    lib.pendingOn(dev, 0x02)[0]!.complete(libusbError(5, 'LIBUSB_TRANSFER_NO_DEVICE'));
    expect((await a).status).to.equal('stall');
    const eb = await rejection(b);
    expect(transferErrorKind(eb)).to.equal('timeout');
    expect(eb.message).to.contain('250 ms');
    expect(transferErrorKind(await rejection(c))).to.equal('disconnected');
  });

  it('times an IN transfer out on its own timer and cancels it in libusb (usb 2.x fires libusb timeouts ~60 s late)', async () => {
    const t0 = Date.now();
    const read = usb.transferIn(1, 64);
    const [t] = lib.pendingOn(dev, 0x81);
    const e = await rejection(read);
    expect(transferErrorKind(e)).to.equal('timeout');
    expect(e.message).to.contain('after 250 ms');
    expect(t!.cancelCalls).to.equal(1);
    expect(Date.now() - t0).to.be.at.least(240);
    // Nothing left pending: a release afterwards does not wait for anything.
    await usb.releaseInterface(0);
    expect(lib.pendingOn(dev, 0x81)).to.have.length(0);
  });

  it('a transfer that completes before its deadline clears the timer (no cancel)', async () => {
    const read = usb.transferIn(1, 64);
    const [t] = lib.pendingOn(dev, 0x81);
    t!.complete(undefined, Uint8Array.of(7));
    expect((await read).status).to.equal('ok');
    await new Promise((r) => setTimeout(r, 300));
    expect(t!.cancelCalls).to.equal(0);
  });

  it('transferOut copies the data and reports bytesWritten', async () => {
    const data = Uint8Array.of(9, 8, 7);
    const p = usb.transferOut(2, data);
    data[0] = 0;
    const t = lib.pendingOn(dev, 0x02)[0]!;
    expect([...t.buffer!]).to.deep.equal([9, 8, 7]);
    t.complete(undefined, 3);
    expect(await p).to.deep.equal({ status: 'ok', bytesWritten: 3 });
  });

  it('releaseInterface cancels pending transfers: they reject AbortError before the release', async () => {
    const reads = [usb.transferIn(1, 64), usb.transferIn(1, 64)];
    const rel = usb.releaseInterface(0);
    const errs = await Promise.all(reads.map(rejection));
    expect(errs.map(transferErrorKind)).to.deep.equal(['aborted', 'aborted']);
    await rel;
    expect(lib.pendingOn(dev)).to.have.length(0);
    expect(dev.calls.slice(-1)).to.deep.equal(['release 0']);
    expect(usb.configuration?.interfaces[0]?.claimed).to.equal(false);
  });

  it('close cancels, waits for libusb to hand transfers back, releases, then closes the handle', async () => {
    const read = rejection(usb.transferIn(1, 64));
    await usb.close();
    expect(transferErrorKind(await read)).to.equal('aborted');
    expect(dev.calls.slice(-2)).to.deep.equal(['release 0', 'close']);
    expect(dev.isOpen).to.equal(false);
    expect(usb.opened).to.equal(false);
  });

  it('an unplug fails pending and later transfers with NotFoundError', async () => {
    const events: HostEvent[] = [];
    await backend.watch((e) => events.push(e));
    const read = usb.transferIn(1, 64);
    lib.unplug(dev);
    expect(transferErrorKind(await rejection(read))).to.equal('disconnected');
    await tick();
    expect(events.map((e) => e.type)).to.deep.equal(['disconnect']);
    expect(transferErrorKind(await rejection(usb.transferIn(1, 64)))).to.equal('disconnected');
    expect(transferErrorKind(await rejection(usb.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 6, value: 0x100, index: 0 }, 18)))).to.equal('disconnected');
  });

  it('a synchronous submit failure is mapped too', async () => {
    dev.submitError = libusbError(-4, 'LIBUSB_ERROR_NO_DEVICE');
    expect(transferErrorKind(await rejection(usb.transferIn(1, 64)))).to.equal('disconnected');
  });

  it('rejects transfers on endpoints outside claimed interfaces with InvalidStateError', async () => {
    await usb.releaseInterface(0);
    expect((await rejection(usb.transferIn(1, 64))).name).to.equal('InvalidStateError');
    expect((await rejection(usb.transferIn(7, 64))).name).to.equal('InvalidStateError');
  });

  it('control transfers: bmRequestType, data, stall status; OUT without data sends an empty buffer', async () => {
    dev.controls = [];
    dev.control = (bm) => (bm & 0x80 ? { data: Buffer.from([0x12, 0x01]) } : { data: 0 });
    const r = await usb.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 6, value: 0x100, index: 0 }, 18);
    expect(r.status).to.equal('ok');
    expect(r.data?.getUint8(1)).to.equal(1);
    const w = await usb.controlTransferOut({ requestType: 'vendor', recipient: 'device', request: 0, value: 0, index: 0 });
    expect(w).to.deep.equal({ status: 'ok', bytesWritten: 0 });
    expect(dev.controls.map((c) => c.bmRequestType)).to.deep.equal([0x80, 0x40]);
    expect(Buffer.isBuffer(dev.controls[1]!.data) && (dev.controls[1]!.data as Buffer).length).to.equal(0);
    dev.control = () => ({ error: libusbError(4, 'LIBUSB_TRANSFER_STALL') });
    const s = await usb.controlTransferIn({ requestType: 'vendor', recipient: 'device', request: 0xee, value: 0, index: 0 }, 2);
    expect(s.status).to.equal('stall');
    const so = await usb.controlTransferOut({ requestType: 'vendor', recipient: 'device', request: 0xee, value: 0, index: 0 }, new Uint8Array(2));
    expect(so.status).to.equal('stall');
    dev.control = () => ({ error: libusbError(2, 'LIBUSB_TRANSFER_TIMED_OUT') });
    expect(transferErrorKind(await rejection(usb.controlTransferIn({ requestType: 'vendor', recipient: 'device', request: 1, value: 0, index: 0 }, 2)))).to.equal('timeout');
  });

  it('claim failures name the problem', async () => {
    await usb.releaseInterface(0);
    dev.claimError = libusbError(-6, 'LIBUSB_ERROR_BUSY');
    const err = await rejection(usb.claimInterface(0));
    expect(err.message).to.contain('claimInterface(0)').and.contain('busy');
  });
});
