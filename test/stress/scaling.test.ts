// The scaled mock lab (hosts x hubs x dongles) and the plug-to-open measurement the scaling
// benchmark and the VM tier share.
import { expect } from 'chai';
import { defaultDriverSets } from '../../drivers/index.ts';
import { MockLabError } from '../../mocks/errors.ts';
import { createScaledLab, scaledLabOptions, type MockLab } from '../../mocks/lab.ts';
import { DriverModel } from '../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, type UsbSerialRegistration } from '../../src/serial/index.ts';
import type { UsbSerialDriverSet } from '../../src/serial/driver-set.ts';
import { HubControl, measurePlugToOpen, percentile, PlugToOpenError, runOnce, type HubInfo } from '../../src/stress/index.ts';
import { UsbSubsystem } from '../../src/usb/index.ts';

describe('stress: the scaled lab and plug-to-open', function () {
  this.timeout(60_000);

  it('builds H hosts x 4 hubs x 7 dongles, each host its own bus, every hub switchable, every dongle looped back', () => {
    const o = scaledLabOptions({ hosts: 2 });
    expect(o.hubs.map((h) => h.at)).to.deep.equal(['1-1', '1-2', '1-3', '1-4', '2-1', '2-2', '2-3', '2-4']);
    expect(o.hubs.every((h) => h.switching === 'per-port' && h.ports === 7)).to.equal(true);
    expect(o.dongles).to.have.length(56);
    expect(o.dongles.find((d) => d.name === 'h2.3.5')).to.deep.include({ at: '2-3.5' });
    expect(new Set(o.dongles.map((d) => d.driverSet))).to.deep.equal(new Set(['ftdi_sio', 'pl2303']));
    expect(o.wires).to.have.length(56);
    expect(o.wires.every((w) => w.kind === 'loopback')).to.equal(true);
    expect(scaledLabOptions({ hosts: 1, hubsPerHost: 2, donglesPerHub: 3 }).dongles.map((d) => d.at)).to.deep.equal(['1-1.1', '1-1.2', '1-1.3', '1-2.1', '1-2.2', '1-2.3']);
  });

  it('refuses shapes that are not whole numbers in range', () => {
    expect(() => scaledLabOptions({ hosts: 0 })).to.throw(MockLabError, /hosts must be a whole number from 1 to 127, got 0/);
    expect(() => scaledLabOptions({ hosts: 1, donglesPerHub: 1.5 })).to.throw(MockLabError, /donglesPerHub/);
    expect(() => scaledLabOptions({ hosts: 1, hubsPerHost: 16 })).to.throw(MockLabError, /hubsPerHost/);
  });

  it('a power-mode stress run on a two-host lab keeps every invariant and cycles dongles on both hosts', async () => {
    const r = await runOnce({ seed: 7, events: 300, lab: () => createScaledLab(defaultDriverSets(), { hosts: 2 }), hotplug: 'power' });
    expect(r.violations).to.deep.equal([]);
    expect(r.topology.dongles).to.have.length(56);
    expect(r.topology.dongles.every((d) => d.hotplug)).to.equal(true);
    const cycled = new Set(r.timeline.filter((e) => e.kind === 'unplug' && e.outcome === 'ok').map((e) => e.target.split('.')[0]));
    expect([...cycled].sort()).to.deep.equal(['h1', 'h2']);
    expect(r.traffic.bytesReceived).to.be.greaterThan(0);
  });

  describe('measurePlugToOpen', () => {
    let lab: MockLab<UsbSerialDriverSet>;
    let usb: UsbSubsystem;
    let regs: UsbSerialRegistration[];
    let hc: HubControl;
    let hubs: Map<string, HubInfo>;
    const power = (d: string, on: boolean) => {
      const at = lab.hubPortOf(d)!;
      return hc.sendPower(hubs.get(at.hub)!.host, at.port, on);
    };

    beforeEach(async () => {
      lab = createScaledLab(defaultDriverSets(), { hosts: 1 });
      usb = new UsbSubsystem({ model: new DriverModel() });
      regs = [];
      for (const s of lab.driverSets) regs.push(await registerUsbSerialDrivers(s.specs, s.name, s.ids, { usbBus: usb.bus }));
      lab.plugAll();
      await lab.flush();
      await usb.attachBackend(lab.backend);
      await usb.settled();
      hc = new HubControl(lab.hubBackends, { isOurs: (h) => lab.dongleOf(h) !== undefined, sysfsRoot: '' });
      hubs = new Map((await hc.listHubs()).map((h) => [h.name, h]));
    });

    afterEach(async () => {
      for (const r of regs) await deregisterUsbSerialDrivers(r);
      await usb.stop();
      await lab.close();
    });

    it('times port power on -> port open for each sample, through the whole stack', async () => {
      const r = await measurePlugToOpen({ usb, dongles: ['h1.1.1', 'h1.2.2'], samples: 6, dongleOf: (h) => lab.dongleOf(h), connect: power });
      expect(r.samples).to.have.length(6);
      expect(Object.keys(r.byDongle).sort()).to.deep.equal(['h1.1.1', 'h1.2.2']);
      expect(r.byDongle['h1.1.1']).to.have.length(3);
      expect(r.samples.every((x) => x > 0)).to.equal(true);
      expect(r.p50).to.be.at.most(r.p99);
      expect(r.max).to.equal(r.samples[5]);
      expect(lab.isPlugged('h1.1.1') && lab.isPlugged('h1.2.2'), 'powered again at the end').to.equal(true);
    });

    it('says what did not happen, within its limit, when a dongle does not come back', async () => {
      const err = await measurePlugToOpen({
        usb,
        dongles: ['h1.1.1'],
        samples: 1,
        timeoutMs: 200,
        dongleOf: (h) => lab.dongleOf(h),
        connect: async (d, on) => {
          if (!on) await power(d, false);
        },
      }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(PlugToOpenError);
      expect((err as Error).message).to.equal("h1.1.1's port coming back did not happen within 200 ms");
      await power('h1.1.1', true);
    });

    it('refuses bad input', async () => {
      const base = { usb, dongleOf: () => undefined, connect: async () => undefined };
      for (const [o, msg] of [
        [{ ...base, dongles: [], samples: 1 }, /no dongles/],
        [{ ...base, dongles: ['h1.1.1'], samples: 0 }, /samples must be a positive whole number, got 0/],
      ] as const) {
        const err = await measurePlugToOpen(o).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(PlugToOpenError);
        expect((err as Error).message).to.match(msg);
      }
    });
  });

  it('percentile: nearest rank below, NaN for no samples', () => {
    expect(percentile([1, 2, 3, 4], 50)).to.equal(3);
    expect(percentile([1, 2, 3, 4], 99)).to.equal(4);
    expect(percentile([], 99)).to.be.NaN;
  });
});
