import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NoUsbSubsystemError, transferErrorKind, type HostEvent } from '../../../src/usb/host.ts';
import {
  NusbBackend,
  classifyNusbError,
  mapNusbError,
  nusbLocation,
  type NusbUsbDevice,
} from '../../../src/usb/backends/nusb.ts';
import { FakeNusb, FakeNusbDevice } from './fake-nusb.ts';
import { tick, waitFor } from './fake-libusb.ts';
import { rejection } from '../../helpers/async.ts';

const NOT_LINUX = { platform: 'darwin' as const };
const GET_DEVICE_DESCRIPTOR = { requestType: 'standard', recipient: 'device', request: 6, value: 0x100, index: 0 } as const;

describe('nusb backend: error mapping', () => {
  it('classifies the messages usb 3.1 rejects with', () => {
    const cases: [string, string][] = [
      ['transferIn error: Stall', 'stall'],
      ['controlTransferIn error: endpoint stalled', 'stall'],
      ['transferIn error: Cancelled', 'cancelled'],
      ['controlTransferOut error: transfer was cancelled', 'cancelled'],
      ['transferIn error: Disconnected', 'disconnected'],
      ['controlTransferIn error: device disconnected', 'disconnected'],
      ['transferIn error: endpoint not found', 'endpoint-unavailable'],
      ['controlTransferIn error: invalid state', 'invalid-state'],
      ['getDevices error: /sys/bus/usb/devices/ not found (errno 2)', 'no-subsystem'],
      ['claimInterface error: interface is busy', 'busy'],
      ['open error: permission denied', 'access'],
      ['transferOut error: Fault', 'fault'],
      ['something else', 'other'],
    ];
    for (const [msg, cls] of cases) expect(classifyNusbError(new Error(msg)), msg).to.equal(cls);
  });

  it('maps stall to a stall outcome, Cancelled to TimeoutError, Disconnected to NotFoundError', () => {
    const ctx = { gone: false, device: '0403:6001 at 1-1', timeoutMs: 1000 };
    expect(mapNusbError('transferIn', new Error('transferIn error: Stall'), ctx)).to.deep.equal({ kind: 'stall' });
    const t = mapNusbError('transferIn(1, 64)', new Error('transferIn error: Cancelled'), ctx) as { error: Error };
    expect(transferErrorKind(t.error)).to.equal('timeout');
    expect(t.error.message).to.contain('timed out after 1000 ms');
    const d = mapNusbError('transferIn', new Error('transferIn error: Disconnected'), ctx) as { error: Error };
    expect(transferErrorKind(d.error)).to.equal('disconnected');
    const g = mapNusbError('transferIn', new Error('transferIn error: Cancelled'), { ...ctx, gone: true }) as { error: Error };
    expect(transferErrorKind(g.error)).to.equal('disconnected');
  });

  it('reads a location from bus/ports/address', () => {
    expect(nusbLocation({ bus: '3', ports: [1, 4], address: 9 })).to.deep.equal({ busNumber: 3, portNumbers: [1, 4], deviceAddress: 9 });
    expect(nusbLocation({ bus: '001', ports: [2], address: 3 })?.busNumber).to.equal(1);
    expect(nusbLocation({ bus: 'AppleUSB', ports: [], address: 1 })).to.equal(undefined);
  });
});

