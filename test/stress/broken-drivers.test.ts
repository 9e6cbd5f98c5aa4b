// The harness finds bugs: deliberately broken FTDI drivers are caught, with the seed and event
// number that show it, the same seed shows it again, and the failing run shrinks to a few steps.
import { expect } from 'chai';
import { runOnce, runStress, type Invariant } from '../../src/stress/index.ts';
import { brokenLab, type Defect } from './fixtures/broken-drivers.ts';

// Each defect with a seed whose 400 events of the default lab reach it (a deregistration that
// releases an adapter, for the late attach).
const cases: { defect: Defect; invariant: Invariant; message: RegExp; seed?: number }[] = [
  { defect: 'attach-after-unregistration', invariant: 'method-after-unregistration', message: /driverAttach\(\) through a pin already put back/, seed: 1 },
  { defect: 'leak-dynamic-id', invariant: 'leaked-dynamic-id', message: /usb driver 'ftdi_sio' keeps dynamic ID 0403:7777 that none of its serial drivers has/ },
  { defect: 'forget-release-interface', invariant: 'leaked-claim', message: /dongle ft2232h: interface\(s\) 1 claimed with no driver bound/ },
  { defect: 'hold-pin', invariant: 'leaked-pin', message: /broken: taken in attach, never put back/ },
];

describe('stress: catches deliberately broken drivers', function () {
  this.timeout(60_000);

  for (const c of cases) {
    it(`${c.defect}: caught as ${c.invariant} with its seed, replayed by it, shrunk to a few steps`, async () => {
      const seed = c.seed ?? 1;
      const r = await runStress({ seed, events: 400, lab: brokenLab(c.defect), shrink: { maxRuns: 120 } });
      expect(r.ok).to.equal(false);
      const v = r.violations.find((x) => x.invariant === c.invariant);
      expect(v, r.violations.map((x) => `${x.invariant}: ${x.message}`).join('\n')).to.not.equal(undefined);
      expect(v!.message).to.match(c.message);
      expect(v!.seed).to.equal(seed);
      expect(v!.event).to.be.at.least(0);
      expect(v!.history.length).to.be.greaterThan(3);
      expect(r.replay.command).to.equal(`usb-harness stress --mock-lab --seed 0x${seed.toString(16).padStart(8, '0')} --events ${r.events}`);

      // The same seed: the same violation at the same event, the same run.
      const again = await runOnce({ seed, events: r.events, lab: brokenLab(c.defect) });
      const w = again.violations.find((x) => x.invariant === c.invariant)!;
      expect(w.event).to.equal(v!.event);
      const norm = (m: string) => m.replace(/pin #\d+/g, 'pin #N'); // pin numbers count per process
      expect(norm(w.message)).to.equal(norm(v!.message));
      expect(again.traceHash).to.equal(r.traceHash);

      // Shrunk: a handful of steps that still break it.
      expect(r.shrunk, 'shrunk').to.not.equal(undefined);
      expect(r.shrunk!.invariant).to.equal(c.invariant);
      expect(r.shrunk!.steps.length).to.be.at.most(5);
      expect(r.shrunk!.steps.length).to.be.lessThan(r.shrunk!.from);
      const minimal = await runOnce({ seed, schedule: r.shrunk!.steps, lab: brokenLab(c.defect) });
      expect(minimal.violations.some((x) => x.invariant === c.invariant)).to.equal(true);
    });
  }

  it('the correct driver under the same schedules shows none of these', async () => {
    const { createMockLab } = await import('../../mocks/lab.ts');
    const { defaultDriverSets } = await import('../../drivers/index.ts');
    const r = await runOnce({ seed: 1, events: 400, lab: () => createMockLab({ driverSets: defaultDriverSets() }) });
    for (const c of cases) expect(r.violations.filter((x) => c.message.test(x.message))).to.deep.equal([]);
  });
});
