// Port power through the port's sysfs `disable` attribute where it is writable, the hub class
// request otherwise (uhubctl's order on current kernels), and saying which one ran. The sysfs
// tree is a temporary folder shaped like /sys/bus/usb; the hubs are the mock lab's.
import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDriverSets } from '../../drivers/index.ts';
import { createMockLab, type MockLab } from '../../mocks/lab.ts';
import { ForeignDeviceError, formatHubListing, HubControl, runStress, summaryLines } from '../../src/stress/index.ts';
import { hubPortDisablePath } from '../../src/usb/backends/linux-sysfs.ts';
import type { HostBackend, HostDevice } from '../../src/usb/host.ts';

describe('stress: hub port power by sysfs disable or hub request', function () {
  this.timeout(30_000);
  let sysfs: string;
  let lab: MockLab;
  let hc: HubControl;
  const devices = () => join(sysfs, 'bus/usb/devices');
  const disableFile = (iface: string, port: string) => join(devices(), iface, port, 'disable');

  beforeEach(async () => {
    sysfs = await mkdtemp(join(tmpdir(), 'sysfs-'));
    // Hub 1-1 (configuration 1): ports 1, 2 and 5 have the attribute; port 4's is unwritable (a folder).
    for (const p of [1, 2, 5]) {
      await mkdir(join(devices(), '1-1:1.0', `1-1-port${p}`), { recursive: true });
      await writeFile(disableFile('1-1:1.0', `1-1-port${p}`), '0\n');
    }
    await mkdir(disableFile('1-1:1.0', '1-1-port4'), { recursive: true });
    await mkdir(join(devices(), '1-0:1.0', 'usb1-port3'), { recursive: true });
    await writeFile(disableFile('1-0:1.0', 'usb1-port3'), '0\n');
    lab = createMockLab({ driverSets: defaultDriverSets() });
    lab.plugAll();
    await lab.flush();
    const ours = new Set(lab.topology().dongles.map((d) => d.name));
    hc = new HubControl(lab.hubBackends, { isOurs: (h) => ours.has(lab.dongleOf(h) ?? ''), sysfsRoot: sysfs, platform: 'linux' });
  });

  afterEach(async () => {
    await lab.close();
    await rm(sysfs, { recursive: true, force: true });
  });

  it('finds the port attribute as uhubctl names it: <hub>:<cfg>.0/<hub>-portN, root hubs <bus>-0:1.0/usbN-portN', async () => {
    const opts = { platform: 'linux' as const, sysfsUsbPath: join(sysfs, 'bus/usb') };
    expect(await hubPortDisablePath(opts, '1-1', 2)).to.equal(disableFile('1-1:1.0', '1-1-port2'));
    expect(await hubPortDisablePath(opts, 'usb1', 3)).to.equal(disableFile('1-0:1.0', 'usb1-port3'));
    expect(await hubPortDisablePath(opts, '1-1', 3), 'no attribute').to.equal(null);
    expect(await hubPortDisablePath(opts, '2-1', 1), 'no such hub').to.equal(null);
    expect(await hubPortDisablePath({ ...opts, platform: 'darwin' }, '1-1', 2), 'not Linux').to.equal(null);
  });

  it('the dry-run listing says how each port would be switched', async () => {
    const listing = formatHubListing(await hc.listHubs()).join('\n');
    expect(listing).to.match(/port 2: power on, 1-1\.2 0403:6010 .*\(ours\)  \[will cycle by sysfs-disable\]/);
    expect(listing).to.match(/port 3: power on, 1-1\.3 067b:2303 .*\(ours\)  \[will cycle by hub-request\]/);
    expect(listing).to.match(/port 5: .*\(NOT ours\)  \[refused without --force\]/);
  });

  it('where the hub does not answer GET_STATUS(port), power comes from the disable attribute', async () => {
    // As the nusb backend behaves: other-recipient control transfers refused.
    const refusing: HostBackend = {
      name: 'refuses-other',
      getDevices: async () =>
        (await lab.hubHost.getDevices()).map((h) => {
          const usb = new Proxy(h.usb, {
            get(t, k) {
              if (k === 'controlTransferIn') {
                return (s: USBControlTransferParameters, n: number) => (s.recipient === 'other' ? Promise.reject(new Error('controlTransferIn error: invalid state')) : t.controlTransferIn(s, n));
              }
              const v = Reflect.get(t, k, t) as unknown;
              return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
            },
          });
          return { key: h.key, usb, location: h.location } as HostDevice;
        }),
      watch: async () => () => undefined,
      close: async () => undefined,
    };
    const ours = new Set(lab.topology().dongles.map((d) => d.name));
    const quiet = new HubControl([refusing, lab.host], { isOurs: (h) => ours.has(lab.dongleOf(h) ?? ''), sysfsRoot: sysfs, platform: 'linux' });
    await writeFile(disableFile('1-1:1.0', '1-1-port1'), '1');
    const hub = await quiet.findHub('1-1');
    expect(hub.switchable).to.equal(true);
    expect(hub.ports[0]).to.deep.include({ powered: false, connected: null });
    expect(hub.ports[1]).to.deep.include({ powered: true, connected: null });
    expect(hub.ports[2], 'no attribute: unknown').to.deep.include({ powered: null, connected: null });
    const listing = formatHubListing([hub]).join('\n');
    expect(listing).to.match(/port 2: power on, 1-1\.2 /);
    expect(listing).to.match(/port 3: power \?, 1-1\.3 /);
  });

  it('writes 1 / 0 to the disable attribute where it exists and sends no hub request', async () => {
    expect(await hc.setPortPower('1-1', 2, false)).to.equal('sysfs-disable');
    expect(await readFile(disableFile('1-1:1.0', '1-1-port2'), 'utf8')).to.match(/^1\n?$/);
    // The emulated hub got no CLEAR_FEATURE: with a fake sysfs nothing else cut the port.
    expect(lab.portPowered('1-1', 2)).to.equal(true);
    expect(await hc.setPortPower('1-1', 2, true)).to.equal('sysfs-disable');
    expect(await readFile(disableFile('1-1:1.0', '1-1-port2'), 'utf8')).to.match(/^0\n?$/);
  });

  it('falls back to the hub class request where the attribute is missing or cannot be written', async () => {
    expect(await hc.setPortPower('1-1', 3, false), 'missing').to.equal('hub-request');
    expect(lab.portPowered('1-1', 3)).to.equal(false);
    expect(lab.isPlugged('pl2303hx')).to.equal(false);
    expect(await hc.setPortPower('1-1', 3, true)).to.equal('hub-request');
    expect(lab.isPlugged('pl2303hx')).to.equal(true);
    expect(await hc.setPortPower('1-1', 4, false), 'unwritable').to.equal('hub-request');
    expect(lab.portPowered('1-1', 4)).to.equal(false);
    await hc.setPortPower('1-1', 4, true);
  });

  it('never touches a port with a device that is not ours unless forced, by either method', async () => {
    const err = await hc.setPortPower('1-1', 5, false).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ForeignDeviceError);
    expect((err as Error).message).to.match(/1-1\.5 046d:c52b .* is not one of ours \(use --force/);
    expect(await readFile(disableFile('1-1:1.0', '1-1-port5'), 'utf8')).to.equal('0\n');
    expect(lab.isPlugged('receiver')).to.equal(true);
    expect(await hc.setPortPower('1-1', 5, false, { force: true })).to.equal('sysfs-disable');
    expect(await readFile(disableFile('1-1:1.0', '1-1-port5'), 'utf8')).to.match(/^1\n?$/);
  });

  it('a power-mode stress run says how its ports were switched, in the result and the summary', async () => {
    const r = await runStress({ seed: 11, events: 400, lab: () => createMockLab({ driverSets: defaultDriverSets() }), hotplug: 'power', shrink: false, timeline: false });
    expect(r.violations).to.deep.equal([]);
    expect(r.cycles).to.be.greaterThan(0);
    const switches = r.counts.plug.ok + r.counts.unplug.ok;
    // Teardown powers every cut port back on: those switches count too.
    expect(r.powerMethods?.['hub-request']).to.be.at.least(switches);
    expect(r.powerMethods?.['sysfs-disable'] ?? 0).to.equal(0);
    expect(summaryLines(r).join('\n')).to.match(/port power switched by hub-request x\d+/);
  });
});
