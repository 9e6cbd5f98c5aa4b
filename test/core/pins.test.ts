import { expect } from 'chai';
import { driverAttach, getDriver, PinError, putDriver, Bus, inspectDriver } from '../../src/core/index.ts';
import { CallLog, capturedModel, newToyBus, tick, toyBusType, toyDriver, ToyDevice } from './toy-bus.ts';

describe('core: pins (getDriver / putDriver)', () => {
  it('getDriver returns null unless the driver is registered', async () => {
    const { bus } = newToyBus();
    const calls = new CallLog();
    const drv = toyDriver(bus, 'd', [], calls, {
      registered() {
        // registering: still no pin
        expect(getDriver(drv)).to.equal(null);
      },
    });
    expect(getDriver(drv)).to.equal(null);
    await bus.registerDriver(drv);
    const pin = getDriver(drv);
    expect(pin).to.not.equal(null);
    putDriver(pin!);
    const unreg = bus.unregisterDriver(drv);
    expect(drv.state).to.equal('unregistering');
    expect(getDriver(drv)).to.equal(null);
    await unreg;
    expect(getDriver(drv)).to.equal(null);
  });

  it('a pin blocks unregistration until it is put back', async () => {
    const { bus } = newToyBus();
    const drv = toyDriver(bus, 'd', [], new CallLog());
    await bus.registerDriver(drv);
    const pin = getDriver(drv)!;
    let resolved = false;
    const unreg = bus.unregisterDriver(drv).then(() => (resolved = true));
    for (let i = 0; i < 5; i++) await tick();
    expect(resolved).to.equal(false);
    expect(drv.state).to.equal('unregistering');
    putDriver(pin);
    await unreg;
    expect(resolved).to.equal(true);
    expect(drv.state).to.equal('unregistered');
  });

  it('waits for every pin, however many, and concurrent unregistrations share one promise', async () => {
    const { bus } = newToyBus();
    const drv = toyDriver(bus, 'd', [], new CallLog());
    await bus.registerDriver(drv);
    const pins = [getDriver(drv)!, getDriver(drv)!, getDriver(drv)!];
    const a = bus.unregisterDriver(drv);
    const b = bus.unregisterDriver(drv);
    expect(a).to.equal(b);
    let done = false;
    void a.then(() => (done = true));
    putDriver(pins[0]!);
    putDriver(pins[2]!);
    await tick();
    expect(done).to.equal(false);
    putDriver(pins[1]!);
    await a;
    expect(done).to.equal(true);
  });

  it('`using` puts the pin back at the end of the scope', async () => {
    const { bus } = newToyBus();
    const drv = toyDriver(bus, 'd', [], new CallLog());
    await bus.registerDriver(drv);
    {
      using pin = getDriver(drv);
      expect(pin).to.not.equal(null);
      expect(inspectDriver(drv).pinCount).to.equal(1);
    }
    expect(inspectDriver(drv).pinCount).to.equal(0);
    {
      // explicit put inside a using scope: disposal does not put it twice
      using pin = getDriver(drv);
      putDriver(pin!);
    }
    expect(inspectDriver(drv).pinCount).to.equal(0);
    await bus.unregisterDriver(drv);
  });

  it('putting a pin back twice is a PinError naming the pin', async () => {
    const { bus } = newToyBus();
    const drv = toyDriver(bus, 'd', [], new CallLog());
    await bus.registerDriver(drv);
    const pin = getDriver(drv)!;
    putDriver(pin);
    expect(() => putDriver(pin)).to.throw(PinError, /already put back/);
    expect(inspectDriver(drv).pinCount).to.equal(0);
  });

  it('driverAttach holds its own pin: the caller putting its pin back mid-probe cannot let unregistration resolve', async () => {
    const { bus } = newToyBus();
    bus.autoprobe = false;
    const calls = new CallLog();
    let release!: () => void;
    const probing = new Promise<void>((r) => (release = r));
    const drv = toyDriver(bus, 'd', [{ vendor: 1, product: 2 }], calls, { probeDelay: () => probing });
    const dev = new ToyDevice('dev', 1, 2);
    await bus.addDevice(dev);
    await bus.registerDriver(drv);
    const pin = getDriver(drv)!;
    const attaching = driverAttach(pin);
    await tick();
    expect(calls.count('probe', 'd'), 'probe started').to.equal(1);
    putDriver(pin); // early: the attach is still probing
    let resolved = false;
    const unregistering = bus.unregisterDriver(drv).then(() => {
      resolved = true;
      calls.unregisterResolved('d');
    });
    await tick();
    expect(resolved, 'unregistration waits for the attach').to.equal(false);
    expect(inspectDriver(drv).pins.map((p) => p.takenAt)).to.deep.equal(['core:driverAttach']);
    release();
    expect(await attaching).to.equal(1);
    await unregistering;
    expect(calls.count('remove', 'd', 'dev'), 'remove ran before unregistration resolved').to.equal(1);
    expect(dev.driver).to.equal(null);
    expect(calls.violations).to.deep.equal([]);
    expect(inspectDriver(drv).pinCount).to.equal(0);
  });

  it('driverAttach through a returned pin is refused', async () => {
    const { bus } = newToyBus();
    const drv = toyDriver(bus, 'd', [], new CallLog());
    await bus.registerDriver(drv);
    const pin = getDriver(drv)!;
    putDriver(pin);
    let err: unknown;
    await driverAttach(pin).catch((e) => (err = e));
    expect(err).to.be.instanceOf(PinError);
  });

  it('logs which pins it waits for and where they were taken (call site in debug mode)', async () => {
    const { model, lines } = capturedModel('debug', 20);
    process.env.USB_HARNESS_DEBUG = '1';
    const bus = new Bus(toyBusType(), { model });
    const drv = toyDriver(bus, 'pinned', [], new CallLog());
    await bus.registerDriver(drv);
    const labelled = getDriver(drv, 'my-tool:scan')!;
    const traced = getDriver(drv)!;
    delete process.env.USB_HARNESS_DEBUG;
    const unreg = bus.unregisterDriver(drv);
    await new Promise((r) => setTimeout(r, 60));
    const reports = lines().filter((l) => l.msg === 'unregistration waits for pins to be put back');
    expect(reports.length).to.be.greaterThan(1); // the first report, then periodic ones
    const pins = reports[0]!.pins as { pin: number; takenAt: string }[];
    expect(pins.map((p) => p.pin)).to.have.members([labelled.id, traced.id]);
    expect(pins.find((p) => p.pin === labelled.id)!.takenAt).to.equal('my-tool:scan');
    expect(pins.find((p) => p.pin === traced.id)!.takenAt).to.match(/pins\.test\.ts/);
    putDriver(labelled);
    putDriver(traced);
    await unreg;
  });
});
