import { expect } from 'chai';
import { Bus, DriverModel, getDriver, driverAttach, putDriver, ProbeDefer, inspectDriver } from '../../src/core/index.ts';
import { CallLog, newToyBus, tick, toyBusType, toyDriver, ToyDevice, type ProbeBehaviour } from './toy-bus.ts';

describe('core: binding', () => {
  it('binds a new device to the first matching registered driver, in registration order', async () => {
    const { bus } = newToyBus();
    const calls = new CallLog();
    const a = toyDriver(bus, 'a', [{ vendor: 1, product: 2 }], calls);
    const b = toyDriver(bus, 'b', [{ vendor: 1 }], calls);
    await bus.registerDriver(a);
    await bus.registerDriver(b);
    const d1 = new ToyDevice('d1', 1, 2);
    const d2 = new ToyDevice('d2', 1, 3);
    await bus.addDevice(d1);
    await bus.addDevice(d2);
    expect(d1.driver).to.equal(a);
    expect(d2.driver).to.equal(b);
    expect(calls.count('probe', 'b', 'd1')).to.equal(0);
  });

  it('driverAttach binds every matching unbound device, and only those', async () => {
    const { bus } = newToyBus();
    bus.autoprobe = false;
    const calls = new CallLog();
    const drv = toyDriver(bus, 'x', [{ vendor: 7, product: 1 }, { vendor: 8 }], calls);
    for (const [n, v, p] of [['m1', 7, 1], ['m2', 8, 9], ['no', 7, 2]] as const) await bus.addDevice(new ToyDevice(n, v, p));
    await bus.registerDriver(drv);
    expect(calls.count('probe')).to.equal(0); // autoprobe off
    const pin = getDriver(drv)!;
    expect(await driverAttach(pin)).to.equal(2);
    expect(await driverAttach(pin)).to.equal(0); // already bound: not probed again
    putDriver(pin);
    expect(calls.count('probe', 'x', 'm1')).to.equal(1);
    expect(calls.count('probe', 'x', 'no')).to.equal(0);
  });

  it('autoprobe switch and "probe this device now" (drivers_autoprobe, drivers_probe)', async () => {
    const { bus, model } = newToyBus();
    const calls = new CallLog();
    await bus.registerDriver(toyDriver(bus, 'x', [{ vendor: 1, product: 1 }], calls));
    expect((await model.attrs.write('bus/toy/drivers_autoprobe', '0')).ok).to.equal(true);
    expect(bus.autoprobe).to.equal(false);
    const bad = await model.attrs.write('bus/toy/drivers_autoprobe', 'yes');
    expect(bad.ok).to.equal(false);
    await bus.addDevice(new ToyDevice('later', 1, 1));
    expect(bus.getDevice('later')!.driver).to.equal(null);
    expect((await model.attrs.write('bus/toy/drivers_probe', 'later')).ok).to.equal(true);
    expect(bus.getDevice('later')!.driver?.name).to.equal('x');
    const r = await model.attrs.write('bus/toy/drivers_probe', 'nosuch');
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.error.code).to.equal('ENODEV');
    expect((await model.attrs.read('bus/toy/drivers_autoprobe')).ok && (await model.attrs.read('bus/toy/drivers_autoprobe'))).to.deep.include({ value: '0' });
  });

  describe('probe outcomes', () => {
    it('"no match" is quiet and the next driver is tried', async () => {
      const { bus } = newToyBus();
      const calls = new CallLog();
      await bus.registerDriver(toyDriver(bus, 'picky', [{ vendor: 1 }], calls, { behaviour: () => 'no-match' }));
      await bus.registerDriver(toyDriver(bus, 'easy', [{ vendor: 1 }], calls));
      const d = new ToyDevice('d', 1, 1);
      await bus.addDevice(d);
      expect(d.driver?.name).to.equal('easy');
      expect(calls.count('probe', 'picky')).to.equal(1);
    });

    it('an error leaves the device unbound (logged) and the next driver is tried', async () => {
      const { bus } = newToyBus();
      const calls = new CallLog();
      await bus.registerDriver(toyDriver(bus, 'broken', [{ vendor: 1 }], calls, { behaviour: () => 'fail' }));
      const d = new ToyDevice('d', 1, 1);
      await bus.addDevice(d);
      expect(d.driver).to.equal(null);
      await bus.registerDriver(toyDriver(bus, 'good', [{ vendor: 1 }], calls));
      expect(d.driver?.name).to.equal('good');
    });

    it('defer parks the device and retries it after any later successful bind', async () => {
      const { bus, model } = newToyBus();
      const calls = new CallLog();
      let ready = false;
      const waiting = toyDriver(bus, 'needs-clock', [{ vendor: 1 }], calls, { behaviour: () => (ready ? 'bind' : 'defer') });
      await bus.registerDriver(waiting);
      const d = new ToyDevice('consumer', 1, 1);
      await bus.addDevice(d);
      expect(d.driver).to.equal(null);
      expect(model.deferred.has(d)).to.equal(true);
      ready = true; // the resource appears, but nothing re-probes until a bind happens
      await tick();
      expect(d.driver).to.equal(null);
      await bus.registerDriver(toyDriver(bus, 'clock', [{ vendor: 2 }], calls));
      await bus.addDevice(new ToyDevice('clock0', 2, 1)); // a successful bind
      await model.settled();
      expect(d.driver).to.equal(waiting);
      expect(model.deferred.has(d)).to.equal(false);
    });

    it('a bind that happens during a deferring probe re-probes at once', async () => {
      const { bus, model } = newToyBus();
      const calls = new CallLog();
      let supplierReady = false;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const consumerDrv = toyDriver(bus, 'consumer', [{ vendor: 1 }], calls, {
        async probe(dev) {
          calls.record('probe', 'consumer', dev.name);
          const ready = supplierReady; // looks for its supplier at the start...
          if (!ready) await gate; // ...and is slow to give up
          if (!ready) throw new ProbeDefer('supplier missing');
        },
      });
      await bus.registerDriver(consumerDrv);
      await bus.registerDriver(toyDriver(bus, 'supplier', [{ vendor: 2 }], calls));
      const consumer = new ToyDevice('c', 1, 1);
      const adding = bus.addDevice(consumer);
      await tick();
      await bus.addDevice(new ToyDevice('s', 2, 1)); // binds while the consumer's probe runs
      supplierReady = true;
      release();
      await adding;
      await model.settled();
      // No bind came after the deferral, but the counter saw one during the probe: re-probed.
      expect(calls.count('probe', 'consumer')).to.equal(2);
      expect(consumer.driver).to.equal(consumerDrv);
    });
  });

  describe('per-device serialisation (the device lock)', () => {
    it('probe and remove of one device never overlap; removal during probe waits for it', async () => {
      const { bus } = newToyBus();
      const calls = new CallLog();
      let inProbe = false;
      let overlap = false;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const drv = toyDriver(bus, 'slow', [{ vendor: 1 }], calls, {
        async probe(dev) {
          inProbe = true;
          calls.record('probe', 'slow', dev.name);
          await gate;
          inProbe = false;
        },
        async remove(dev) {
          if (inProbe) overlap = true;
          calls.record('remove', 'slow', dev.name);
        },
      });
      await bus.registerDriver(drv);
      const d = new ToyDevice('d', 1, 1);
      const adding = bus.addDevice(d);
      await tick();
      const removing = bus.removeDevice(d);
      await tick();
      expect(calls.count('remove')).to.equal(0); // waits for the probe to settle
      release();
      await Promise.all([adding, removing]);
      expect(overlap).to.equal(false);
      expect(calls.count('remove', 'slow', 'd')).to.equal(1); // released as soon as the probe settled
      expect(d.state).to.equal('dead');
      expect(d.driver).to.equal(null);
      expect(inspectDriver(drv).boundDevices.length).to.equal(0);
    });

    it('a device has at most one driver, even when two drivers attach at once', async () => {
      const { bus } = newToyBus();
      bus.autoprobe = false;
      const calls = new CallLog();
      const a = toyDriver(bus, 'a', [{ vendor: 1 }], calls, { probeDelay: tick });
      const b = toyDriver(bus, 'b', [{ vendor: 1 }], calls, { probeDelay: tick });
      await bus.registerDriver(a);
      await bus.registerDriver(b);
      for (let i = 0; i < 10; i++) await bus.addDevice(new ToyDevice(`d${i}`, 1, i));
      const pa = getDriver(a)!;
      const pb = getDriver(b)!;
      const [na, nb] = await Promise.all([driverAttach(pa), driverAttach(pb)]);
      putDriver(pa);
      putDriver(pb);
      expect(na + nb).to.equal(10);
      expect(calls.violations).to.deep.equal([]);
      expect(inspectDriver(a).boundDevices.length + inspectDriver(b).boundDevices.length).to.equal(10);
    });

    it('removing a device twice shares one removal; removing an unknown device is refused', async () => {
      const { bus } = newToyBus();
      const d = new ToyDevice('d', 1, 1);
      await bus.addDevice(d);
      const r1 = bus.removeDevice(d);
      expect(bus.removeDevice(d)).to.equal(r1);
      await r1;
      const err = await bus.removeDevice(d).catch((e) => e);
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message).to.match(/not on bus/);
    });
  });

  describe('unregistration guarantee', () => {
    it('releases every bound device (remove exactly once each) and calls nothing afterwards', async () => {
      const { bus } = newToyBus();
      const calls = new CallLog();
      const drv = toyDriver(bus, 'x', [{ vendor: 1 }], calls);
      await bus.registerDriver(drv);
      const devs = [0, 1, 2, 3].map((i) => new ToyDevice(`d${i}`, 1, i));
      for (const d of devs) await bus.addDevice(d);
      await bus.unregisterDriver(drv);
      calls.unregisterResolved('x');
      for (const d of devs) expect(calls.count('remove', 'x', d.name)).to.equal(1);
      expect(devs.every((d) => d.driver === null)).to.equal(true);
      // later activity must not reach the driver
      for (const d of devs) await bus.probeDevice(d);
      await bus.addDevice(new ToyDevice('late', 1, 9));
      for (const d of devs) await bus.removeDevice(d);
      expect(calls.violations).to.deep.equal([]);
    });

    it('a pinned driverAttach racing unregistration finishes before it resolves, and its binds are released', async () => {
      const { bus } = newToyBus();
      bus.autoprobe = false;
      const calls = new CallLog();
      const drv = toyDriver(bus, 'x', [{ vendor: 1 }], calls, { probeDelay: tick });
      await bus.registerDriver(drv);
      for (let i = 0; i < 5; i++) await bus.addDevice(new ToyDevice(`d${i}`, 1, i));
      const pin = getDriver(drv)!;
      const attaching = driverAttach(pin).finally(() => putDriver(pin));
      const unreg = bus.unregisterDriver(drv).then(() => calls.unregisterResolved('x'));
      await Promise.all([attaching, unreg]);
      expect(calls.count('probe')).to.equal(5);
      expect(calls.count('remove')).to.equal(5);
      expect(calls.violations).to.deep.equal([]);
    });
  });

  it('driver_override: only the named driver may bind, even without an ID entry', async () => {
    const { bus, model } = newToyBus();
    const calls = new CallLog();
    const generic = toyDriver(bus, 'generic', [{ vendor: 1 }], calls);
    const special = toyDriver(bus, 'special', [], calls);
    await bus.registerDriver(generic);
    await bus.registerDriver(special);
    bus.autoprobe = false;
    const d = new ToyDevice('d', 1, 1);
    await bus.addDevice(d);
    expect((await model.attrs.write('bus/toy/devices/d/driver_override', 'special\n')).ok).to.equal(true);
    expect((await model.attrs.read('bus/toy/devices/d/driver_override'))).to.deep.include({ value: 'special' });
    await bus.probeDevice(d);
    expect(d.driver).to.equal(special);
    expect((await model.attrs.read('bus/toy/devices/d/driver'))).to.deep.include({ value: 'special' });
    const bind = await model.attrs.write('bus/toy/drivers/generic/bind', 'd');
    expect(bind.ok).to.equal(false);
    // clearing: empty or a lone newline
    expect((await model.attrs.write('bus/toy/devices/d/driver_override', '\n')).ok).to.equal(true);
    expect(d.driverOverride).to.equal(null);
    const long = await model.attrs.write('bus/toy/devices/d/driver_override', 'x'.repeat(5000));
    expect(long.ok).to.equal(false);
    if (!long.ok) expect(long.error.message).to.match(/longer than/);
  });

  it('bind and unbind attributes', async () => {
    const { bus, model } = newToyBus();
    const calls = new CallLog();
    const drv = toyDriver(bus, 'x', [{ vendor: 1 }], calls);
    await bus.registerDriver(drv);
    const d = new ToyDevice('d', 1, 1);
    await bus.addDevice(d);
    const busy = await model.attrs.write('bus/toy/drivers/x/bind', 'd');
    expect(busy.ok).to.equal(false);
    if (!busy.ok) expect(busy.error.code).to.equal('EBUSY');
    expect((await model.attrs.write('bus/toy/drivers/x/unbind', 'd')).ok).to.equal(true);
    expect(d.driver).to.equal(null);
    const notBound = await model.attrs.write('bus/toy/drivers/x/unbind', 'd');
    expect(notBound.ok).to.equal(false);
    if (!notBound.ok) expect(notBound.error.code).to.equal('ENODEV');
    expect((await model.attrs.write('bus/toy/drivers/x/bind', 'd\n')).ok).to.equal(true);
    expect(d.driver).to.equal(drv);
    await bus.addDevice(new ToyDevice('other', 2, 2));
    await model.attrs.write('bus/toy/drivers/x/unbind', 'd');
    const mismatch = await model.attrs.write('bus/toy/drivers/x/bind', 'other');
    expect(mismatch.ok).to.equal(false);
    if (!mismatch.ok) expect(mismatch.error.message).to.match(/does not match/);
    const unknown = await model.attrs.write('bus/toy/drivers/x/bind', 'ghost');
    expect(unknown.ok).to.equal(false);
    if (!unknown.ok) expect(unknown.error.code).to.equal('ENODEV');
    expect(calls.violations).to.deep.equal([]);
  });

  it('a bind whose probe fails answers the writer with the cause', async () => {
    const { bus, model } = newToyBus();
    let b: ProbeBehaviour = 'fail';
    await bus.registerDriver(toyDriver(bus, 'x', [{ vendor: 1 }], new CallLog(), { behaviour: () => b }));
    bus.autoprobe = false;
    await bus.addDevice(new ToyDevice('d', 1, 1));
    const r = await model.attrs.write('bus/toy/drivers/x/bind', 'd');
    expect(r.ok).to.equal(false);
    if (!r.ok) {
      expect(r.error.code).to.equal('EPROBE');
      expect(r.error.message).to.match(/cannot drive d/);
    }
    b = 'bind';
  });

  it('two buses in one model keep separate directories; a bus name is unique', () => {
    const model = new DriverModel();
    new Bus(toyBusType('one'), { model });
    new Bus(toyBusType('two'), { model });
    expect(model.attrs.list('bus')).to.deep.equal(['one/', 'two/']);
    expect(() => new Bus(toyBusType('one'), { model })).to.throw(/already exists/);
  });
});
