// The composition root (src/stack.ts): a stack on the mock lab with the default driver sets,
// its teardown, and the teardown of what was set up when building fails part-way.
import { expect } from 'chai';
import { DriverModel, inspectDriver } from '../src/core/index.ts';
import { AmbiguousPortError } from '../src/serial/port-resolver.ts';
import { UsbSerialRegistrationError } from '../src/serial/register.ts';
import { createStack } from '../src/stack.ts';
import { NoUsbSubsystemError, type HostBackend } from '../src/usb/host.ts';
import { defaultDriverSets } from '../drivers/index.ts';
import { createMockLab } from '../mocks/lab.ts';

/** A backend on a machine without USB: it cannot list devices. */
function noUsbBackend(): HostBackend & { closed: number } {
  return {
    name: 'none',
    closed: 0,
    getDevices: () => Promise.reject(new NoUsbSubsystemError('none', 'no /sys/bus/usb')),
    watch: () => Promise.resolve(() => undefined),
    async close() {
      this.closed++;
    },
  };
}

describe('stack: createStack', () => {
  it('registers the default driver sets on the mock lab: every dongle of ours gets its ports; close leaves nothing behind', async () => {
    const lab = createMockLab({ driverSets: defaultDriverSets() });
    lab.plugAll();
    await lab.flush();
    const stack = await createStack({ host: lab.backend, driverSets: lab.driverSets, closeHost: false });
    expect(stack.registrations.map((r) => r.name)).to.deep.equal(['ftdi_sio', 'pl2303', 'cp210x', 'ch341', 'cdc_acm']);
    // FT232R, FT2232H (2), PL2303HX, FT232H, PL2303GC, CP2102, CP2105 (2), CH340, the Uno's CDC-ACM function; the custom-ID boards bind only through new_id.
    expect(stack.ports().map((p) => p.name)).to.deep.equal(Array.from({ length: 11 }, (_, i) => `ttyUSB${i}`));
    expect(stack.findPort('LABFT232R').stablePath).to.equal('serial:LABFT232R:if0');
    expect(() => stack.findPort('LABFT2232H'), 'a two-port adapter').to.throw(AmbiguousPortError, "'LABFT2232H' names 2 usb-serial ports");
    expect(stack.findPort('serial:LABFT2232H:if1').serial.intf.interfaceNumber).to.equal(1);
    const drivers = [...stack.registrations].flatMap((r) => [r.usbDriver, ...r.serialDrivers]);
    await stack.close();
    await stack.close(); // idempotent
    expect(stack.registrations).to.deep.equal([]);
    expect(drivers.every((d) => d.state === 'unregistered' && inspectDriver(d).pinCount === 0)).to.equal(true);
    expect(stack.usb.bus.listDevices()).to.deep.equal([]);
    for (const name of lab.dongles()) expect(lab.resources(name), name).to.include({ opened: false, pendingTransfers: 0 }).and.to.have.property('claimedInterfaces').that.deep.equals([]);
    await lab.close();
  });

  it("'host-first' attaches the host before registering: drivers registered later bind what is already there", async () => {
    const lab = createMockLab({ driverSets: defaultDriverSets() });
    lab.plugAll();
    await lab.flush();
    const stack = await createStack({ host: lab.backend, order: 'host-first', closeHost: false });
    expect(stack.usb.bus.listDevices().length).to.be.greaterThan(0);
    expect(stack.ports()).to.deep.equal([]);
    const reg = await stack.register(lab.driverSets[1]!);
    await stack.settled();
    expect(stack.ports().map((p) => p.typeName)).to.deep.equal(['pl2303', 'pl2303']);
    await stack.deregister(reg);
    expect(stack.ports()).to.deep.equal([]);
    expect(await stack.deregister(reg).catch((e: unknown) => e)).to.have.property('code', 'ENODEV');
    await stack.close();
    await lab.close();
  });

  it('attachHost: false registers now and attaches when asked (once); a closed stack refuses to attach', async () => {
    const lab = createMockLab({ driverSets: defaultDriverSets() });
    const model = new DriverModel();
    const stack = await createStack({ host: lab.backend, model, driverSets: [lab.driverSets[1]!], attachHost: false, closeHost: false });
    expect(stack.model).to.equal(model);
    expect(stack.registrations.map((r) => r.name)).to.deep.equal(['pl2303']);
    lab.plugAll();
    await lab.flush();
    await stack.settled();
    expect(stack.usb.bus.listDevices(), 'nothing enumerates before the host is attached').to.deep.equal([]);
    await Promise.all([stack.attachHost(), stack.attachHost()]);
    await stack.attachHost();
    await stack.settled();
    expect(stack.ports().map((p) => p.typeName)).to.deep.equal(['pl2303', 'pl2303']);
    await stack.close();
    expect(await stack.attachHost().catch((e: unknown) => e)).to.have.property('code', 'ENODEV');
    await lab.close();
  });

  it('attachHost: false with a host that cannot start: attachHost rejects with its error, close still tears down', async () => {
    const host = noUsbBackend();
    const model = new DriverModel();
    const stack = await createStack({ host, model, driverSets: defaultDriverSets(), attachHost: false });
    expect(await stack.attachHost().catch((e: unknown) => e)).to.be.instanceOf(NoUsbSubsystemError);
    await stack.close();
    expect(host.closed).to.equal(1);
    expect(model.attrs.list('bus/usb/drivers')).to.deep.equal([]);
  });

  it('a registration that fails undoes the ones before it and rejects', async () => {
    const lab = createMockLab({ driverSets: defaultDriverSets() });
    const model = new DriverModel();
    const [ftdi] = defaultDriverSets();
    const err = await createStack({ host: lab.backend, model, driverSets: [ftdi!, ftdi!], closeHost: false }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UsbSerialRegistrationError);
    expect(model.attrs.list('bus/usb/drivers'), 'usb drivers left').to.deep.equal([]);
    expect(model.attrs.list('bus/usb-serial/drivers'), 'serial drivers left').to.deep.equal([]);
    await lab.close();
  });

  it('a host that cannot start undoes the registrations, closes the host and rejects with its error', async () => {
    const host = noUsbBackend();
    const model = new DriverModel();
    const err = await createStack({ host, model, driverSets: defaultDriverSets() }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(NoUsbSubsystemError);
    expect(host.closed).to.equal(1);
    expect(model.attrs.list('bus/usb/drivers')).to.deep.equal([]);
  });
});

describe('stack: from the package root', () => {
  it('exports createStack and the default driver sets', async () => {
    const api = await import('../src/index.ts');
    expect(api.createStack).to.be.a('function');
    expect(api.defaultDriverSets().map((s) => s.name)).to.deep.equal(['ftdi_sio', 'pl2303', 'cp210x', 'ch341', 'cdc_acm']);
  });
});
