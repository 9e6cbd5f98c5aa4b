// The stress harness's remote-dongle target against the stand-in for USB/IP: each remote fault
// in turn takes the import away and the plug step brings it back; exporter-wide faults fall back
// to a detach when the host carries other dongles of the run; options it cannot honour are
// refused up front.
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, labFromJson, vhciBusNumbers } from '../../src/lab/index.ts';
import { usbipStressOptions } from '../../src/stress/usbip-options.ts';
import type { UsbSerialPort } from '../../src/serial/index.ts';
import { REMOTE_FAULTS, StressOptionError, UsbipTarget, type UsbipTargetOptions } from '../../src/stress/index.ts';
import type { HostBackend, HostDevice } from '../../src/usb/host.ts';
import { FakeUsbip } from './fake-usbip.ts';

const backend: HostBackend = { name: 'none', getDevices: async () => [], watch: async () => () => undefined, close: async () => undefined };

function setup(busids: string[], extra: Partial<UsbipTargetOptions> = {}, exporter = true) {
  const fake = new FakeUsbip();
  fake.addHost('10.0.0.5', busids.map((busid) => ({ busid, vendorId: 0x0403, productId: 0x6001 })));
  const lab = new Lab(labFromJson({ hosts: [{ name: 'r', address: '10.0.0.5', dongles: busids.map((busid) => ({ busid })), ...(exporter ? { exporter: { via: [] } } : {}) }] }), { run: fake.run, enumerateMs: 0 });
  const target = new UsbipTarget({
    lab,
    backend,
    driverSets: [],
    links: [],
    link: { down: ['fake-net', 'down'], up: ['fake-net', 'up'] },
    heartbeat: { intervalMs: 60_000, timeoutMs: 100, misses: 1 },
    supervisor: { probe: fake.probe, vhci: fake.vhci },
    run: fake.run,
    ...extra,
  });
  return { fake, lab, target };
}

/** Ports of our stack as the target sees them: one per import, on its local bus ID. */
function livePorts(fake: FakeUsbip) {
  return () =>
    fake.imports.map((i) => {
      const [bus, port] = i.localBusid.split('-').map(Number);
      const host = { key: i.localBusid, location: { busNumber: bus!, portNumbers: [port!] } } as unknown as HostDevice;
      return { portNumber: 0, serial: { usbDevice: { host }, intf: { interfaceNumber: 0 } } } as unknown as UsbSerialPort;
    });
}

describe('lab: remote dongles in the stress harness (UsbipTarget)', () => {
  it('every remote fault in turn takes the import away, and the plug step re-attaches it', async () => {
    let handed: UsbipTarget | null = null;
    const { fake, lab, target } = setup(['1-1'], { onTarget: (t) => (handed = t) });
    expect(handed).to.equal(target);
    await lab.attach();
    const topo = await target.describe({ ports: livePorts(fake) });
    expect(topo.dongles.map((d) => [d.name, d.hotplug, d.ports.map((p) => p.slot)])).to.deep.equal([['r/1-1', true, ['r/1-1:0.0']]]);
    expect(target.dongleOf(livePorts(fake)()[0]!.serial.usbDevice.host)).to.equal('r/1-1');
    for (const fault of REMOTE_FAULTS) {
      expect(await target.setConnected('r/1-1', false), fault).to.equal('ok');
      expect(fake.imports, `${fault}: the import is gone`).to.deep.equal([]);
      expect(target.isConnected('r/1-1')).to.equal(false);
      expect(await target.setConnected('r/1-1', false)).to.equal('skip:already-detached');
      expect(await target.setConnected('r/1-1', true), `${fault}: plugged back`).to.equal('ok');
      expect(fake.imports).to.have.length(1);
    }
    expect(target.figures.faults).to.deep.equal({ detach: 1, unplug: 1, drop: 1, restart: 1, link: 1 });
    expect(target.figures.reattachMs).to.have.length(5);
    expect(target.figures.detectMs, 'the link fault is found by the heartbeat').to.have.length(1);
    expect(fake.hosts[0]!.devices[0]!.bound, 'unbound for the fault, bound again after it').to.equal(true);
    expect(fake.hosts[0]!.net).to.equal('up');
    await target.close();
  });

  it('an exporter-wide fault on a host with other dongles of the run is a detach instead', async () => {
    const { fake, lab, target } = setup(['1-1', '1-2'], { faults: ['restart', 'link'] });
    await lab.attach();
    await target.describe({ ports: livePorts(fake) });
    expect(await target.setConnected('r/1-1', false)).to.equal('ok');
    expect(await target.setConnected('r/1-2', false)).to.equal('ok');
    expect(target.figures.faults).to.deep.include({ detach: 2, restart: 0, link: 0 });
    await target.close();
    expect(fake.imports, 'close puts every dongle back').to.have.length(2);
  });

  it('refuses faults it cannot make, and a run with no port of ours on an import', async () => {
    expect(() => setup(['1-1'], { faults: ['drop'] }, false)).to.throw(StressOptionError, /needs exporter access/);
    expect(() => setup(['1-1'], { faults: ['link'], link: undefined })).to.throw(StressOptionError, /needs link down\/up commands/);
    const { target } = setup(['1-1']);
    await target.describe({ ports: () => [] }).then(
      () => expect.fail('described'),
      (err: unknown) => expect((err as Error).message).to.match(/attach them first \(usb-harness lab attach\)/),
    );
    await target.close();
  });
});

describe('lab: stress --usbip-lab options', () => {
  it('a bad lab file names the field; without vhci_hcd it says what to load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'usbip-stress-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ hosts: [{ name: 'r', address: '10.0.0.5', dongles: [{ busid: '1-1' }], heartbeat: 1 }] }));
    const err = await usbipStressOptions(bad, backend, []).then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    expect(err).to.be.instanceOf(StressOptionError);
    expect(err.message).to.match(/bad\.json: hosts\[0\]\.heartbeat: unknown field/);
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ hosts: [{ name: 'r', address: '10.0.0.5', dongles: [{ busid: '1-1' }] }] }));
    if ((await vhciBusNumbers()).size > 0) return; // a host with vhci_hcd loaded: nothing to refuse here
    const none = await usbipStressOptions(good, backend, []).then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    expect(none.message).to.match(/no vhci_hcd here: load it \(modprobe vhci-hcd\)/);
  });
});
