// The read-only inspection API: frozen snapshots of a driver's and a bus's bookkeeping, which
// is otherwise out of reach from outside the core.
import { expect } from 'chai';
import { getDriver, inspectBus, inspectDriver, inspectDriverCounts, inspectDynamicIds, putDriver } from '../../src/core/index.ts';
import { CallLog, newToyBus, toyDriver, ToyDevice } from './toy-bus.ts';

describe('core: inspection snapshots', () => {
  it('shows state, pins with their sites, bound devices and dynamic IDs, frozen and detached from the core', async () => {
    const { bus, model } = newToyBus();
    const drv = toyDriver(bus, 'd', [{ vendor: 1, product: 1 }], new CallLog());
    await bus.addDevice(new ToyDevice('a', 1, 1));
    await bus.addDevice(new ToyDevice('b', 2, 2));
    await bus.registerDriver(drv);
    expect((await model.attrs.write('bus/toy/drivers/d/new_id', '0002 0002')).ok).to.equal(true);
    const pin = getDriver(drv, 'test:holder')!;
    const snap = inspectDriver(drv);
    expect(snap).to.deep.include({ bus: 'toy', name: 'd', state: 'registered', pinCount: 1, boundDevices: ['a', 'b'] });
    expect(snap.pins).to.deep.equal([{ id: pin.id, takenAt: 'test:holder' }]);
    expect(snap.dynamicIds).to.deep.equal([{ vendor: 2, product: 2 }]);
    expect(Object.isFrozen(snap) && Object.isFrozen(snap.pins) && Object.isFrozen(snap.boundDevices) && Object.isFrozen(snap.dynamicIds)).to.equal(true);
    expect(() => (snap.boundDevices as string[]).push('x')).to.throw(TypeError);
    putDriver(pin);
    expect(snap.pinCount, 'a snapshot does not follow the core').to.equal(1);
    expect(inspectDriver(drv).pinCount).to.equal(0);

    const b = inspectBus(bus);
    expect(b.devices.map((d) => [d.name, d.driver])).to.deep.equal([['a', 'd'], ['b', 'd']]);
    expect(b.drivers.map((d) => d.name)).to.deep.equal(['d']);
    expect(Object.isFrozen(b.devices[0])).to.equal(true);
  });

  it('counts and dynamic IDs alone agree with the full snapshot, through registration and unregistration', async () => {
    const { bus, model } = newToyBus();
    const drv = toyDriver(bus, 'd', [{ vendor: 1, product: 1 }], new CallLog());
    await bus.addDevice(new ToyDevice('a', 1, 1));
    const counts = () => {
      const s = inspectDriver(drv);
      return { state: s.state, pinCount: s.pinCount, boundCount: s.boundDevices.length, dynamicIdCount: s.dynamicIds.length };
    };
    expect(inspectDriverCounts(drv)).to.deep.equal(counts());
    await bus.registerDriver(drv);
    expect((await model.attrs.write('bus/toy/drivers/d/new_id', '0002 0002')).ok).to.equal(true);
    const pin = getDriver(drv, 'test:holder')!;
    expect(inspectDriverCounts(drv)).to.deep.equal({ state: 'registered', pinCount: 1, boundCount: 1, dynamicIdCount: 1 });
    expect(inspectDriverCounts(drv)).to.deep.equal(counts());
    const ids = inspectDynamicIds(drv);
    expect(ids).to.deep.equal(inspectDriver(drv).dynamicIds);
    expect(Object.isFrozen(ids)).to.equal(true);
    putDriver(pin);
    await bus.unregisterDriver(drv);
    expect(inspectDriverCounts(drv)).to.deep.equal({ state: 'unregistered', pinCount: 0, boundCount: 0, dynamicIdCount: 0 });
    expect(inspectDriverCounts(drv)).to.deep.equal(counts());
    expect(ids, 'a list handed out does not follow the core').to.deep.equal([{ vendor: 2, product: 2 }]);
  });

  it('the bookkeeping itself is not on the driver object', () => {
    const { bus } = newToyBus();
    const drv = toyDriver(bus, 'd', [], new CallLog()) as unknown as Record<string, unknown>;
    for (const key of ['pins', 'boundDevices', 'dynIds', 'pinsDrained', 'unregistration', 'regSeq']) expect(drv[key], key).to.equal(undefined);
    expect(() => {
      (drv as { state: string }).state = 'registered';
    }).to.throw(TypeError);
  });
});
