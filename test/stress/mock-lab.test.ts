// The built-in mock lab (mocks/lab.ts): dongles by name, wires that carry bytes only while
// powered, hubs whose port power switches what hangs from them, and hub control through it.
import { expect } from 'chai';
import { createMockLab } from '../../mocks/lab.ts';
import { defaultDriverSets } from '../../drivers/index.ts';
import { DriverModel } from '../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, usbSerialBusOf } from '../../src/serial/index.ts';
import { ForeignDeviceError, formatHubListing, HubControl, HubError } from '../../src/stress/index.ts';
import { UsbSubsystem } from '../../src/usb/index.ts';

describe('stress: the built-in mock lab', function () {
  this.timeout(20_000);

  it('has the bench the brief asks for, by name, and is what the CLI context needs', () => {
    const lab = createMockLab({ driverSets: defaultDriverSets() });
    expect(lab.dongles()).to.deep.equal(['ft232r', 'ft2232h', 'pl2303hx', 'ft232h', 'receiver', 'pl2303gc', 'custom-ftdi', 'custom-pl2303', 'cp2102', 'cp2105', 'ch340', 'uno']);
    const t = lab.topology();
    expect(t.dongles.map((d) => d.name)).to.not.include('receiver');
    expect(t.links.map((l) => l.id)).to.deep.equal([
      'ft232r>ft232r',
      'ft2232h.a>ft2232h.b',
      'ft2232h.b>ft2232h.a',
      'pl2303hx>ft232h',
      'ft232h>pl2303hx',
      'pl2303gc>pl2303gc',
      'custom-ftdi>custom-ftdi',
      'custom-pl2303>custom-pl2303',
      'cp2102>cp2102',
      'cp2105.a>cp2105.b',
      'cp2105.b>cp2105.a',
      'ch340>ch340',
      'uno>uno',
    ]);
    // The Uno's 16U2 firmware reports no input lines (its emulation profile says so); the rest do.
    const silent = t.dongles.flatMap((d) => d.ports).filter((p) => p.reportsInputLines === false).map((p) => p.slot);
    expect(silent).to.deep.equal(['uno']);
    expect(lab.driverSets.map((s) => `${s.name}:${s.specs.map((x) => x.name).join('+')}`)).to.deep.equal(['ftdi_sio:ftdi_sio', 'pl2303:pl2303', 'cp210x:cp210x', 'ch341:ch341', 'cdc_acm:cdc_acm']);
    expect(lab.newIds).to.deep.equal([
      { driver: 'ftdi_sio', id: '1209 7a01' },
      { driver: 'pl2303', id: '1209 7a02' },
    ]);
    expect(lab.isPlugged('ft232r')).to.equal(false);
    lab.plug('ft232r');
    expect(lab.isPlugged('ft232r')).to.equal(true);
    expect(lab.resources('ft232r').plugged).to.equal(true);
    lab.unplug('ft232r');
    expect(() => lab.plug('nope')).to.throw(/no dongle 'nope'/);
  });

  it('binds, carries bytes over the null-modem wires, and a wire goes dead while one end is unpowered', async () => {
    const lab = createMockLab({ driverSets: defaultDriverSets() });
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const regs = [];
    for (const s of lab.driverSets) regs.push(await registerUsbSerialDrivers(s.specs, s.name, s.ids, { usbBus: usb.bus }));
    lab.plugAll();
    await lab.flush();
    await usb.attachBackend(lab.backend);
    await usb.settled();
    const byDongle = (name: string) => usbSerialBusOf(usb.bus).listDevices().filter((p) => lab.dongleOf(p.serial.usbDevice.host) === name);
    expect(byDongle('ft2232h')).to.have.length(2);
    expect(byDongle('custom-ftdi'), 'custom IDs bind only through new_id').to.have.length(0);
    const [a] = byDongle('pl2303hx');
    const [b] = byDongle('ft232h');
    await a!.open({ baudRate: 115200 });
    await b!.open({ baudRate: 115200 });
    const got: number[] = [];
    b!.events.subscribe((e) => e.type === 'data' && got.push(...e.data));
    await a!.write(Uint8Array.from({ length: 300 }, (_, i) => i & 0xff));
    for (let i = 0; i < 200 && got.length < 300; i++) await new Promise((r) => setTimeout(r, 2));
    expect(got).to.deep.equal(Array.from({ length: 300 }, (_, i) => i & 0xff));
    expect(lab.wireCarries('pl2303hx')).to.equal(true);
    lab.unplug('ft232h');
    expect(lab.wireCarries('pl2303hx'), 'unpowered: the cable carries nothing').to.equal(false);
    expect(lab.uart('pl2303hx').inputs, 'an unpowered far end drives no lines').to.deep.include({ cts: false, dsr: false, dcd: false });
    lab.plug('ft232h');
    expect(lab.wireCarries('pl2303hx')).to.equal(true);
    // A powered UART nobody reads drops what it cannot hold; the sender is never held up.
    await a!.write(new Uint8Array(200_000).fill(0x33));
    expect(lab.droppedBytes).to.be.greaterThan(0);
    await a!.close();
    for (const r of regs) await deregisterUsbSerialDrivers(r);
    await usb.stop();
    await lab.close();
  });

  it('hub control: lists switchable hubs and the dongles behind them, switches port power, refuses foreign devices and ganged hubs', async () => {
    const lab = createMockLab({ driverSets: defaultDriverSets() });
    lab.plugAll();
    const ours = new Set(lab.topology().dongles.map((d) => d.name));
    const hc = new HubControl(lab.hubBackends, { isOurs: (h) => ours.has(lab.dongleOf(h) ?? ''), sysfsRoot: '' });
    const hubs = await hc.listHubs();
    expect(hubs.map((h) => `${h.name}:${h.descriptor?.powerSwitching}:${h.switchable}`)).to.deep.equal(['1-1:per-port:true', '2-1:ganged:false']);
    const h = hubs[0]!;
    expect(h.ports).to.have.length(7);
    expect(h.ports[1]).to.deep.include({ port: 2, powered: true, connected: true, allOurs: true });
    expect(h.ports[1]!.devices.map((d) => d.path)).to.deep.equal(['1-1.2']);
    expect(h.ports[4]!.allOurs).to.equal(false);
    expect(h.ports[5]!.devices).to.deep.equal([]);
    const listing = formatHubListing(hubs).join('\n');
    expect(listing).to.match(/hub 1-1 2001:f103 .*7 ports, per-port power switching/);
    expect(listing).to.match(/port 2: power on, 1-1\.2 0403:6010 .*\(ours\)  \[will cycle by hub-request\]/);
    expect(listing).to.match(/port 5: power on, 1-1\.5 046d:c52b .*\(NOT ours\)  \[refused without --force\]/);
    expect(listing).to.match(/hub 2-1 .* ganged power switching -- not switchable/);

    await hc.setPortPower('1-1', 2, false);
    expect(lab.isPlugged('ft2232h')).to.equal(false);
    expect((await hc.findHub('1-1')).ports[1]).to.deep.include({ powered: false, connected: false });
    await hc.setPortPower('1-1', 2, true);
    expect(lab.isPlugged('ft2232h')).to.equal(true);
    let err = await hc.setPortPower('1-1', 5, false).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ForeignDeviceError);
    expect(lab.isPlugged('receiver')).to.equal(true);
    await hc.setPortPower('1-1', 5, false, { force: true });
    expect(lab.isPlugged('receiver')).to.equal(false);
    await hc.setPortPower('1-1', 5, true);
    err = await hc.setPortPower('2-1', 1, false).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(HubError);
    expect((err as Error).message).to.match(/does not report per-port power switching \(ganged\)/);
    err = await hc.setPortPower('1-1', 9, false).catch((e: unknown) => e);
    expect((err as Error).message).to.match(/has ports 1\.\.7, not 9/);
    expect(lab.isPlugged('pl2303gc')).to.equal(true);
    await lab.close();
  });
});