describe('nusb backend: no USB subsystem', () => {
  it('getDevices turns "/sys/bus/usb/devices/ not found" into NoUsbSubsystemError', async () => {
    const lib = new FakeNusb();
    lib.listError = Object.assign(new Error('getDevices error: /sys/bus/usb/devices/ not found (errno 2)'), { code: 'GenericFailure' });
    const b = new NusbBackend(lib, NOT_LINUX);
    const err = await rejection(b.getDevices());
    expect(err).to.be.instanceOf(NoUsbSubsystemError);
    expect(err.message).to.contain("backend 'nusb'").and.contain('/sys/bus/usb/devices/ not found');
  });
  it('other listing failures are HostBackendErrors naming the cause', async () => {
    const lib = new FakeNusb();
    lib.listError = new Error('getDevices error: /sys/bus/usb/devices/ permission denied');
    const err = await rejection(new NusbBackend(lib, NOT_LINUX).getDevices());
    expect(err.name).to.equal('HostBackendError');
    expect(err.message).to.contain('permission denied');
  });
  it('watch on Linux without /sys/bus/usb rejects without starting a native watcher', async () => {
    const lib = new FakeNusb();
    const b = new NusbBackend(lib, { platform: 'linux', sysfsUsbPath: '/nonexistent/sys/bus/usb' });
    expect(await rejection(b.watch(() => undefined))).to.be.instanceOf(NoUsbSubsystemError);
    expect(lib.emitters).to.have.length(0);
  });
});

describe('nusb backend: enumeration and hotplug', () => {
  let lib: FakeNusb;
  let backend: NusbBackend;
  beforeEach(() => {
    lib = new FakeNusb();
    backend = new NusbBackend(lib, NOT_LINUX);
  });
  afterEach(() => backend.close());

  it('keys devices by location and keeps one HostDevice per handle across listings', async () => {
    lib.devices.push(new FakeNusbDevice('1', [1], 2));
    const [a] = await backend.getDevices();
    const [b] = await backend.getDevices();
    expect(a).to.equal(b);
    expect(a!.key).to.equal('nusb:1-1@2');
    expect(a!.maxTransfersInFlight).to.equal(1);
    expect(a!.usb.productName).to.equal('QEMU USB SERIAL');
    expect(a!.usb.configuration?.interfaces[0]?.alternate.endpoints).to.have.length(2);
  });

  it('watch resolves only after addAttach and addDetach have both started', async () => {
    const stop = await backend.watch(() => undefined);
    expect(lib.log).to.deep.equal(['addAttach', 'addDetach']);
    stop();
    await waitFor(() => lib.log.length === 4);
    expect(lib.log.slice(2)).to.deep.equal(['removeAttach', 'removeDetach']);
  });

  it('delivers connect then disconnect with the same HostDevice, matched by handle', async () => {
    const events: HostEvent[] = [];
    const stop = await backend.watch((e) => events.push(e));
    const dev = new FakeNusbDevice('2', [3, 1], 7);
    lib.plug(dev);
    await tick();
    const [listed] = await backend.getDevices();
    lib.unplug(dev);
    await waitFor(() => events.length === 2);
    expect(events.map((e) => e.type)).to.deep.equal(['connect', 'disconnect']);
    expect(events[0]!.device).to.equal(events[1]!.device);
    expect(listed).to.equal(events[0]!.device);
    expect(events[0]!.device.key).to.equal('nusb:2-3.1@7');
    stop();
  });

  it('two watchers share one native watcher; it stops after the last leaves', async () => {
    const s1 = await backend.watch(() => undefined);
    const s2 = await backend.watch(() => undefined);
    expect(lib.emitters).to.have.length(1);
    s1();
    await tick();
    expect(lib.log).to.not.include('removeAttach');
    s2();
    await waitFor(() => lib.log.includes('removeDetach'));
  });

  it('a watcher that fails to start rejects with HostBackendError and cleans up', async () => {
    lib.failStart = new Error('watch devices error: failed to open udev netlink socket');
    const err = await rejection(backend.watch(() => undefined));
    expect(err.name).to.equal('HostBackendError');
    expect(err.message).to.contain('udev netlink');
    expect(lib.log).to.include('removeAttach');
  });
});

