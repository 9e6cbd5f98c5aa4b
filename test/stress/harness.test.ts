// The stress harness on the built-in mock lab: a short pass (the long ones are in the
// benchmark), replay by seed, hotplug through the emulated hub's port power, schedules.
import { expect } from 'chai';
import { createMockLab } from '../../mocks/lab.ts';
import { defaultDriverSets } from '../../drivers/index.ts';
import { HubTarget, runOnce, runStress, scheduleOf, STEP_KINDS, type StressResult } from '../../src/stress/index.ts';
import type { HostBackend } from '../../src/usb/index.ts';

const lab = () => createMockLab({ driverSets: defaultDriverSets() });

function describeFailures(r: StressResult): string {
  return r.violations
    .map((v) => `[${v.invariant}] seed ${r.replay.seed} event #${v.event}: ${v.message}\n  ${v.history.slice(-8).join('\n  ')}`)
    .join('\n');
}

describe('stress: on the mock lab', function () {
  this.timeout(60_000);

  it('a short pass over three seeds keeps every invariant, and does real work', async () => {
    for (const seed of [1, 2, 3]) {
      const r = await runStress({ seed, events: 1200, lab, shrink: false });
      expect(r.violations, describeFailures(r)).to.deep.equal([]);
      expect(r.events).to.equal(1200);
      expect(r.cycles, 'plug/unplug cycles').to.be.greaterThan(20);
      expect(r.counts.register.ok + r.counts.deregister.ok, 'registration churn').to.be.greaterThan(2);
      expect(r.counts.open.ok).to.be.greaterThan(10);
      expect(r.traffic.bytesReceived, 'bytes through the wires').to.be.greaterThan(10_000);
      expect(r.udevWrites, 'udev-like new_id writes').to.be.greaterThan(0);
      for (const inv of ['method-after-unregistration', 'one-driver-per-device', 'probe-remove-pairing', 'leaked-claim', 'traffic-order'] as const) {
        expect(r.checks[inv], `${inv} checked`).to.be.greaterThan(0);
      }
    }
  });

  it('the same seed replays the same run: every event, outcome and check', async () => {
    const a = await runOnce({ seed: 0x5eed, events: 700, lab });
    const b = await runOnce({ seed: 0x5eed, events: 700, lab });
    expect(b.traceHash).to.equal(a.traceHash);
    expect(b.traceLength).to.equal(a.traceLength);
    expect(b.counts).to.deep.equal(a.counts);
    expect(b.checks).to.deep.equal(a.checks);
    expect(b.traffic).to.deep.equal(a.traffic);
    expect(b.logicalMs).to.equal(a.logicalMs);
    const c = await runOnce({ seed: 0x5eee, events: 700, lab });
    expect(c.traceHash, 'another seed, another run').to.not.equal(a.traceHash);
  });

  it('replays a saved schedule exactly as the seed ran it', async () => {
    const first = await runOnce({ seed: 77, events: 300, lab });
    const steps = scheduleOf(77, first.rates, first.topology, 300);
    const replay = await runOnce({ seed: 77, schedule: steps, lab });
    expect(replay.traceHash).to.equal(first.traceHash);
    expect(replay.replay.command).to.equal('usb-harness stress --mock-lab --seed 0x0000004d --events 300');
  });

  it('cycles dongles through the emulated hub\'s port power (the real-lab path), never the foreign one', async () => {
    const r = await runStress({ seed: 11, events: 800, lab, hotplug: 'power', shrink: false });
    expect(r.violations, describeFailures(r)).to.deep.equal([]);
    expect(r.hotplug).to.equal('power');
    expect(r.cycles).to.be.greaterThan(10);
    const cycled = new Set(r.timeline.filter((e) => e.kind === 'unplug' && e.outcome === 'ok').map((e) => e.target));
    // Only what hangs from the per-port switchable hub 1-1 (2-1 is ganged; 1-1.5 is not ours).
    expect([...cycled].every((d) => ['ft232r', 'ft2232h', 'pl2303hx', 'ft232h'].includes(d)), [...cycled].join(',')).to.equal(true);
    expect(r.topology.dongles.filter((d) => d.hotplug).map((d) => d.name).sort()).to.deep.equal(['ft2232h', 'ft232h', 'ft232r', 'pl2303hx']);
  });

  it('the real-hub path (hub discovery, wiring found by tokens, power cycles, wall-clock time) on the mock lab\'s hubs', async () => {
    const mock = createMockLab({ driverSets: defaultDriverSets() });
    mock.plugAll();
    await mock.flush();
    // One backend listing the hubs and the dongles, as libusb lists a real lab.
    const backend: HostBackend = {
      name: 'mock+hubs',
      getDevices: async () => [...(await mock.hubHost.getDevices()), ...(await mock.host.getDevices())],
      watch: async (listener) => {
        const stops = [await mock.hubHost.watch(listener), await mock.host.watch(listener)];
        return () => stops.forEach((s) => s());
      },
      close: async () => {
        await mock.hubHost.close();
        await mock.host.close();
      },
    };
    const r = await runStress({ seed: 21, durationMs: 1500, hubs: { backend, driverSets: mock.driverSets, newIds: mock.newIds }, rates: 'hotplug=6' });
    expect(r.violations, describeFailures(r)).to.deep.equal([]);
    expect(r.target).to.equal('hubs');
    expect(r.topology.links.map((l) => l.id).sort()).to.deep.equal(
      ['1-1.1:0.0>1-1.1:0.0', '1-1.2:0.0>1-1.2:1.0', '1-1.2:1.0>1-1.2:0.0', '1-1.3:0.0>1-1.4:0.0', '1-1.4:0.0>1-1.3:0.0', '2-1.1:0.0>2-1.1:0.0', '1-2:0.0>1-2:0.0', '1-3:0.0>1-3:0.0', '2-1.2:0.0>2-1.2:0.0', '2-1.3:0.0>2-1.3:1.0', '2-1.3:1.0>2-1.3:0.0', '2-1.4:0.0>2-1.4:0.0', '1-5:0.0>1-5:0.0'].sort(),
    );
    expect(r.topology.dongles.filter((d) => d.hotplug).map((d) => d.name).sort()).to.deep.equal(['1-1.1', '1-1.2', '1-1.3', '1-1.4']);
    expect(r.cycles, 'power cycles').to.be.greaterThan(0);
    expect(r.traffic.bytesReceived).to.be.greaterThan(0);
    expect(r.replay.command).to.match(/^usb-harness stress --seed 0x00000015 --events \d+ --rates hotplug=6$/);
    expect(r.topology.dongles.map((d) => d.name)).to.not.include('1-1.5');
    expect(mock.isPlugged('receiver'), 'the foreign device was never cut').to.equal(true);
    expect(['ft232r', 'ft2232h', 'pl2303hx', 'ft232h'].every((d) => mock.isPlugged(d)), 'every port powered again at the end').to.equal(true);
    mock.unplugAll();
  });

  it('the real-hub target\'s flush waits for a powered port\'s device that the backend reports late (as libusb reports after udev), and for one powered off to go', async () => {
    const mock = createMockLab({ driverSets: defaultDriverSets() });
    mock.plugAll();
    await mock.flush();
    const LATE_MS = 300;
    const timers = new Set<ReturnType<typeof setTimeout>>();
    const backend: HostBackend = {
      name: 'mock+hubs, late connects',
      getDevices: async () => [...(await mock.hubHost.getDevices()), ...(await mock.host.getDevices())],
      watch: async (listener) => {
        const late = (e: Parameters<typeof listener>[0]) => {
          if (e.type === 'disconnect') return listener(e);
          const t = setTimeout(() => (timers.delete(t), listener(e)), LATE_MS);
          timers.add(t);
        };
        const stops = [await mock.hubHost.watch(listener), await mock.host.watch(late)];
        return () => stops.forEach((s) => s());
      },
      close: async () => {
        await mock.hubHost.close();
        await mock.host.close();
      },
    };
    const target = new HubTarget({ backend, driverSets: mock.driverSets, newIds: mock.newIds, links: [] });
    const topo = await target.describe({ ports: () => [] });
    expect(topo).to.be.an('object');
    const seen: string[] = [];
    const unwatch = await backend.watch((e) => {
      const name = target.dongleOf(e.device);
      if (name === '1-1.1') seen.push(e.type);
    });
    try {
      expect(await target.setConnected('1-1.1', false)).to.equal('ok');
      await target.flush();
      expect(seen, 'gone when flush returns').to.deep.equal(['disconnect']);
      expect(await target.setConnected('1-1.1', true)).to.equal('ok');
      const t0 = performance.now();
      await target.flush();
      expect(seen, 'back when flush returns').to.deep.equal(['disconnect', 'connect']);
      expect(performance.now() - t0).to.be.at.least(LATE_MS - 50);
    } finally {
      unwatch();
      for (const t of timers) clearTimeout(t);
      await target.close();
      mock.unplugAll();
    }
  });

  it('honours rates: a kind at rate 0 never happens', async () => {
    const r = await runOnce({ seed: 3, events: 300, lab, rates: 'hotplug=0,registration=0,write=80' });
    expect(r.counts.plug.issued + r.counts.unplug.issued).to.equal(0);
    expect(r.counts.register.issued).to.equal(0);
    expect(r.counts.write.issued).to.be.greaterThan(r.counts.open.issued);
    expect(STEP_KINDS.reduce((n, k) => n + r.counts[k].issued, 0)).to.be.greaterThanOrEqual(300);
  });

  it('stops on the limit asked for: cycles, or wall-clock duration', async () => {
    const byCycles = await runOnce({ seed: 4, cycles: 15, lab });
    expect(byCycles.cycles).to.equal(15);
    const t0 = performance.now();
    const byTime = await runOnce({ seed: 4, durationMs: 400, lab });
    expect(byTime.events).to.be.greaterThan(0);
    expect(performance.now() - t0).to.be.lessThan(5000);
  });
});
