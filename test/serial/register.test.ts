import { expect } from 'chai';
import fc from 'fast-check';
import { CoreError, DriverModel, type Uevent, inspectDriver } from '../../src/core/index.ts';
import {
  deregisterUsbSerialDrivers,
  registerUsbSerialDrivers,
  UsbSerialRegistrationError,
  usbSerialBusOf,
  type UsbSerialRegistration,
} from '../../src/serial/index.ts';
import { UsbSubsystem, usbDevice } from '../../src/usb/index.ts';
import { FakeBackend } from '../usb/fake-backend.ts';
import { recordingSpec, SerialCalls } from './helpers.ts';

async function lab() {
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const backend = new FakeBackend();
  await usb.attachBackend(backend);
  return { usb, backend, model: usb.model, usbBus: usb.bus, serialBus: usbSerialBusOf(usb.bus) };
}

describe('usb-serial: two-level registration', () => {
  it('registers the usb driver (no IDs) first, then each serial driver, then IDs and attach', async () => {
    const { usb, backend, model, usbBus } = await lab();
    const calls = new SerialCalls();
    const order: string[] = [];
    model.uevents.subscribe((e: Uevent) => {
      if (e.kind === 'driver' || e.action === 'bind') order.push(`${e.action} ${e.bus}:${e.driver ?? e.name}`);
    });
    backend.plug({ vendorId: 0x0403, productId: 0x6001, port: [1] });
    await usb.settled();
    const reg = await registerUsbSerialDrivers(
      [recordingSpec('ser_a', [usbDevice(0x0403, 0x6001)], calls), recordingSpec('ser_b', [usbDevice(0x067b, 0x2303)], calls)],
      'combo',
      [usbDevice(0x0403, 0x6001), usbDevice(0x067b, 0x2303)],
      { usbBus },
    );
    expect(order).to.deep.equal([
      'add usb:combo',
      'add usb-serial:ser_a',
      'add usb-serial:ser_b',
      'bind usb-serial:ser_a', // the port, bound during the adapter's probe
      'bind usb:combo', // the interface, once its probe returned
    ]);
    expect(calls.calls).to.deep.equal(['ser_a probe 1-1:1.0', 'ser_a attach 1-1:1.0', 'ser_a portProbe ttyUSB0']);
    expect(reg.ports().map((p) => p.name)).to.deep.equal(['ttyUSB0']);
    expect(model.attrs.list('bus/usb-serial/drivers/ser_a')).to.deep.equal(['new_id', 'remove_id']); // no bind/unbind
    expect(model.attrs.list('bus/usb/drivers/combo')).to.deep.equal(['bind', 'unbind']); // no new_id of its own; bind/unbind as Linux
    await deregisterUsbSerialDrivers(reg);
  });

  it('deregistration releases adapters while the serial drivers are still registered; nothing runs after', async () => {
    const { usb, backend, usbBus, serialBus } = await lab();
    const calls = new SerialCalls();
    const reg = await registerUsbSerialDrivers([recordingSpec('ser_a', [usbDevice(1, 1)], calls)], 'one', [usbDevice(1, 1)], { usbBus });
    const host = backend.plug({ vendorId: 1, productId: 1 });
    await usb.settled();
    await deregisterUsbSerialDrivers(reg);
    calls.markDeregistered(['ser_a']);
    expect(calls.calls.slice(-3)).to.deep.equal(['ser_a disconnect 1-0:1.0'.replace('1-0', host.key), 'ser_a portRemove ttyUSB0', 'ser_a release ' + `${host.key}:1.0`]);
    expect(reg.state).to.equal('deregistered');
    expect(serialBus.listDrivers()).to.deep.equal([]);
    expect(usbBus.findDriver('one')).to.equal(undefined);
    expect(serialBus.minors.inUse).to.equal(0);
    backend.unplug(host);
    backend.plug({ vendorId: 1, productId: 1 });
    await usb.settled();
    expect(calls.violations).to.deep.equal([]);
    const again = await deregisterUsbSerialDrivers(reg).catch((e) => e);
    expect(again).to.be.instanceOf(CoreError);
  });

  it('a failure at any step rolls back completely: nothing registered, zero dynamic IDs', async () => {
    const { model, usbBus, serialBus } = await lab();
    const calls = new SerialCalls();
    const first = await registerUsbSerialDrivers([recordingSpec('taken', [usbDevice(1, 1)], calls)], 'first', [usbDevice(1, 1)], { usbBus });
    // The usb driver's name is taken: fails at step 1.
    let err = await registerUsbSerialDrivers([recordingSpec('fresh', [], calls)], 'first', [], { usbBus }).catch((e) => e);
    expect(err).to.be.instanceOf(UsbSerialRegistrationError);
    expect(serialBus.findDriver('fresh')).to.equal(undefined);
    // The second serial driver's name is taken: fails at step 2, after new_id was written to the first.
    const sub = model.uevents.subscribe((e) => {
      if (e.kind === 'driver' && e.action === 'add' && e.name === 'early') void model.attrs.write(`${e.path}/new_id`, '1234 5678');
    });
    err = await registerUsbSerialDrivers(
      [recordingSpec('early', [], calls), recordingSpec('taken', [], calls)],
      'second',
      [usbDevice(2, 2)],
      { usbBus },
    ).catch((e) => e);
    sub.unsubscribe();
    expect(err).to.be.instanceOf(UsbSerialRegistrationError);
    expect((err as UsbSerialRegistrationError).failedDriver).to.equal('taken');
    expect(usbBus.findDriver('second')).to.equal(undefined);
    expect(serialBus.findDriver('early')).to.equal(undefined);
    expect(model.attrs.has('bus/usb-serial/drivers/early')).to.equal(false);
    const leftovers = [...usbBus.listDrivers(), ...serialBus.listDrivers()].reduce((n, d) => n + inspectDriver(d).dynamicIds.length, 0);
    expect(leftovers, 'no dynamic ID anywhere').to.equal(0);
    expect(serialBus.findDriver('taken')!.state).to.equal('registered'); // the first registration is untouched
    await deregisterUsbSerialDrivers(first);
  });

  it("a serial driver's new_id forwards to its usb driver while both are registered, and refuses once the usb driver is gone", async () => {
    const { usb, backend, model, usbBus } = await lab();
    const calls = new SerialCalls();
    const reg = await registerUsbSerialDrivers([recordingSpec('ser', [usbDevice(1, 1, 'ref-info')], calls)], 'fwd', [usbDevice(1, 1)], { usbBus });
    backend.plug({ vendorId: 0xabcd, productId: 0x0001 });
    await usb.settled();
    const r = await model.attrs.write('bus/usb-serial/drivers/ser/new_id', 'abcd 0001 ff 0001 0001');
    expect(r.ok).to.equal(true);
    expect(calls.count(/ser probe/)).to.equal(1);
    expect(reg.adapters()[0]!.id).to.deep.include({ vendor: 0xabcd, driverInfo: 'ref-info' });
    expect(inspectDriver(reg.usbDriver).dynamicIds.length).to.equal(1);
    const bad = await model.attrs.write('bus/usb-serial/drivers/ser/new_id', 'abcd');
    expect(!bad.ok && bad.error.message).to.match(/too few fields/);
    // remove_id drops it on both levels
    expect((await model.attrs.write('bus/usb-serial/drivers/ser/remove_id', 'abcd 0001')).ok).to.equal(true);
    expect(inspectDriver(reg.usbDriver).dynamicIds.length).to.equal(0);
    // During deregistration the usb driver goes first: the serial driver's new_id is refused clearly.
    let answer: unknown;
    const sub = model.uevents.subscribe((e) => {
      if (e.kind === 'driver' && e.action === 'remove' && e.name === 'fwd') {
        void model.attrs.write('bus/usb-serial/drivers/ser/new_id', '1111 2222').then((x) => (answer = x));
      }
    });
    await deregisterUsbSerialDrivers(reg);
    sub.unsubscribe();
    await new Promise((r2) => setImmediate(r2));
    expect(answer).to.deep.include({ ok: false });
    expect((answer as { error: Error }).error.message).to.match(/usb driver 'fwd' is not registered/);
    expect(inspectDriver(reg.serialDrivers[0]!).dynamicIds.length).to.equal(0);
  });

  // The seed's crash: udev writes new_id the instant the serial driver's attribute appears.
  it('new_id at every point of registration, with failures, plugs and unplugs: no crash, no leak, bound once', async function () {
    this.timeout(120_000);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            writeDelay: fc.integer({ min: 0, max: 60 }), // microtask turns between the uevent and the write
            failAt: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }), // serial driver whose registration fails
            plugAt: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
            unplugAfter: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
            deregisterDelay: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
            writeTo: fc.integer({ min: 0, max: 2 }),
          }),
          async (p) => {
            const { usb, backend, model, usbBus, serialBus } = await lab();
            const calls = new SerialCalls();
            const names = ['s0', 's1', 's2'];
            const specs = names.map((n, i) =>
              recordingSpec(n, [usbDevice(0x0403, 0x6000 + i)], calls, {
                attach: async (serial) => {
                  calls.record(n, `attach ${serial.intf.name}`);
                  await Promise.resolve();
                  return 1;
                },
              }),
            );
            if (p.failAt !== undefined) {
              // Make that serial driver's registration fail: its name is taken on the bus already.
              const blocker = await registerUsbSerialDrivers([recordingSpec(names[p.failAt]!, [], calls)], `blocker`, [], { usbBus });
              void blocker;
            }
            const turns = async (n: number) => {
              for (let i = 0; i < n; i++) await Promise.resolve();
            };
            const writes: Promise<unknown>[] = [];
            const sub = model.uevents.subscribe((e) => {
              if (e.kind === 'driver' && e.action === 'add' && e.name === names[p.writeTo]) {
                writes.push(turns(p.writeDelay).then(() => model.attrs.write(`${e.path}/new_id`, 'abcd 1234')));
              }
            });
            const side: Promise<unknown>[] = [];
            let host: ReturnType<FakeBackend['plug']> | undefined;
            if (p.plugAt !== undefined) {
              side.push(
                turns(p.plugAt).then(async () => {
                  host = backend.plug({ vendorId: 0xabcd, productId: 0x1234 });
                  if (p.unplugAfter !== undefined) {
                    await turns(p.unplugAfter);
                    backend.unplug(host);
                    host = undefined;
                  }
                }),
              );
            }
            let reg: UsbSerialRegistration | undefined;
            let regErr: unknown;
            const registering = registerUsbSerialDrivers(specs, 'seed', [usbDevice(0x0403, 0x6000)], { usbBus }).then(
              (r) => (reg = r),
              (e) => (regErr = e),
            );
            if (p.deregisterDelay !== undefined) {
              side.push(
                registering.then(async () => {
                  await turns(p.deregisterDelay!);
                  if (reg) await deregisterUsbSerialDrivers(reg);
                  calls.markDeregistered(names);
                }),
              );
            }
            await registering;
            await Promise.all(side);
            const results = (await Promise.all(writes)) as { ok: boolean; error?: unknown }[];
            await usb.settled();
            sub.unsubscribe();

            for (const r of results) if (!r.ok) expect(r.error, 'only typed errors').to.be.instanceOf(CoreError);
            if (regErr) {
              expect(regErr).to.be.instanceOf(UsbSerialRegistrationError);
              expect(calls.count(/ probe /), 'nothing probed through a failed registration').to.equal(0);
            } else if (reg && reg.state === 'registered' && host && results.some((r) => r.ok)) {
              // the device matching the new ID is bound, exactly once
              expect(calls.count(/ probe /)).to.equal(1);
              expect(reg.adapters()).to.have.length(1);
            }
            if (reg && reg.state === 'registered') await deregisterUsbSerialDrivers(reg);
            calls.markDeregistered(names);
            if (host) backend.unplug(host);
            await usb.settled();
            expect(calls.count(/ probe /)).to.equal(calls.count(/ release /)); // paired
            expect(calls.violations).to.deep.equal([]);
            for (const d of [...usbBus.listDrivers(), ...serialBus.listDrivers()]) {
              if (d.name === 'blocker' || names.includes(d.name)) continue;
              expect.fail(`driver ${d.name} left registered`);
            }
            const dyn = [...usbBus.listDrivers(), ...serialBus.listDrivers()].reduce((n, d) => n + inspectDriver(d).dynamicIds.length, 0);
            expect(dyn, 'no dynamic ID left').to.equal(0);
            for (const d of [reg?.usbDriver, ...(reg?.serialDrivers ?? [])]) if (d) expect(inspectDriver(d).pinCount).to.equal(0);
            expect(serialBus.minors.inUse).to.equal(0);
          },
        ),
        { numRuns: 400 },
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).to.deep.equal([]);
  });
});
