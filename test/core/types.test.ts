// Type-level guarantees: `npm test` runs tsc over this file first, and each @ts-expect-error
// below must meet a real type error, or tsc fails ("unused @ts-expect-error directive").
import { expect } from 'chai';
import { driverAttach, getDriver, putDriver, DriverPin } from '../../src/core/index.ts';
import { CallLog, newToyBus, toyDriver } from './toy-bus.ts';

// Never called: it only has to type-check (or fail to, where marked).
async function wrongUses(): Promise<void> {
  const { bus } = newToyBus('types');
  const drv = toyDriver(bus, 'd', [], new CallLog());

  // @ts-expect-error attaching a driver needs a pin, not the driver itself
  await driverAttach(drv);

  // @ts-expect-error getDriver may return null: the check cannot be forgotten
  await driverAttach(getDriver(drv));

  // @ts-expect-error putDriver takes a pin, and null is not one
  putDriver(getDriver(drv));

  // @ts-expect-error pins are not made by hand (the constructor wants a private token)
  new DriverPin(drv, 'x', Symbol('pin'));

  const pin = getDriver(drv);
  if (pin) {
    await driverAttach(pin); // fine: checked and pinned
    putDriver(pin);
  }
}

describe('core: types', () => {
  it('wrong uses are compile errors (checked by tsc in npm test)', () => {
    expect(wrongUses).to.be.a('function');
  });

  it('a hand-made pin is also refused at run time', () => {
    const { bus } = newToyBus('types-rt');
    const drv = toyDriver(bus, 'd', [], new CallLog());
    expect(() => new (DriverPin as unknown as new (...a: unknown[]) => unknown)(drv, 'x', Symbol('pin'))).to.throw(/getDriver/);
  });
});
