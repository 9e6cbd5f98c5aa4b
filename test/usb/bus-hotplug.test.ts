import { expect } from 'chai';
import fc from 'fast-check';
import { firstValueFrom, take, toArray } from 'rxjs';
import { DriverModel, getDriver, putDriver, inspectDriver } from '../../src/core/index.ts';
import {
  hotplugEvents,
  matchingDevices,
  UsbDriver,
  UsbInterface,
  UsbSubsystem,
  usbDevice,
  type HotplugEvent,
} from '../../src/usb/index.ts';
import { FakeBackend } from './fake-backend.ts';

const setup = () => {
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const backend = new FakeBackend();
  return { usb, backend, bus: usb.bus };
};

describe('usb: bus and subsystem', () => {
  it('adds a device and its interfaces with Linux-style names, attributes and uevents', async () => {
    const { usb, backend, bus } = setup();
    const seen: string[] = [];
    usb.model.uevents.subscribe((e) => seen.push(`${e.action} ${e.name} ${e.env.DEVTYPE ?? ''}`));
    await usb.attachBackend(backend);
    backend.plug({ vendorId: 0x0403, productId: 0x6010, bcdDevice: 0x0700, port: [2, 3], interfaces: [{ number: 0 }, { number: 1 }] });
    await usb.settled();
    expect(bus.listDevices().map((d) => d.name)).to.deep.equal(['1-2.3', '1-2.3:1.0', '1-2.3:1.1']);
    expect(seen).to.deep.equal(['add 1-2.3 usb_device', 'add 1-2.3:1.0 usb_interface', 'add 1-2.3:1.1 usb_interface']);
    const r = await usb.model.attrs.read('bus/usb/devices/1-2.3:1.1/uevent');
    expect(r.ok && r.value).to.match(/MODALIAS=usb:v0403p6010d0700dc00dsc00dp00icFFiscFFipFFin01/);
    expect(r.ok && r.value).to.match(/PRODUCT=403\/6010\/700/);
  });

  it('claims only the interface its driver binds: detaches the kernel driver there, reattaches on release', async () => {
    const { usb, backend, bus } = setup();
    await usb.attachBackend(backend);
    const probed: string[] = [];
    const drv = new UsbDriver(bus, {
      name: 'second_only',
      idTable: [{ vendor: 0x0403, product: 0x6010, interfaceNumber: 1 }],
      probe: (intf) => void probed.push(intf.name),
    });
    await bus.registerDriver(drv);
    const host = backend.plug({ vendorId: 0x0403, productId: 0x6010, kernelBound: true, interfaces: [{ number: 0 }, { number: 1 }] });
    const other = backend.plug({ vendorId: 0x1234, productId: 0x5678, kernelBound: true });
    await usb.settled();
    expect(probed).to.have.length(1);
    expect(host.kernel.log).to.deep.equal(['detach 1']);
    expect([...host.fake.claimed]).to.deep.equal([1]);
    expect(host.kernel.bound.has(0)).to.equal(true);
    expect(other.fake.log, 'a device no driver matched is never touched').to.deep.equal([]);
    expect(other.kernel.log).to.deep.equal([]);
    await bus.unregisterDriver(drv);
    expect(host.kernel.log).to.deep.equal(['detach 1', 'attach 1']);
    expect(host.fake.claimed.size).to.equal(0);
    expect(host.fake.opened).to.equal(false);
  });

  it('a probe that fails gives the interface back (release, reattach, close)', async () => {
    const { usb, backend, bus } = setup();
    await usb.attachBackend(backend);
    await bus.registerDriver(
      new UsbDriver(bus, {
        name: 'fails',
        idTable: [usbDevice(1, 1)],
        probe: () => {
          throw new Error('chip did not answer');
        },
      }),
    );
    const host = backend.plug({ vendorId: 1, productId: 1, kernelBound: true });
    await usb.settled();
    expect(host.kernel.log).to.deep.equal(['detach 0', 'attach 0']);
    expect(host.fake.claimed.size).to.equal(0);
    expect(host.fake.opened).to.equal(false);
  });

  it('a detach during probe cleans up right after the probe settles; the driver sees disconnected', async () => {
    const { usb, backend, bus } = setup();
    await usb.attachBackend(backend);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    let sawAbort = false;
    await bus.registerDriver(
      new UsbDriver(bus, {
        name: 'slow',
        idTable: [usbDevice(1, 1)],
        async probe(intf) {
          order.push('probe start');
          intf.usbDevice.disconnected.addEventListener('abort', () => (sawAbort = true));
          await gate;
          order.push('probe end');
        },
        disconnect: () => void order.push('disconnect'),
      }),
    );
    const host = backend.plug({ vendorId: 1, productId: 1 });
    await new Promise((r) => setTimeout(r, 5));
    backend.unplug(host);
    await new Promise((r) => setTimeout(r, 5));
    expect(sawAbort).to.equal(true);
    expect(order).to.deep.equal(['probe start']);
    release();
    await usb.settled();
    expect(order).to.deep.equal(['probe start', 'probe end', 'disconnect']);
    expect(bus.listDevices()).to.deep.equal([]);
  });

  it('a duplicated connect is harmless; a disconnect of an unknown device is ignored', async () => {
    const { usb, backend, bus } = setup();
    await usb.attachBackend(backend);
    let probes = 0;
    await bus.registerDriver(new UsbDriver(bus, { name: 'd', idTable: [usbDevice(1, 1)], probe: () => void probes++ }));
    const host = backend.plug({ vendorId: 1, productId: 1 });
    backend.emit({ type: 'connect', device: host });
    const ghost = backend.plug({ vendorId: 9, productId: 9 }, { silent: true });
    backend.emit({ type: 'disconnect', device: ghost });
    await usb.settled();
    expect(probes).to.equal(1);
    expect(bus.listDevices().filter((d) => !(d instanceof UsbInterface))).to.have.length(1);
  });

  it('the hotplug stream starts watching before enumerating: nothing in between is lost', async () => {
    const backend = new FakeBackend();
    const early = backend.plug({ vendorId: 1, productId: 1 });
    const realGetDevices = backend.getDevices.bind(backend);
    let late: ReturnType<FakeBackend['plug']> | undefined;
    backend.getDevices = async () => {
      const list = await realGetDevices();
      late = backend.plug({ vendorId: 2, productId: 2 }); // arrives while we enumerate
      backend.unplug(early); // and the enumerated one leaves meanwhile
      return list;
    };
    const events = await firstValueFrom(hotplugEvents(backend).pipe(take(3), toArray()));
    expect(events.map((e) => `${e.type} ${e.vendorId}`)).to.deep.equal(['attach 1', 'attach 2', 'detach 1']);
    expect(events[1]!.device).to.equal(late);
    expect(backend.listenerCount, 'unsubscribing stops the watcher').to.equal(0);
  });

  it('users can subscribe directly and filter by VID/PID or serial number', async () => {
    const backend = new FakeBackend();
    const got: HotplugEvent[] = [];
    const sub = hotplugEvents(backend).pipe(matchingDevices({ vendorId: 0x0403, serialNumber: 'A1' })).subscribe((e) => got.push(e));
    await new Promise((r) => setImmediate(r));
    backend.plug({ vendorId: 0x0403, productId: 0x6001, serialNumber: 'A1' });
    backend.plug({ vendorId: 0x0403, productId: 0x6001, serialNumber: 'B2' });
    backend.plug({ vendorId: 0x067b, productId: 0x2303, serialNumber: 'A1' });
    sub.unsubscribe();
    expect(got.map((e) => e.serialNumber)).to.deep.equal(['A1']);
  });

  it('a storm of plug/unplug while drivers register and unregister keeps every invariant', async function () {
    this.timeout(60_000);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('plug' as const), port: fc.integer({ min: 1, max: 6 }), vendor: fc.integer({ min: 1, max: 2 }) }),
            fc.record({ op: fc.constant('unplug' as const), port: fc.integer({ min: 1, max: 6 }) }),
            fc.record({ op: fc.constant('register' as const), drv: fc.integer({ min: 0, max: 1 }) }),
            fc.record({ op: fc.constant('unregister' as const), drv: fc.integer({ min: 0, max: 1 }) }),
            fc.record({ op: fc.constant('pause' as const) }),
          ),
          { minLength: 20, maxLength: 200 },
        ),
        async (ops) => {
          const { usb, backend, bus } = setup();
          await usb.attachBackend(backend);
          const unregistered = new Set<string>();
          const violations: string[] = [];
          const bound = new Map<string, string>();
          const drivers = [0, 1].map(
            (i) =>
              new UsbDriver(bus, {
                name: `drv${i}`,
                idTable: [{ vendor: i + 1 }],
                async probe(intf) {
                  if (unregistered.has(`drv${i}`)) violations.push(`probe after unregistration of drv${i}`);
                  if (bound.has(intf.name)) violations.push(`${intf.name} bound twice`);
                  await new Promise((r) => setImmediate(r));
                  bound.set(intf.name, `drv${i}`);
                },
                disconnect(intf) {
                  if (unregistered.has(`drv${i}`)) violations.push(`disconnect after unregistration of drv${i}`);
                  if (bound.get(intf.name) !== `drv${i}`) violations.push(`${intf.name} disconnect without probe`);
                  bound.delete(intf.name);
                },
              }),
          );
          const plugged = new Map<number, ReturnType<FakeBackend['plug']>>();
          const pending: Promise<unknown>[] = [];
          for (const o of ops) {
            if (o.op === 'plug' && !plugged.has(o.port)) plugged.set(o.port, backend.plug({ vendorId: o.vendor, productId: 1, port: [o.port] }));
            if (o.op === 'unplug' && plugged.has(o.port)) {
              backend.unplug(plugged.get(o.port)!);
              plugged.delete(o.port);
            }
            const d = drivers['drv' in o ? o.drv : 0]!;
            if (o.op === 'register' && d.state === 'unregistered') {
              unregistered.delete(d.name);
              pending.push(bus.registerDriver(d));
            }
            if (o.op === 'unregister' && d.state === 'registered') {
              pending.push(bus.unregisterDriver(d).then(() => unregistered.add(d.name)));
            }
            if (o.op === 'pause') await new Promise((r) => setImmediate(r));
          }
          await Promise.all(pending);
          await usb.settled();
          // The bus holds exactly what is plugged, each device once.
          const devices = bus.listDevices().filter((d) => !(d instanceof UsbInterface)).map((d) => d.name).sort();
          expect(devices).to.deep.equal([...plugged.keys()].map((p) => `1-${p}`).sort());
          // Every plugged device of a registered driver's vendor is bound to it, others unbound.
          for (const [port, host] of plugged) {
            const intf = bus.getDevice(`1-${port}:1.0`)!;
            const d = drivers[host.usb.vendorId - 1]!;
            expect(intf.driver, `1-${port}`).to.equal(d.state === 'registered' ? d : null);
          }
          for (const d of drivers) if (d.state === 'registered') await bus.unregisterDriver(d);
          await usb.stop();
          expect(violations).to.deep.equal([]);
          expect(bound.size).to.equal(0);
          expect(drivers.every((d) => inspectDriver(d).pinCount === 0)).to.equal(true);
          for (const host of plugged.values()) expect(host.fake.claimed.size).to.equal(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('usb: pins across layers', () => {
  it('a usb driver pinned by a tool blocks its unregistration', async () => {
    const { bus } = setup();
    const drv = new UsbDriver(bus, { name: 'x', probe() {} });
    await bus.registerDriver(drv);
    const pin = getDriver(drv)!;
    let done = false;
    const p = bus.unregisterDriver(drv).then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).to.equal(false);
    putDriver(pin);
    await p;
    expect(done).to.equal(true);
  });
});

describe('usb: hotplug order (property)', () => {
  it('the stream reproduces the backend sequence: per device attach/detach alternate, in order, none lost', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.boolean()), { maxLength: 300 }), async (ops) => {
        const backend = new FakeBackend();
        const got: HotplugEvent[] = [];
        const sub = hotplugEvents(backend).subscribe((e) => got.push(e));
        await new Promise((r) => setImmediate(r));
        const plugged = new Map<number, ReturnType<FakeBackend['plug']>>();
        const expected: string[] = [];
        for (const [slot, dup] of ops) {
          const h = plugged.get(slot);
          if (h) {
            backend.unplug(h);
            plugged.delete(slot);
            expected.push(`detach ${h.key}`);
          } else {
            const n = backend.plug({ vendorId: 1, productId: slot });
            if (dup) backend.emit({ type: 'connect', device: n }); // a duplicated connect
            plugged.set(slot, n);
            expected.push(`attach ${n.key}`);
          }
        }
        sub.unsubscribe();
        expect(got.map((e) => `${e.type} ${e.device.key}`)).to.deep.equal(expected);
        expect(got.map((e) => e.seq)).to.deep.equal(got.map((_, i) => i + 1));
      }),
      { numRuns: 300 },
    );
  });
});
