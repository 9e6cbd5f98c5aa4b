// A property over generated interleavings of everything that can happen to drivers and devices
// at once. fast-check's scheduler decides the order in which every pending step resumes; a
// failure prints the seed and the shrunk schedule.
import { expect } from 'chai';
import fc from 'fast-check';
import {
  CoreError,
  driverAttach,
  getDriver,
  PinError,
  putDriver,
  RegistrationError,
  type Driver,
  inspectDriver,
} from '../../src/core/index.ts';
import { CallLog, newToyBus, toyDriver, ToyDevice, type ToyId } from './toy-bus.ts';

type Op =
  | { op: 'register'; drv: number }
  | { op: 'unregister'; drv: number }
  | { op: 'attach'; drv: number }
  | { op: 'hold'; drv: number }
  | { op: 'newId'; drv: number; vendor: number; product: number }
  | { op: 'removeId'; drv: number; vendor: number; product: number }
  | { op: 'bind'; drv: number; dev: number }
  | { op: 'unbind'; drv: number; dev: number }
  | { op: 'add'; dev: number }
  | { op: 'remove'; dev: number };

const DRIVERS = 3;
const DEVICES = 4;
const drvArb = fc.integer({ min: 0, max: DRIVERS - 1 });
const devArb = fc.integer({ min: 0, max: DEVICES - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('register' as const), drv: drvArb }),
  fc.record({ op: fc.constant('unregister' as const), drv: drvArb }),
  fc.record({ op: fc.constant('attach' as const), drv: drvArb }),
  fc.record({ op: fc.constant('hold' as const), drv: drvArb }),
  fc.record({ op: fc.constant('newId' as const), drv: drvArb, vendor: fc.integer({ min: 1, max: 3 }), product: devArb }),
  fc.record({ op: fc.constant('removeId' as const), drv: drvArb, vendor: fc.integer({ min: 1, max: 3 }), product: devArb }),
  fc.record({ op: fc.constant('bind' as const), drv: drvArb, dev: devArb }),
  fc.record({ op: fc.constant('unbind' as const), drv: drvArb, dev: devArb }),
  fc.record({ op: fc.constant('add' as const), dev: devArb }),
  fc.record({ op: fc.constant('remove' as const), dev: devArb }),
);

/** Errors the core answers misuse with are fine; anything else is a bug. */
function expected(err: unknown): boolean {
  return err instanceof CoreError || err instanceof RegistrationError || err instanceof PinError;
}