describe('nusb backend: transfers', () => {
  let lib: FakeNusb;
  let native: FakeNusbDevice;
  let usb: NusbUsbDevice;
  let backend: NusbBackend;

  beforeEach(async () => {
    lib = new FakeNusb();
    native = new FakeNusbDevice();
    native.kernelDriverBound = false;
    lib.devices.push(native);
    backend = new NusbBackend(lib, { ...NOT_LINUX, inTimeoutMs: 300, outTimeoutMs: 0 });
    const [d] = await backend.getDevices();
    usb = d!.usb as NusbUsbDevice;
    await usb.open();
    await usb.claimInterface(0);
  });
  afterEach(() => backend.close());

  it('a stall resolves with status stall; Cancelled (its timeout) rejects TimeoutError; Disconnected NotFoundError', async () => {
    const a = usb.transferIn(1, 64);
    await tick();
    native.ins[0]!.reject(new Error('transferIn error: Stall'));
    expect((await a).status).to.equal('stall');
    const b = usb.transferIn(1, 64);
    await tick();
    expect(native.ins[1]!.args[1]).to.equal(300);
    native.ins[1]!.reject(new Error('transferIn error: Cancelled'));
    const eb = await rejection(b);
    expect(transferErrorKind(eb)).to.equal('timeout');
    const c = usb.transferOut(2, Uint8Array.of(1));
    await tick();
    expect(native.outs[0]!.args[1]).to.equal(0xffffffff, 'outTimeoutMs 0 = the largest nusb timeout');
    native.outs[0]!.reject(new Error('transferOut error: Disconnected'));
    expect(transferErrorKind(await rejection(c))).to.equal('disconnected');
  });

  it('queues a second transferIn on one endpoint instead of letting nusb refuse it', async () => {
    const a = usb.transferIn(1, 64);
    const b = usb.transferIn(1, 64);
    await tick();
    expect(native.ins).to.have.length(1);
    native.ins[0]!.resolve(Uint8Array.of(1));
    await waitFor(() => native.ins.length === 2);
    native.ins[1]!.resolve(Uint8Array.of(2));
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.data?.getUint8(0)).to.equal(1);
    expect(rb.data?.getUint8(0)).to.equal(2);
  });

  it('results respect the Uint8Array offset (never the whole backing buffer)', async () => {
    const p = usb.transferIn(1, 64);
    await tick();
    const backing = Uint8Array.of(9, 9, 5, 6, 9);
    native.ins[0]!.resolve(backing.subarray(2, 4));
    const r = await p;
    expect(r.data?.byteLength).to.equal(2);
    expect(r.data?.getUint8(0)).to.equal(5);
  });

  it('releaseInterface rejects pending transfers with AbortError at once; queued ones never reach nusb', async () => {
    const a = rejection(usb.transferIn(1, 64));
    const b = rejection(usb.transferIn(1, 64));
    await tick();
    let released = false;
    const release = usb.releaseInterface(0).then(() => (released = true));
    expect(transferErrorKind(await a)).to.equal('aborted');
    expect(transferErrorKind(await b)).to.equal('aborted');
    // usb 3.1 cannot cancel: the native release waits for the running transfer to end (its
    // timeout) instead of failing with "cannot be borrowed mutably" and staying claimed.
    await tick();
    expect(released).to.equal(false);
    native.ins[0]!.reject(new Error('transferIn error: Cancelled'));
    await release;
    expect(native.claimed.has(0)).to.equal(false);
    // The late result was dropped and nothing else was submitted.
    expect(native.ins).to.have.length(1);
  });

  it('a failed native release leaves the interface claimed (a retry can release it)', async () => {
    const orig = native.releaseInterface.bind(native);
    native.releaseInterface = async () => {
      throw new Error('releaseInterface error: Other');
    };
    await rejection(usb.releaseInterface(0));
    native.releaseInterface = orig;
    await usb.releaseInterface(0);
    expect(native.claimed.has(0)).to.equal(false);
  });

  it('close aborts pending transfers, waits for the native one, and closes the native device', async () => {
    const a = rejection(usb.transferIn(1, 64));
    await tick();
    const closing = usb.close();
    expect(transferErrorKind(await a)).to.equal('aborted');
    native.ins[0]!.reject(new Error('transferIn error: Cancelled'));
    await closing;
    expect(native.opened).to.equal(false);
    expect(usb.opened).to.equal(false);
  });

  it('an unplug (detach event) fails pending and later calls with NotFoundError', async () => {
    await backend.watch(() => undefined);
    const a = rejection(usb.transferIn(1, 64));
    await tick();
    lib.unplug(native);
    expect(transferErrorKind(await a)).to.equal('disconnected');
    await waitFor(() => usb.isGone);
    expect(transferErrorKind(await rejection(usb.transferIn(1, 64)))).to.equal('disconnected');
  });

  it('controlTransferOut without data passes an empty Uint8Array; control stall resolves stall', async () => {
    const w = usb.controlTransferOut({ requestType: 'vendor', recipient: 'device', request: 0, value: 0, index: 0 });
    await tick();
    const data = native.controlOuts[0]!.args[2] as Uint8Array;
    expect(data).to.be.instanceOf(Uint8Array);
    expect(data.byteLength).to.equal(0);
    native.controlOuts[0]!.resolve(0);
    expect(await w).to.deep.equal({ status: 'ok', bytesWritten: 0 });
    const r = usb.controlTransferIn(GET_DEVICE_DESCRIPTOR, 18);
    await tick();
    native.controlIns[0]!.reject(new Error('controlTransferIn error: endpoint stalled'));
    expect((await r).status).to.equal('stall');
  });

  it('control transfers with nothing claimed say that nusb needs a claimed interface', async () => {
    await usb.releaseInterface(0);
    const err = await rejection(usb.controlTransferIn(GET_DEVICE_DESCRIPTOR, 18));
    expect(err.name).to.equal('InvalidStateError');
    expect(err.message).to.contain('interface claimed');
  });

  it('clearHalt waits for the endpoint to be free', async () => {
    const a = usb.transferIn(1, 64);
    const h = usb.clearHalt('in', 1);
    await tick();
    native.ins[0]!.reject(new Error('transferIn error: Stall'));
    expect((await a).status).to.equal('stall');
    await h;
    expect(native.calls).to.include('clearHalt in 1');
  });

  it('reads descriptors once, not on every configuration access', async () => {
    const before = native.configReads;
    for (let i = 0; i < 5; i++) void usb.configuration;
    expect(native.configReads).to.equal(before);
    expect(usb.configuration?.interfaces[0]?.claimed).to.equal(true);
    expect(usb.configuration).to.equal(usb.configuration);
  });
});

describe('nusb backend: kernel driver (Linux)', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'usb-sysfs-'));
    mkdirSync(join(root, 'devices', '1-1:1.0', 'driver'), { recursive: true });
    mkdirSync(join(root, 'devices', '1-1'));
    writeFileSync(join(root, 'devices', '1-1', 'bConfigurationValue'), '1\n');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('isActive reads sysfs; detach/attach open the device briefly and tolerate the no-op case', async () => {
    const lib = new FakeNusb();
    const native = new FakeNusbDevice('1', [1], 2);
    lib.devices.push(native);
    const b = new NusbBackend(lib, { platform: 'linux', sysfsUsbPath: root });
    const [d] = await b.getDevices();
    const kd = d!.kernelDriver!;
    expect(await kd.isActive(0)).to.equal(true);
    expect(await kd.isActive(1)).to.equal(false);
    await kd.detach(0);
    await kd.detach(0); // "no kernel driver attached": already detached
    await kd.attach(0);
    await kd.attach(0); // "kernel driver already attached"
    expect(native.calls.filter((c) => c === 'open')).to.have.length(4);
    expect(native.calls.filter((c) => c === 'close')).to.have.length(4);
    expect(d!.usb.opened).to.equal(false);
    await b.close();
  });
});
