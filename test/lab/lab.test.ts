// The lab driving usbip on the importing host (against a stand-in for the tool and the kernel):
// what each host offers, attaching and which local port each dongle became, detaching, serial
// numbers and hubs resolved, and errors that say what to do.
import { expect } from 'chai';
import { Lab, LabError, labFromJson, UsbipCommandError } from '../../src/lab/index.ts';
import { FakeUsbip } from './fake-usbip.ts';

function twoHostLab() {
  const fake = new FakeUsbip();
  fake.addHost('10.0.0.5', [
    { busid: '1-1.1', vendorId: 0x0403, productId: 0x6001, serial: 'FTA' },
    { busid: '1-1.2', vendorId: 0x067b, productId: 0x2303, serial: 'PLB' },
    { busid: '2-1', vendorId: 0x0403, productId: 0x6001, serial: 'FTC' },
  ]);
  fake.addHost('10.0.0.6', [{ busid: '1-4', vendorId: 0x0403, productId: 0x6015 }], 3241);
  const lab = new Lab(
    labFromJson({
      hosts: [
        { name: 'rack1', address: '10.0.0.5', hubs: [{ busid: '1-1' }], dongles: [{ serial: 'FTC', name: 'gps' }], exporter: { via: [] } },
        { name: 'rack2', address: '10.0.0.6', port: 3241, dongles: [{ busid: '1-4' }] },
      ],
    }),
    { run: fake.run, enumerateMs: 200 },
  );
  return { fake, lab };
}

describe('lab: attach, list and detach through usbip', () => {
  it('resolves serial numbers through the exporter and hubs to the devices below them', async () => {
    const { lab } = twoHostLab();
    const dongles = await lab.resolve();
    expect(dongles.map((d) => [d.name, d.host.name, d.busid, d.hub ?? null])).to.deep.equal([
      ['gps', 'rack1', '2-1', null],
      ['rack1/1-1.1', 'rack1', '1-1.1', 'rack1/hub-1-1'],
      ['rack1/1-1.2', 'rack1', '1-1.2', 'rack1/hub-1-1'],
      ['rack2/1-4', 'rack2', '1-4', null],
    ]);
  });

  it('lists what each host offers, which lab dongle each is, and a host that does not answer', async () => {
    const { fake, lab } = twoHostLab();
    fake.hosts[1]!.net = 'refused';
    const [a, b] = await lab.list();
    expect(a!.reachable).to.equal(true);
    expect(a!.offered.map((d) => [d.busid, d.dongle])).to.deep.equal([
      ['1-1.1', 'rack1/1-1.1'],
      ['1-1.2', 'rack1/1-1.2'],
      ['2-1', 'gps'],
    ]);
    expect(b).to.deep.include({ host: 'rack2', reachable: false, offered: [] });
    expect(b!.error).to.match(/usbip --tcp-port 3241 list -r 10\.0\.0\.6 failed \(exit 1\): usbip: error: could not connect to 10\.0\.0\.6:3241/);
  });

  it('attaches every dongle once, and says which vhci port and local bus ID each became', async () => {
    const { fake, lab } = twoHostLab();
    const { attached, failed } = await lab.attach();
    expect(failed).to.deep.equal([]);
    expect(attached.map((a) => [a.dongle, a.vhciPort, a.localBusid, a.remoteBusid])).to.deep.equal([
      ['gps', 0, '3-1', '2-1'],
      ['rack1/1-1.1', 1, '3-2', '1-1.1'],
      ['rack1/1-1.2', 2, '3-3', '1-1.2'],
      ['rack2/1-4', 3, '3-4', '1-4'],
    ]);
    expect(fake.calls.filter((c) => c[1] === 'attach' || c[3] === 'attach')).to.have.length(4);
    // Attaching again attaches nothing new; a hub's imported devices still count as the lab's.
    const again = await lab.attach();
    expect(again.attached).to.have.length(4);
    expect(fake.calls.filter((c) => c.includes('attach'))).to.have.length(4);
  });

  it('an attach whose import is still enumerating (usbip port fails meanwhile) waits for it instead of calling vhci_hcd missing', async () => {
    const { fake, lab } = twoHostLab();
    fake.enumeratingPortCalls = 2;
    const { attached, failed } = await lab.attach(['gps']);
    expect(failed).to.deep.equal([]);
    expect(attached.map((a) => [a.dongle, a.localBusid])).to.deep.equal([['gps', '3-1']]);
    expect(fake.calls.filter((c) => c[1] === 'port')).to.have.length(5); // resolve, before, 2 failures, the answer
    // Past the deadline the failure is reported, with what to do.
    fake.enumeratingPortCalls = 1000;
    await lab.attach(['rack2']).then(
      () => expect.fail('resolved'),
      (err: unknown) => expect(err).to.be.instanceOf(LabError).with.property('message').that.matches(/list imported devices/),
    );
  });

  it('attaches the named dongles or hosts only, and reports one that fails without stopping the rest', async () => {
    const { fake, lab } = twoHostLab();
    fake.hosts[1]!.devices[0]!.inUse = true; // someone else imported rack2's 1-4
    const { attached, failed } = await lab.attach(['gps', 'rack2']);
    expect(attached.map((a) => a.dongle)).to.deep.equal(['gps']);
    expect(failed).to.have.length(1);
    expect(failed[0]!.dongle).to.equal('rack2/1-4');
    expect(failed[0]!.error).to.match(/Device busy/);
  });

  it('detaches what it attached, and only that', async () => {
    const { fake, lab } = twoHostLab();
    await lab.attach();
    const gone = await lab.detach(['rack2/1-4', 'gps']);
    expect(gone.map((a) => a.dongle).sort()).to.deep.equal(['gps', 'rack2/1-4']);
    expect((await lab.attachments()).map((a) => a.dongle)).to.deep.equal(['rack1/1-1.1', 'rack1/1-1.2']);
    expect(fake.imports).to.have.length(2);
  });

  it('errors name the problem: an unknown dongle, a serial number nowhere, vhci_hcd not loaded', async () => {
    const { fake, lab } = twoHostLab();
    await lab.attach(['nope']).then(
      () => expect.fail('attached'),
      (err: unknown) => {
        expect(err).to.be.instanceOf(LabError);
        expect((err as Error).message).to.match(/no dongle or host 'nope' in the lab \(dongles: gps, rack1\/1-1\.1/);
      },
    );
    fake.hosts[0]!.devices[2]!.serial = 'OTHER';
    await lab.resolve().then(
      () => expect.fail('resolved'),
      (err: unknown) => expect((err as Error).message).to.equal("dongle 'gps': no device with serial number 'FTC' on host 'rack1'"),
    );
    fake.vhciLoaded = false;
    await lab.attachments([]).then(
      () => expect.fail('listed'),
      (err: unknown) => expect((err as Error).message).to.match(/load it first \(modprobe vhci-hcd\)/),
    );
  });

  it('a usbip that is not installed is a UsbipCommandError naming the command', async () => {
    const lab = new Lab(labFromJson({ hosts: [{ name: 'a', address: '10.1.1.1', dongles: [{ busid: '1-1' }] }] }), {
      run: async () => ({ code: null, stdout: '', stderr: 'spawn usbip ENOENT' }),
    });
    await lab.attach().then(
      () => expect.fail('attached'),
      (err: unknown) => {
        expect(err).to.be.instanceOf(UsbipCommandError);
        expect((err as Error).message).to.equal('usbip port failed: spawn usbip ENOENT');
      },
    );
  });
});