describe('core: property over generated interleavings', function () {
  this.timeout(120_000);

  it('keeps every invariant across 1,000 interleavings', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), fc.array(opArb, { minLength: 1, maxLength: 14 }), async (s, ops) => {
          const { bus, model } = newToyBus('prop');
          const calls = new CallLog();
          const yieldTo = (label: string) => s.schedule(Promise.resolve(), label);
          // Driver i matches vendor i+1 statically; devices have vendor (dev % 3) + 1.
          const drivers: Driver<ToyDevice, ToyId>[] = [];
          for (let i = 0; i < DRIVERS; i++) {
            const name = `drv${i}`;
            drivers.push(
              toyDriver(bus, name, [{ vendor: i + 1 }], calls, {
                async probe(dev) {
                  calls.record('probe', name, dev.name);
                  await yieldTo(`probe ${name} ${dev.name}`);
                  calls.noteBind(dev.name, name);
                },
                async remove(dev) {
                  calls.record('remove', name, dev.name);
                  await yieldTo(`remove ${name} ${dev.name}`);
                  calls.noteUnbind(dev.name);
                },
              }),
            );
          }
          const devices = new Map<number, ToyDevice>();
          let gen = 0;
          const unexpected: unknown[] = [];
          const run = async (o: Op) => {
            const drv = 'drv' in o ? drivers[o.drv]! : undefined;
            switch (o.op) {
              case 'register':
                calls.registering(drv!.name);
                await bus.registerDriver(drv!);
                return;
              case 'unregister':
                await bus.unregisterDriver(drv!);
                if (drv!.state === 'unregistered') calls.unregisterResolved(drv!.name);
                return;
              case 'attach': {
                const pin = getDriver(drv!);
                if (!pin) return;
                try {
                  await yieldTo(`attach ${drv!.name}`);
                  await driverAttach(pin);
                } finally {
                  putDriver(pin);
                }
                return;
              }
              case 'hold': {
                using pin = getDriver(drv!);
                if (pin) await yieldTo(`hold ${drv!.name}`);
                return;
              }
              case 'newId': {
                const r = await model.attrs.write(`bus/prop/drivers/${drv!.name}/new_id`, `${o.vendor} ${o.product}`);
                if (!r.ok && !expected(r.error)) unexpected.push(r.error);
                return;
              }
              case 'removeId': {
                const r = await model.attrs.write(`bus/prop/drivers/${drv!.name}/remove_id`, `${o.vendor} ${o.product}`);
                if (!r.ok && !expected(r.error)) unexpected.push(r.error);
                return;
              }
              case 'bind':
              case 'unbind': {
                const dev = devices.get(o.dev);
                if (!dev) return;
                const r = await model.attrs.write(`bus/prop/drivers/${drv!.name}/${o.op}`, dev.name);
                if (!r.ok && !expected(r.error)) unexpected.push(r.error);
                return;
              }
              case 'add': {
                if (devices.has(o.dev)) return;
                const dev = new ToyDevice(`d${o.dev}g${gen++}`, (o.dev % 3) + 1, o.dev);
                devices.set(o.dev, dev);
                await bus.addDevice(dev);
                return;
              }
              case 'remove': {
                const dev = devices.get(o.dev);
                if (!dev) return;
                devices.delete(o.dev);
                await bus.removeDevice(dev);
                return;
              }
            }
          };
          const tasks = ops.map((o, i) =>
            s
              .schedule(Promise.resolve(), `start #${i} ${JSON.stringify(o)}`)
              .then(() => run(o))
              .catch((e) => {
                if (!expected(e)) unexpected.push(e);
              }),
          );
          // Let the scheduler release steps until the work is done; a bounded number of rounds
          // with nothing left to schedule means a deadlock.
          const drain = async (work: Promise<unknown>, what: string) => {
            let done = false;
            void work.then(() => (done = true));
            for (let round = 0; !done; round++) {
              expect(round, `${what} finished (no deadlock)`).to.be.below(50);
              await s.waitAll();
              await model.settled();
              await new Promise((r) => setImmediate(r));
            }
          };
          await drain(Promise.all(tasks), 'every operation');

          // Tear down, then check what must hold after any schedule.
          const teardown = (async () => {
            for (const d of drivers) {
              if (d.state === 'registered') {
                await bus.unregisterDriver(d);
                calls.unregisterResolved(d.name);
              }
            }
            for (const dev of devices.values()) await bus.removeDevice(dev);
          })();
          await drain(teardown, 'teardown');

          expect(unexpected, 'only typed errors').to.deep.equal([]);
          expect(calls.violations, 'no method after unregistration, one driver per device, removes paired').to.deep.equal([]);
          for (const d of drivers) {
            expect(inspectDriver(d).pinCount, `pins left on ${d.name}`).to.equal(0);
            expect(inspectDriver(d).dynamicIds.length, `dynamic IDs left on ${d.name}`).to.equal(0);
            expect(inspectDriver(d).boundDevices.length, `devices left bound to ${d.name}`).to.equal(0);
          }
          const binds = calls.calls.filter((c) => c.method === 'probe').length;
          expect(calls.count('remove')).to.be.at.most(binds);
          // every bind (noteBind) was followed by exactly one remove (noteUnbind) — CallLog tracks
          // this per device; nothing may be left bound at the end.
          expect(bus.listDevices()).to.deep.equal([]);
        }),
        { numRuns: 1000 },
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled, 'no unhandled rejection').to.deep.equal([]);
  });
});
