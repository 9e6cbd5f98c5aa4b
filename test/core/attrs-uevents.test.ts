import { expect } from 'chai';
import { AttributeTree, AttrError, UeventBus, type Uevent } from '../../src/core/index.ts';
import { CallLog, newToyBus, toyDriver, ToyDevice } from './toy-bus.ts';

describe('core: attribute tree', () => {
  it('adds, lists, reads, writes and removes', async () => {
    const t = new AttributeTree();
    let stored = '';
    t.add('a/b/file', { show: () => 'hello', store: (v) => void (stored = v) });
    t.add('a/ro', { show: () => 'r' });
    t.add('a/wo', { store: () => 'answer' });
    expect(t.list()).to.deep.equal(['a/']);
    expect(t.list('a')).to.deep.equal(['b/', 'ro', 'wo']);
    expect(await t.read('a/b/file')).to.deep.equal({ ok: true, path: 'a/b/file', value: 'hello' });
    expect(await t.write('/a/b/file/', 'x')).to.deep.include({ ok: true });
    expect(stored).to.equal('x');
    expect(await t.write('a/wo', 'q')).to.deep.include({ ok: true, value: 'answer' });
    t.remove('a/b');
    expect(t.has('a/b/file')).to.equal(false);
    expect(t.list('nowhere')).to.deep.equal([]);
  });

  it('answers every misuse with a typed error value instead of throwing', async () => {
    const t = new AttributeTree();
    t.add('d/ro', { show: () => 'r' });
    t.add('d/wo', { store: () => undefined });
    t.add('d/boom', {
      show: () => {
        throw new Error('show failed');
      },
      store: async () => {
        throw new TypeError('store failed');
      },
    });
    const expectErr = async (p: Promise<unknown>, code: string, msg: RegExp) => {
      const r = (await p) as { ok: boolean; error?: AttrError };
      expect(r.ok).to.equal(false);
      expect(r.error).to.be.instanceOf(AttrError);
      expect(r.error!.code).to.equal(code);
      expect(r.error!.message).to.match(msg);
    };
    await expectErr(t.read('d/none'), 'ENOENT', /no attribute 'd\/none'/);
    await expectErr(t.write('d/ro', '1'), 'EACCES', /read-only/);
    await expectErr(t.read('d/wo'), 'EACCES', /write-only/);
    await expectErr(t.read('d'), 'EINVAL', /is a directory/);
    await expectErr(t.read('d/boom'), 'EINVAL', /show failed/);
    await expectErr(t.write('d/boom', 'x'), 'EINVAL', /store failed/);
    expect(() => t.add('d/ro', {})).to.throw(AttrError, /already exists/);
  });

  it('lays out buses, devices and drivers like sysfs', async () => {
    const { bus, model } = newToyBus('lay');
    await bus.registerDriver(toyDriver(bus, 'drv', [{ vendor: 1 }], new CallLog()));
    await bus.addDevice(new ToyDevice('dev', 1, 1));
    expect(model.attrs.list('bus/lay')).to.deep.equal(['devices/', 'drivers/', 'drivers_autoprobe', 'drivers_probe']);
    expect(model.attrs.list('bus/lay/devices/dev')).to.deep.equal(['driver', 'driver_override', 'uevent']);
    expect(model.attrs.list('bus/lay/drivers/drv')).to.deep.equal(['bind', 'new_id', 'remove_id', 'unbind']);
  });
});

describe('core: uevents', () => {
  it('numbers events in order', () => {
    const u = new UeventBus();
    const seen: number[] = [];
    u.events.subscribe((e) => seen.push(e.seq));
    u.emit({ action: 'add', kind: 'device', bus: 'b', name: 'n', path: 'p', env: {} });
    u.emit({ action: 'remove', kind: 'device', bus: 'b', name: 'n', path: 'p', env: {} });
    expect(seen).to.deep.equal([1, 2]);
  });

  it('add / bind / unbind / remove for devices and drivers, each when its attributes are visible', async () => {
    const { bus, model } = newToyBus();
    const log: string[] = [];
    model.uevents.subscribe((e: Uevent) => {
      const visible = model.attrs.has(e.path);
      log.push(`${e.action} ${e.kind} ${e.name}${e.driver ? ` ${e.driver}` : ''} ${visible ? 'visible' : 'gone'}`);
    });
    const drv = toyDriver(bus, 'drv', [{ vendor: 1 }], new CallLog());
    await bus.registerDriver(drv);
    const d = new ToyDevice('dev', 1, 1);
    await bus.addDevice(d);
    await bus.unregisterDriver(drv);
    await bus.removeDevice(d);
    expect(log).to.deep.equal([
      'add driver drv visible',
      'add device dev visible',
      'bind device dev drv visible',
      'unbind device dev drv visible',
      'remove driver drv gone',
      'remove device dev gone',
    ]);
  });
});
