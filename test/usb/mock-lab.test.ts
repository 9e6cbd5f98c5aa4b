// The usb layer on the mock lab: the backend conformance suite against the mock host, and a
// storm of thousands of plug/unplug events while drivers register and unregister.
import { expect } from 'chai';
import { DriverModel, inspectDriver } from '../../src/core/index.ts';
import { UsbDriver, UsbSubsystem, type UsbInterface } from '../../src/usb/index.ts';
import { MockUsbDevice, MockUsbHost, type MockHostDevice } from '../../mocks/index.ts';
import { describeBackendConformance } from '../../hardware-tests/backend-conformance.ts';

/** A vendor-specific gadget with one interface: bulk IN 0x81 (idle), bulk OUT 0x02. */
function gadget(vendor = 0x1209, product = 0x0001, serial?: string): MockUsbDevice {
  return new MockUsbDevice(
    {
      idVendor: vendor,
      idProduct: product,
      bcdDevice: 0x0100,
      manufacturer: 'Test',
      product: 'Gadget',
      ...(serial ? { serialNumber: serial } : {}),
      configurations: [
        {
          interfaces: [
            {
              bInterfaceClass: 0xff,
              endpoints: [
                { bEndpointAddress: 0x81, type: 'bulk', wMaxPacketSize: 64 },
                { bEndpointAddress: 0x02, type: 'bulk', wMaxPacketSize: 64 },
              ],
            },
          ],
        },
      ],
    },
    {},
    { transferTimeoutMs: 60 },
  );
}

// The same contract the libusb and nusb backends are held to in hardware-tests/.
{
  let host: MockUsbHost;
  const dev = gadget();
  describeBackendConformance(
    'mock',
    () => {
      host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
      host.plug(dev, '1-1');
      return host;
    },
    {
      pickDevice: (devices) => devices[0],
      idleIn: { endpointNumber: 1, timeoutMs: 60 },
      hotplug: {
        unplug: () => void host.unplug(dev),
        plug: () => void host.plug(dev, '1-1'),
      },
      log: () => undefined,
    },
  );
}

describe('usb: on the mock lab', () => {
  it('detaches the mock kernel driver from the bound interface only, and gives it back', async () => {
    const host = new MockUsbHost();
    const usb = new UsbSubsystem({ model: new DriverModel() });
    await usb.attachBackend(host);
    const drv = new UsbDriver(usb.bus, { name: 'g', idTable: [{ vendor: 0x1209 }], probe() {} });
    await usb.bus.registerDriver(drv);
    const ours = host.plug(gadget(), '1-1');
    const theirs = host.plug(gadget(0x1d6b, 0x0002), '1-2');
    await host.flush();
    await usb.settled();
    expect(ours.kernelDriver.history.map((h) => `${h.op} ${h.interfaceNumber}`)).to.deep.equal(['detach 0']);
    expect(ours.usb.claimedInterfaces).to.deep.equal([0]);
    expect(theirs.kernelDriver.history).to.deep.equal([]);
    expect(theirs.usb.transferLog, 'never touched').to.deep.equal([]);
    await usb.bus.unregisterDriver(drv);
    expect(ours.kernelDriver.history.map((h) => `${h.op} ${h.interfaceNumber}`)).to.deep.equal(['detach 0', 'attach 0']);
    expect(ours.usb.opened).to.equal(false);
    await usb.stop();
  });

  it('a storm of 4,000 random plug/unplug events while drivers register and unregister', async function () {
    this.timeout(60_000);
    let seed = 0x5eed;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const host = new MockUsbHost();
    const usb = new UsbSubsystem({ model: new DriverModel() });
    await usb.attachBackend(host);
    const violations: string[] = [];
    const unregistered = new Set<string>();
    const bound = new Map<string, string>();
    const drivers = [0x1209, 0x16c0].map(
      (vendor, i) =>
        new UsbDriver(usb.bus, {
          name: `storm${i}`,
          idTable: [{ vendor }],
          async probe(intf: UsbInterface) {
            if (unregistered.has(`storm${i}`)) violations.push(`probe after unregistration of storm${i}`);
            if (bound.has(intf.name)) violations.push(`${intf.name} bound twice`);
            bound.set(intf.name, `storm${i}`);
            await new Promise((r) => setImmediate(r));
          },
          disconnect(intf: UsbInterface) {
            if (unregistered.has(`storm${i}`)) violations.push(`disconnect after unregistration of storm${i}`);
            if (bound.get(intf.name) !== `storm${i}`) violations.push(`${intf.name}: disconnect without probe`);
            bound.delete(intf.name);
          },
        }),
    );
    const devices = Array.from({ length: 24 }, (_, i) => gadget(i % 3 === 2 ? 0x1d6b : i % 2 ? 0x16c0 : 0x1209, i, `S${i}`));
    const plugged = new Map<MockUsbDevice, MockHostDevice>();
    const pending: Promise<unknown>[] = [];
    let events = 0;
    for (let step = 0; events < 4000; step++) {
      const r = rnd(100);
      if (r < 90) {
        const dev = devices[rnd(devices.length)]!;
        if (plugged.has(dev)) {
          host.unplug(dev);
          plugged.delete(dev);
        } else {
          plugged.set(dev, host.plug(dev, `1-${devices.indexOf(dev) + 1}`));
        }
        events++;
      } else if (r < 97) {
        const d = drivers[rnd(2)]!;
        if (d.state === 'unregistered') {
          unregistered.delete(d.name);
          pending.push(usb.bus.registerDriver(d));
        } else if (d.state === 'registered') {
          pending.push(usb.bus.unregisterDriver(d).then(() => unregistered.add(d.name)));
        }
      } else {
        await new Promise((r2) => setImmediate(r2));
      }
    }
    await host.flush();
    await Promise.all(pending);
    await usb.settled();
    expect(usb.eventsApplied).to.be.greaterThan(0);
    const onBus = usb.bus.listDevices().filter((d) => !d.name.includes(':')).map((d) => d.name).sort();
    expect(onBus).to.deep.equal([...plugged.values()].map((h) => h.portPath).sort());
    for (const [dev, h] of plugged) {
      const intf = usb.bus.getDevice(`${h.portPath}:1.0`)!;
      const want = drivers.find((d) => d.idTable[0]!.vendor === dev.descriptor.idVendor && d.state === 'registered') ?? null;
      expect(intf.driver, h.portPath).to.equal(want);
      expect(dev.claimedInterfaces, `${h.portPath} claimed`).to.deep.equal(want ? [0] : []);
    }
    for (const dev of devices) if (!plugged.has(dev)) expect(dev.pendingTransfers, 'no transfer left on an unplugged device').to.equal(0);
    for (const d of drivers) if (d.state === 'registered') await usb.bus.unregisterDriver(d);
    await usb.stop();
    expect(violations).to.deep.equal([]);
    expect(bound.size).to.equal(0);
    for (const d of drivers) expect(inspectDriver(d).pinCount).to.equal(0);
    for (const dev of devices) expect(dev.claimedInterfaces).to.deep.equal([]);
  });
});
