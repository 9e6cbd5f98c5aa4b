import { expect } from 'chai';
import { IdParseError, parseHexFields, inspectDriver } from '../../src/core/index.ts';
import { CallLog, newToyBus, toyDriver, ToyDevice } from './toy-bus.ts';

describe('core: dynamic IDs (new_id / remove_id)', () => {
  describe('strict parsing, errors that name the problem', () => {
    const fields = [
      { name: 'vendor', max: 0xffff },
      { name: 'product', max: 0xffff },
      { name: 'class', max: 0xff },
    ];
    const cases: [string, RegExp][] = [
      ['', /too few fields: got 0/],
      ['0403', /too few fields: got 1, expected 2 to 3/],
      ['0403 6001 ff 1', /too many fields: got 4/],
      ['04g3 6001', /vendor '04g3' is not hex/],
      ['0403 -1', /product '-1' is not hex/],
      ['10000 6001', /vendor 0x10000 is out of range \(max 0xffff\)/],
      ['0403 6001 100', /class 0x100 is out of range \(max 0xff\)/],
    ];
    for (const [input, problem] of cases) {
      it(`'${input}' -> ${problem.source}`, () => {
        expect(() => parseHexFields(input, fields, 2)).to.throw(IdParseError, problem);
      });
    }
    it('accepts hex with or without 0x, any white space, a trailing newline', () => {
      expect(parseHexFields(' 0x0403\t6001 ff\n', fields, 2)).to.deep.equal([0x403, 0x6001, 0xff]);
    });
  });

  it('rejects bad writes through the attribute with the typed error, storing nothing', async () => {
    const { bus, model } = newToyBus();
    const drv = toyDriver(bus, 'x', [{ vendor: 1, product: 1, info: 'ref' }], new CallLog());
    await bus.registerDriver(drv);
    for (const bad of ['1', '1 2 3 4 5', 'zz 1', '1 2 3', '1 2 9 9']) {
      const r = await model.attrs.write('bus/toy/drivers/x/new_id', bad);
      expect(r.ok, bad).to.equal(false);
      if (!r.ok) expect(r.error.code).to.equal('EINVAL');
    }
    const unknownRef = await model.attrs.write('bus/toy/drivers/x/new_id', '5 5 9 9');
    expect(!unknownRef.ok && unknownRef.error.message).to.match(/unknown reference entry 0009:0009/);
    expect(inspectDriver(drv).dynamicIds.length).to.equal(0);
  });

  it('new_id attaches under a pin; the reference entry lends its info; reads back; remove_id drops it', async () => {
    const { bus, model } = newToyBus();
    const calls = new CallLog();
    const seen: (string | undefined)[] = [];
    const drv = toyDriver(bus, 'x', [{ vendor: 1, product: 1, info: 'from-ref' }], calls, {
      probe(dev, id) {
        seen.push(id?.info);
        calls.noteBind(dev.name, 'x');
      },
    });
    await bus.registerDriver(drv);
    const d = new ToyDevice('oem', 0xabcd, 0x1234);
    await bus.addDevice(d);
    expect(d.driver).to.equal(null);
    const r = await model.attrs.write('bus/toy/drivers/x/new_id', 'abcd 1234 1 1');
    expect(r.ok).to.equal(true);
    expect(d.driver).to.equal(drv); // attached before the write answered
    expect(seen).to.deep.equal(['from-ref']);
    expect((await model.attrs.read('bus/toy/drivers/x/new_id'))).to.deep.include({ value: 'abcd 1234' });
    const dup = await model.attrs.write('bus/toy/drivers/x/new_id', 'abcd 1234');
    expect(!dup.ok && dup.error.code).to.equal('EEXIST');
    expect((await model.attrs.write('bus/toy/drivers/x/remove_id', 'abcd 1234')).ok).to.equal(true);
    expect(inspectDriver(drv).dynamicIds.length).to.equal(0);
    const gone = await model.attrs.write('bus/toy/drivers/x/remove_id', 'abcd 1234');
    expect(!gone.ok && gone.error.code).to.equal('ENODEV');
    // remove_id does not unbind (as in Linux); a new device no longer matches
    expect(d.driver).to.equal(drv);
    const d2 = new ToyDevice('oem2', 0xabcd, 0x1234);
    await bus.addDevice(d2);
    expect(d2.driver).to.equal(null);
  });

  it('dynamic IDs match before static ones', async () => {
    const { bus, model } = newToyBus();
    const ids: (string | undefined)[] = [];
    const drv = toyDriver(bus, 'x', [{ vendor: 1, info: 'static-wide' }, { vendor: 2, product: 2, info: 'ref' }], new CallLog(), {
      probe(_dev, id) {
        ids.push(id?.info);
      },
    });
    await bus.registerDriver(drv);
    await model.attrs.write('bus/toy/drivers/x/new_id', '1 5 2 2');
    await bus.addDevice(new ToyDevice('d', 1, 5));
    expect(ids).to.deep.equal(['ref']); // the dynamic entry (info copied from 2:2), not the static 1:*
  });

  it('every dynamic ID is freed when the driver unregisters', async () => {
    const { bus, model } = newToyBus();
    const drv = toyDriver(bus, 'x', [], new CallLog());
    await bus.registerDriver(drv);
    for (let i = 0; i < 5; i++) await model.attrs.write('bus/toy/drivers/x/new_id', `1 ${i}`);
    expect(inspectDriver(drv).dynamicIds.length).to.equal(5);
    await bus.unregisterDriver(drv);
    expect(inspectDriver(drv).dynamicIds.length).to.equal(0);
    await bus.registerDriver(drv);
    await bus.addDevice(new ToyDevice('d', 1, 3));
    expect(bus.getDevice('d')!.driver).to.equal(null); // the old dynamic ID did not survive
  });
});
