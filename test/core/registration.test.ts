import { expect } from 'chai';
import {
  AttrError,
  Bus,
  DriverModel,
  DriverStateError,
  RegistrationError,
  getDriver,
  type Uevent,
  inspectDriver,
} from '../../src/core/index.ts';
import { CallLog, newToyBus, toyBusType, toyDriver, ToyDevice } from './toy-bus.ts';

describe('core: driver registration lifecycle', () => {
  it('goes unregistered -> registering -> registered -> unregistering -> unregistered, and again', async () => {
    const { bus } = newToyBus();
    const seen: string[] = [];
    const drv = toyDriver(bus, 'd', [], new CallLog(), {
      registered() {
        seen.push(drv.state);
      },
    });
    expect(drv.state).to.equal('unregistered');
    const reg = bus.registerDriver(drv);
    seen.push(drv.state);
    await reg;
    seen.push(drv.state);
    const unreg = bus.unregisterDriver(drv);
    seen.push(drv.state);
    await unreg;
    seen.push(drv.state);
    expect(seen).to.deep.equal(['registering', 'registering', 'registered', 'unregistering', 'unregistered']);
    await bus.registerDriver(drv); // a driver can come back
    expect(drv.state).to.equal('registered');
  });

  it('refuses registering twice or unregistering what is not registered, with typed errors', async () => {
    const { bus } = newToyBus();
    const drv = toyDriver(bus, 'd', [], new CallLog());
    let err: unknown = await bus.unregisterDriver(drv).catch((e) => e);
    expect(err).to.be.instanceOf(DriverStateError);
    const reg = bus.registerDriver(drv);
    err = await bus.registerDriver(drv).catch((e) => e);
    expect(err).to.be.instanceOf(DriverStateError);
    expect((err as Error).message).to.match(/registering/);
    await reg;
    err = await bus.unregisterDriver(toyDriver(bus, 'other', [], new CallLog())).catch((e) => e);
    expect(err).to.be.instanceOf(DriverStateError);
  });

  /** After a failed registration nothing of the driver is left anywhere. */
  async function expectRolledBack(bus: Bus<ToyDevice, any>, model: DriverModel, name: string, events: Uevent[]) {
    const drv = bus.findDriver(name);
    expect(drv, 'not listed on the bus').to.equal(undefined);
    expect(model.attrs.has(`bus/${bus.name}/drivers/${name}`), 'no attribute directory').to.equal(false);
    const adds = events.filter((e) => e.kind === 'driver' && e.name === name && e.action === 'add').length;
    const removes = events.filter((e) => e.kind === 'driver' && e.name === name && e.action === 'remove').length;
    expect(adds, 'every add uevent has its remove').to.equal(removes);
  }

  it('rolls back a duplicate name', async () => {
    const { bus, model } = newToyBus();
    const events: Uevent[] = [];
    model.uevents.subscribe((e) => events.push(e));
    const first = toyDriver(bus, 'same', [], new CallLog());
    await bus.registerDriver(first);
    const second = toyDriver(bus, 'same', [{ vendor: 1, product: 2 }], new CallLog());
    const err = await bus.registerDriver(second).catch((e) => e);
    expect(err).to.be.instanceOf(RegistrationError);
    expect((err as RegistrationError).step).to.equal('name');
    expect(second.state).to.equal('unregistered');
    expect(bus.findDriver('same')).to.equal(first); // the first one is untouched
    expect(getDriver(first)).to.not.equal(null);
  });

  it('rolls back when the bus refuses the driver', async () => {
    const model = new DriverModel();
    const bus = new Bus({ ...toyBusType(), checkDriver: (d) => { if (d.name.startsWith('bad')) throw new Error('bus says no'); } }, { model });
    const events: Uevent[] = [];
    model.uevents.subscribe((e) => events.push(e));
    const err = await bus.registerDriver(toyDriver(bus, 'bad1', [], new CallLog())).catch((e) => e);
    expect((err as RegistrationError).step).to.equal('bus');
    expect((err as Error).message).to.match(/bus says no/);
    await expectRolledBack(bus, model, 'bad1', events);
  });

  it('rolls back a refused attribute (a name taken by a built-in file)', async () => {
    const { bus, model } = newToyBus();
    const events: Uevent[] = [];
    model.uevents.subscribe((e) => events.push(e));
    const drv = toyDriver(bus, 'attrs', [], new CallLog(), { attributes: { version: { show: () => '1' }, bind: { show: () => 'x' } } });
    const err = await bus.registerDriver(drv).catch((e) => e);
    expect((err as RegistrationError).step).to.equal('attributes');
    await expectRolledBack(bus, model, 'attrs', events);
    expect(model.attrs.has('bus/toy/drivers/attrs/version')).to.equal(false);
  });

  it('rolls back a failing hook, freeing the dynamic IDs written meanwhile, and can register later', async () => {
    const { bus, model } = newToyBus();
    const events: Uevent[] = [];
    model.uevents.subscribe((e) => events.push(e));
    let fail = true;
    const calls = new CallLog();
    const drv = toyDriver(bus, 'hooked', [], calls, {
      async registered() {
        const r = await model.attrs.write('bus/toy/drivers/hooked/new_id', '1234 5678');
        expect(r.ok).to.equal(true);
        expect(inspectDriver(drv).dynamicIds.length).to.equal(1);
        if (fail) throw new Error('hook failed');
      },
    });
    await bus.addDevice(new ToyDevice('dev0', 0x1234, 0x5678));
    const err = await bus.registerDriver(drv).catch((e) => e);
    expect((err as RegistrationError).step).to.equal('hook');
    expect(inspectDriver(drv).dynamicIds.length, 'no dynamic ID leaked').to.equal(0);
    expect(calls.count('probe'), 'nothing probed through the failed driver').to.equal(0);
    await expectRolledBack(bus, model, 'hooked', events);
    fail = false;
    await bus.registerDriver(drv);
    expect(bus.getDevice('dev0')!.driver).to.equal(drv); // bound through the new dynamic ID
  });

  it('does not probe through a driver whose registration is still running', async () => {
    const { bus } = newToyBus();
    const calls = new CallLog();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const drv = toyDriver(bus, 'slow', [{ vendor: 1, product: 1 }], calls, { registered: () => gate });
    const reg = bus.registerDriver(drv);
    await bus.addDevice(new ToyDevice('early', 1, 1)); // arrives mid-registration
    expect(calls.count('probe')).to.equal(0);
    expect(await bus.probeDevice(bus.getDevice('early')!)).to.equal(false);
    release();
    await reg;
    expect(calls.count('probe', 'slow', 'early')).to.equal(1);
    expect(bus.getDevice('early')!.driver).to.equal(drv);
  });

  it('attribute files exist exactly while the driver is registered', async () => {
    const { bus, model } = newToyBus();
    const drv = toyDriver(bus, 'files', [], new CallLog());
    expect(model.attrs.list('bus/toy/drivers')).to.deep.equal([]);
    await bus.registerDriver(drv);
    expect(model.attrs.list('bus/toy/drivers/files')).to.deep.equal(['bind', 'new_id', 'remove_id', 'unbind']);
    await bus.unregisterDriver(drv);
    expect(model.attrs.has('bus/toy/drivers/files')).to.equal(false);
    const r = await model.attrs.write('bus/toy/drivers/files/new_id', '1 2');
    expect(r.ok).to.equal(false);
    if (!r.ok) {
      expect(r.error).to.be.instanceOf(AttrError);
      expect(r.error.code).to.equal('ENOENT');
    }
  });

  it('noDynamicId and suppressBindAttrs hide their files', async () => {
    const { bus, model } = newToyBus();
    await bus.registerDriver(toyDriver(bus, 'quiet', [], new CallLog(), { noDynamicId: true, suppressBindAttrs: true }));
    expect(model.attrs.list('bus/toy/drivers/quiet')).to.deep.equal([]);
  });
});
