// Alan Stern's scenarios (linux-usb, 2012) on the bare core.
import { expect } from 'chai';
import { driverAttach, getDriver, putDriver, type Uevent, inspectDriver } from '../../src/core/index.ts';
import { CallLog, newToyBus, tick, toyDriver, ToyDevice } from './toy-bus.ts';

describe("core: Stern's scenarios", () => {
  it('a driver pinned by another task while its unregistration is requested: unregistration waits, no probe after it', async () => {
    const { bus } = newToyBus();
    const calls = new CallLog();
    const drv = toyDriver(bus, 'x', [{ vendor: 1 }], calls);
    await bus.registerDriver(drv);
    bus.autoprobe = false;
    await bus.addDevice(new ToyDevice('d0', 1, 0));

    // Another task pins the driver and will use it a little later.
    const pin = getDriver(drv)!;
    let unregistered = false;
    const unreg = bus.unregisterDriver(drv).then(() => {
      unregistered = true;
      calls.unregisterResolved('x');
    });
    await tick();
    expect(unregistered).to.equal(false);
    expect(getDriver(drv), 'no new pins while unregistering').to.equal(null);
    // The pin holder goes on with its work: legal, the driver is still there for it.
    expect(await driverAttach(pin)).to.equal(1);
    expect(unregistered).to.equal(false);
    putDriver(pin);
    await unreg;
    expect(calls.count('remove', 'x', 'd0')).to.equal(1);
    bus.autoprobe = true;
    await bus.addDevice(new ToyDevice('d1', 1, 1));
    await bus.probeDevice(bus.getDevice('d0')!);
    expect(calls.violations).to.deep.equal([]);
  });

  it('new_id written from inside the uevent handler that announced the attribute', async () => {
    const { bus, model } = newToyBus();
    const calls = new CallLog();
    const drv = toyDriver(bus, 'udev-target', [], calls);
    await bus.addDevice(new ToyDevice('oem', 0x1234, 0x5678));
    const results: unknown[] = [];
    const sub = model.uevents.subscribe((e: Uevent) => {
      if (e.kind === 'driver' && e.action === 'add' && e.name === 'udev-target') {
        // A udev rule: RUN+="/bin/sh -c 'echo 1234 5678 > .../new_id'", at once.
        void model.attrs.write(`${e.path}/new_id`, '1234 5678').then((r) => results.push(r.ok));
      }
    });
    await bus.registerDriver(drv);
    await tick();
    sub.unsubscribe();
    expect(results).to.deep.equal([true]);
    expect(calls.count('probe', 'udev-target', 'oem')).to.equal(1); // bound exactly once
    expect(bus.getDevice('oem')!.driver).to.equal(drv);
    expect(calls.violations).to.deep.equal([]);
  });

  it('registration failing after new_id was written leaves zero dynamic IDs', async () => {
    const { bus, model } = newToyBus();
    const calls = new CallLog();
    const drv = toyDriver(bus, 'doomed', [], calls, {
      registered() {
        throw new Error('out of memory');
      },
    });
    await bus.addDevice(new ToyDevice('oem', 1, 2));
    model.uevents.subscribe((e) => {
      if (e.kind === 'driver' && e.action === 'add') void model.attrs.write(`${e.path}/new_id`, '1 2');
    });
    const err = await bus.registerDriver(drv).catch((e) => e);
    expect(err).to.be.instanceOf(Error);
    expect(inspectDriver(drv).dynamicIds.length).to.equal(0);
    expect(calls.count('probe')).to.equal(0);
    expect(model.attrs.has('bus/toy/drivers/doomed')).to.equal(false);
  });
});
