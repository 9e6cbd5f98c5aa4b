// usbDriverClaimInterface / usbDriverReleaseInterface: a driver bound to one interface takes a
// second one of the same device (Linux: usb_driver_claim_interface), so no other driver probes
// it, and gives it back through the ordinary unbind.
import { expect } from 'chai';
import { BusyError, DriverModel, inspectDriver } from '../../src/core/index.ts';
import { UsbDriver, UsbInterface, UsbSubsystem, usbDriverClaimInterface, usbDriverReleaseInterface, usbInterfaceInfo } from '../../src/usb/index.ts';
import { FakeBackend } from './fake-backend.ts';

describe('usb: a driver claiming a second interface', () => {
  async function setup() {
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const backend = new FakeBackend();
    await usb.attachBackend(backend);
    const events: string[] = [];
    usb.model.uevents.subscribe((e) => {
      if (e.action === 'bind' || e.action === 'unbind') events.push(`${e.action} ${e.name}`);
    });
    const disconnected: string[] = [];
    const dataProbes: string[] = [];
    const bus = usb.bus;
    const intfOf = (n: number) => bus.listDevices().find((d): d is UsbInterface => d instanceof UsbInterface && d.interfaceNumber === n)!;
    const owner: UsbDriver = new UsbDriver(bus, {
      name: 'two_ifc',
      idTable: [{ vendor: 0x1209, product: 0x0001, interfaceNumber: 0 }],
      // The second interface may not be on the bus yet when the first is probed: it is found on the device.
      probe: async (intf) => usbDriverClaimInterface(owner, intf.usbDevice.interfaces[1]!, 'data side'),
      disconnect: async (intf) => {
        disconnected.push(intf.name);
        if (intf.interfaceNumber === 0) await usbDriverReleaseInterface(owner, intf.usbDevice.interfaces[1]!);
      },
    });
    // A driver for the second interface's class: it must never get it while the owner holds it.
    const rival = new UsbDriver(bus, { name: 'rival', idTable: [usbInterfaceInfo(0x0a, 0, 0)], probe: (intf) => void dataProbes.push(intf.name) });
    await bus.registerDriver(rival);
    await bus.registerDriver(owner);
    return { usb, backend, bus, owner, rival, events, disconnected, dataProbes, intfOf };
  }

  const device = { vendorId: 0x1209, productId: 0x0001, kernelBound: true, interfaces: [{ number: 0, cls: 0x02, sub: 0x02, proto: 0x01 }, { number: 1, cls: 0x0a, sub: 0, proto: 0 }] };

  it('claims the USB interface, binds it without a probe, and the unbind of the first gives it back', async () => {
    const s = await setup();
    const host = s.backend.plug(device);
    await s.usb.settled();
    expect([...host.fake.claimed].sort()).to.deep.equal([0, 1]);
    expect(host.kernel.log).to.include.members(['detach 0', 'detach 1']);
    // Interface 1 was claimed while interface 0 probed, before the bus had added it: bound on add.
    expect(s.intfOf(1).driver).to.equal(s.owner);
    expect(s.intfOf(1).driverData).to.equal('data side');
    expect(s.dataProbes).to.deep.equal([]);
    expect(s.events).to.include.members(['bind fake:1:1.0', 'bind fake:1:1.1']);

    await s.bus.unregisterDriver(s.owner);
    expect(s.disconnected).to.include.members(['fake:1:1.0', 'fake:1:1.1']);
    expect(host.fake.claimed.size).to.equal(0);
    expect(s.events).to.include.members(['unbind fake:1:1.0', 'unbind fake:1:1.1']);
    expect(host.kernel.log.filter((l) => l.startsWith('attach')).sort()).to.deep.equal(['attach 0', 'attach 1']);
    // Once free, the second interface is an ordinary unbound interface again.
    await s.usb.settled();
    expect(inspectDriver(s.owner).boundDevices).to.deep.equal([]);
  });

  it('refuses an interface another driver holds (BusyError) and leaves it as it was', async () => {
    const s = await setup();
    await s.bus.unregisterDriver(s.owner);
    const host = s.backend.plug(device);
    await s.usb.settled();
    expect(s.intfOf(1).driver?.name).to.equal('rival');
    const err = await usbDriverClaimInterface(s.owner, s.intfOf(1)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BusyError);
    expect(s.intfOf(1).driver?.name).to.equal('rival');
    expect(await usbDriverReleaseInterface(s.owner, s.intfOf(1))).to.equal(false);
    expect([...host.fake.claimed]).to.deep.equal([1]);
  });

  it('unplug: both interfaces unbind, nothing stays claimed', async () => {
    const s = await setup();
    const host = s.backend.plug(device);
    await s.usb.settled();
    const intfs = [s.intfOf(0), s.intfOf(1)];
    s.backend.unplug(host);
    await s.usb.settled();
    expect(inspectDriver(s.owner).boundDevices).to.deep.equal([]);
    expect(intfs.map((i) => [i.driver, i.claimed, i.state])).to.deep.equal([
      [null, false, 'dead'],
      [null, false, 'dead'],
    ]);
    expect(s.disconnected).to.have.members(['fake:1:1.0', 'fake:1:1.1']);
  });
});
