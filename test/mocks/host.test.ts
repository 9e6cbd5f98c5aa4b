import { expect } from 'chai';
import fc from 'fast-check';
import { transferErrorKind, type HostBackend, type HostEvent } from '../../src/usb/host.ts';
import {
  AlreadyPluggedError,
  KernelDriverError,
  MockUsbDevice,
  MockUsbHost,
  NotPluggedError,
  PortPathError,
  parsePortPath,
  type DeviceSpec,
} from '../../mocks/index.ts';
import { rejection } from '../helpers/async.ts';

const make = (pid: number, serialNumber = `S${pid}`, extra: Partial<DeviceSpec> = {}) =>
  new MockUsbDevice({
    idVendor: 0x0403,
    idProduct: pid,
    serialNumber,
    configurations: [
      {
        interfaces: [
          { bInterfaceClass: 0xff, endpoints: [{ bEndpointAddress: 0x81, type: 'bulk' }, { bEndpointAddress: 0x02, type: 'bulk' }] },
          { bInterfaceClass: 0x0a, bInterfaceSubClass: 0, endpoints: [{ bEndpointAddress: 0x83, type: 'bulk' }] },
        ],
      },
    ],
    ...extra,
  });

describe('mocks/host: MockUsbHost', () => {
  it('is a HostBackend named mock', async () => {
    const host: HostBackend = new MockUsbHost();
    expect(host.name).to.equal('mock');
    expect(await host.getDevices()).to.deep.equal([]);
    await host.close();
  });

  it('gives each plug a new attachment: key, location from the port path, same object everywhere', async () => {
    const host = new MockUsbHost();
    const dev = make(0x6001);
    const a = host.plug(dev, '1-2.3');
    expect(a.key).to.equal('mock:1');
    expect(a.location).to.deep.include({ busNumber: 1, portNumbers: [2, 3] });
    expect(a.location.deviceAddress).to.equal(2);
    expect(a.portPath).to.equal('1-2.3');
    expect(a.usb).to.equal(dev);
    expect(a.maxTransfersInFlight).to.equal(4);
    expect(await host.getDevices()).to.deep.equal([a]);
    expect((await host.getDevices())[0]).to.equal(a);
    expect(host.attachmentOf(dev)).to.equal(a);
    const events: HostEvent[] = [];
    await host.watch((e) => events.push(e));
    expect(host.unplug(dev)).to.equal(a);
    expect(a.attached).to.equal(false);
    const b = host.plug(dev, '1-2.3');
    expect(b).to.not.equal(a);
    expect(b.key).to.equal('mock:2');
    expect(b.location.deviceAddress).to.equal(3);
    await host.flush();
    expect(events).to.deep.equal([
      { type: 'disconnect', device: a },
      { type: 'connect', device: b },
    ]);
    expect(events[0].device).to.equal(a);
  });

  it('assigns free root ports when no path is given, and refuses taken or bad ones', () => {
    const host = new MockUsbHost();
    expect(host.plug(make(1)).portPath).to.equal('1-1');
    expect(host.plug(make(2), '1-2.1').portPath).to.equal('1-2.1');
    expect(host.plug(make(3)).portPath).to.equal('1-3');
    expect(host.plug(make(4), '1-2.2').portPath).to.equal('1-2.2'); // a sibling behind the same hub
    expect(() => host.plug(make(5), '1-1')).to.throw(PortPathError, /taken/);
    expect(() => host.plug(make(5), '1-2')).to.throw(PortPathError, /taken/); // that is a hub now
    expect(() => host.plug(make(5), '1-1.4')).to.throw(PortPathError, /taken/); // a device is no hub
    for (const bad of ['1', 'x-1', '1-0', '0-1', '1-2..3', '1-256']) expect(() => parsePortPath(bad), bad).to.throw(PortPathError);
    expect(parsePortPath('3-1.2.4')).to.deep.equal({ busNumber: 3, portNumbers: [1, 2, 4] });
  });

  it('throws typed errors for plugging twice and unplugging what is not plugged', () => {
    const host = new MockUsbHost();
    const other = new MockUsbHost();
    const dev = make(1);
    expect(() => host.unplug(dev)).to.throw(NotPluggedError);
    host.plug(dev);
    expect(() => host.plug(dev, '1-5')).to.throw(AlreadyPluggedError);
    expect(() => other.plug(dev)).to.throw(AlreadyPluggedError);
    expect(() => other.unplug(dev)).to.throw(NotPluggedError);
    host.unplug(dev);
    expect(() => host.unplug(dev)).to.throw(NotPluggedError);
  });

  it('dispatches events asynchronously, never inside plug/unplug', async () => {
    const host = new MockUsbHost();
    const seen: string[] = [];
    await host.watch((e) => seen.push(e.type));
    host.webusb.addEventListener('connect', () => seen.push('webusb connect'));
    const dev = make(1);
    host.plug(dev);
    host.unplug(dev);
    expect(seen).to.deep.equal([]);
    await Promise.resolve();
    expect(seen).to.deep.equal([]); // not even a microtask later: a macrotask, like a hub
    await host.flush();
    expect(seen).to.deep.equal(['connect', 'webusb connect', 'disconnect']);
  });

  it('watch resolves before any event reaches its listener, and only reports what follows it', async () => {
    const host = new MockUsbHost();
    const early = make(1);
    host.plug(early); // queued before watch: not for this watcher
    const log: string[] = [];
    const watching = host.watch((e) => log.push(`${e.type} ${e.device.usb.productId}`));
    host.plug(make(2)); // after the call, before it resolved: delivered
    const stop = await watching;
    log.push('resolved');
    await host.flush();
    expect(log).to.deep.equal(['resolved', 'connect 2']);
    stop();
    host.unplug(early);
    await host.flush();
    expect(log).to.deep.equal(['resolved', 'connect 2']);
  });

  it('keeps delivering to other listeners when one throws, and still surfaces the error', async () => {
    const host = new MockUsbHost();
    const got: string[] = [];
    await host.watch(() => {
      throw new Error('listener bug');
    });
    await host.watch((e) => got.push(e.type));
    const uncaught = new Promise<Error>((resolve) => {
      const listeners = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (err) => {
        for (const l of listeners) process.on('uncaughtException', l);
        resolve(err);
      });
    });
    host.plug(make(1));
    await host.flush();
    expect(got).to.deep.equal(['connect']);
    expect((await uncaught).message).to.equal('listener bug');
  });

  it('close stops watchers and queued events', async () => {
    const host = new MockUsbHost();
    const got: HostEvent[] = [];
    await host.watch((e) => got.push(e));
    host.plug(make(1));
    await host.close();
    await new Promise((r) => setImmediate(r));
    expect(got).to.deep.equal([]);
    expect((await rejection(host.watch(() => {}))).message).to.match(/closed/);
  });

  it('keeps event order under a storm of plugs and unplugs (property)', async () => {
    type Op = { plug: boolean; dev: number };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ plug: fc.boolean(), dev: fc.integer({ min: 0, max: 3 }) }), { maxLength: 60 }), async (ops: Op[]) => {
        const host = new MockUsbHost();
        const devs = [0, 1, 2, 3].map((i) => make(0x100 + i));
        const observed: string[] = [];
        const webObserved: string[] = [];
        await host.watch((e) => observed.push(`${e.type}:${devs.indexOf(e.device.usb as MockUsbDevice)}:${e.device.key}`));
        host.webusb.onconnect = (e) => webObserved.push(`connect:${devs.indexOf(e.device as MockUsbDevice)}`);
        host.webusb.ondisconnect = (e) => webObserved.push(`disconnect:${devs.indexOf(e.device as MockUsbDevice)}`);
        const expected: string[] = [];
        for (const op of ops) {
          const d = devs[op.dev];
          if (op.plug) {
            if (d.plugged) {
              expect(() => host.plug(d)).to.throw(AlreadyPluggedError);
            } else {
              const a = host.plug(d);
              expected.push(`connect:${op.dev}:${a.key}`);
            }
          } else if (!d.plugged) {
            expect(() => host.unplug(d)).to.throw(NotPluggedError);
          } else {
            const a = host.unplug(d);
            expected.push(`disconnect:${op.dev}:${a.key}`);
          }
          // Interleave the dispatcher with the storm now and then.
          if (op.dev === 3 && op.plug) await new Promise((r) => setImmediate(r));
        }
        await host.flush();
        expect(observed).to.deep.equal(expected);
        expect(webObserved).to.deep.equal(expected.map((s) => s.split(':').slice(0, 2).join(':')));
        for (let i = 0; i < 4; i++) {
          const mine = observed.filter((s) => s.split(':')[1] === String(i)).map((s) => s.split(':')[0]);
          mine.forEach((t, k) => expect(t).to.equal(k % 2 === 0 ? 'connect' : 'disconnect'));
        }
        const keys = observed.filter((s) => s.startsWith('connect')).map((s) => s.split(':').slice(2).join(':'));
        expect(new Set(keys).size).to.equal(keys.length); // every attachment has its own key
      }),
      { numRuns: 150 },
    );
  });

  describe('WebUSB USB shape (host.webusb)', () => {
    it('getDevices lists plugged devices; requestDevice picks the first match or rejects NotFoundError', async () => {
      const host = new MockUsbHost();
      const a = make(0x6001, 'AAA');
      const b = make(0x6015, 'BBB', { bDeviceClass: 2 });
      host.plug(a);
      host.plug(b);
      expect(await host.webusb.getDevices()).to.deep.equal([a, b]);
      const req = (filters: USBDeviceFilter[], exclusionFilters?: USBDeviceFilter[]) => host.webusb.requestDevice({ filters, exclusionFilters });
      expect(await req([{ vendorId: 0x0403 }])).to.equal(a);
      expect(await req([{ vendorId: 0x0403, productId: 0x6015 }])).to.equal(b);
      expect(await req([{ serialNumber: 'BBB' }])).to.equal(b);
      expect(await req([{ classCode: 2 }])).to.equal(b); // device class
      expect(await req([{ classCode: 0x0a, subclassCode: 0 }])).to.equal(a); // an interface's class
      expect(await req([{ vendorId: 0x0403 }], [{ serialNumber: 'AAA' }])).to.equal(b);
      expect(await req([])).to.equal(a);
      const err = await rejection(req([{ vendorId: 0x067b }]));
      expect(err.name).to.equal('NotFoundError');
      for (const bad of [[{ productId: 1 }], [{ subclassCode: 1 }], [{ classCode: 1, protocolCode: 1 }]]) {
        expect((await rejection(req(bad))).name).to.equal('TypeError');
      }
      expect((await rejection(req([], []))).name).to.equal('TypeError');
      expect((await rejection(host.webusb.requestDevice(undefined))).name).to.equal('TypeError');
    });

    it('fires connect/disconnect to listeners and to onconnect/ondisconnect with the USBDevice', async () => {
      const host = new MockUsbHost();
      const seen: string[] = [];
      const listener = (e: USBConnectionEvent) => seen.push(`listener ${e.type} ${e.device.productId}`);
      host.webusb.addEventListener('connect', listener);
      host.webusb.addEventListener('disconnect', listener);
      host.webusb.onconnect = (e) => seen.push(`onconnect ${e.device.productId}`);
      host.webusb.ondisconnect = (e) => seen.push(`ondisconnect ${e.device.productId}`);
      const dev = make(7);
      host.plug(dev);
      await host.flush();
      host.webusb.removeEventListener('connect', listener);
      host.webusb.onconnect = null;
      host.unplug(dev);
      host.plug(dev);
      await host.flush();
      expect(seen).to.deep.equal(['listener connect 7', 'onconnect 7', 'listener disconnect 7', 'ondisconnect 7']);
      expect(host.webusb.onconnect).to.equal(null);
    });
  });

  describe('kernel driver control', () => {
    it('binds every interface at plug and records detach/attach', async () => {
      const host = new MockUsbHost();
      const dev = make(1);
      const hd = host.plug(dev);
      const kd = hd.kernelDriver;
      expect(kd.boundInterfaces).to.deep.equal([0, 1]);
      expect((await rejection(kd.detach(0))).name).to.equal('KernelDriverError'); // not open
      await dev.open();
      expect(await kd.isActive(0)).to.equal(true);
      await kd.detach(0);
      expect(await kd.isActive(0)).to.equal(false);
      expect(await kd.isActive(1)).to.equal(true);
      await dev.claimInterface(0);
      expect((await rejection(dev.claimInterface(1))).name).to.equal('NetworkError');
      const busy = (await rejection(kd.attach(0))) as KernelDriverError;
      expect(busy.code).to.equal('BUSY');
      await dev.releaseInterface(0);
      await kd.attach(0);
      expect(kd.history.map((r) => `${r.op} ${r.interfaceNumber}`)).to.deep.equal(['detach 0', 'attach 0']);
      expect(((await rejection(kd.detach(5))) as KernelDriverError).code).to.equal('NOT_FOUND');
      await kd.detach(1);
      expect(((await rejection(kd.detach(1))) as KernelDriverError).code).to.equal('NOT_FOUND');
      host.unplug(dev);
      expect(transferErrorKind(await rejection(kd.isActive(0)))).to.equal('disconnected');
      // A new attachment: a new kernel driver, bound again.
      expect(host.plug(dev).kernelDriver.boundInterfaces).to.deep.equal([0, 1]);
    });

    it('is configurable: nothing bound, some bound, or not blocking claims', async () => {
      const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
      expect(host.plug(make(1)).kernelDriver.boundInterfaces).to.deep.equal([]);
      const hd = host.plug(make(2), undefined, { kernelDriver: { bound: [1], name: 'ftdi_sio' } });
      expect(hd.kernelDriver.boundInterfaces).to.deep.equal([1]);
      expect(hd.kernelDriver.name).to.equal('ftdi_sio');
      const lax = new MockUsbHost({ kernelDriver: { blocksClaim: false } });
      const dev = make(3);
      lax.plug(dev);
      await dev.open();
      await dev.claimInterface(0);
    });
  });

  it('maxTransfersInFlight is configurable per host and per plug', () => {
    const host = new MockUsbHost({ maxTransfersInFlight: 1 });
    expect(host.plug(make(1)).maxTransfersInFlight).to.equal(1);
    expect(host.plug(make(2), undefined, { maxTransfersInFlight: 8 }).maxTransfersInFlight).to.equal(8);
    expect(() => host.plug(make(3), undefined, { maxTransfersInFlight: 0 })).to.throw(/positive/);
  });
});
