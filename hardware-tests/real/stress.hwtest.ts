// The stress harness on real dongles. Not part of `npm test`; run where dongles are plugged:
//   npx mocha --no-config --node-option import=tsx --require test/setup.ts --timeout 600000 \
//     'hardware-tests/real/*.hwtest.ts'
// Scenarios: a dongle with a loopback plug; two dongles cross-wired (null modem); and, where a
// hub with per-port power switching carries our dongles, power cycles during all of it. Each
// prints one line saying why when what it needs is not there, and shows as pending.
import { expect } from 'chai';
import { runStress, summaryLines, type StressResult, type TopologyLink } from '../../src/stress/index.ts';
import { dongleOfSlot, hwEnv, openRealLab, type RealLab } from './lab.ts';

function skip(ctx: Mocha.Context, why: string): never {
  console.log(`    [stress hw] skipped: ${why}`);
  ctx.skip();
}

async function stressOn(lab: RealLab, links: TopologyLink[], hotplug: boolean): Promise<StressResult> {
  const dongles = [...new Set(links.flatMap((l) => [dongleOfSlot(l.from), dongleOfSlot(l.to)]))];
  const r = await runStress({
    hubs: { backend: lab.backend, driverSets: lab.driverSets, only: dongles, links, baudRate: hwEnv.baudRate },
    ...(hwEnv.seed !== undefined ? { seed: hwEnv.seed } : {}),
    durationMs: hwEnv.seconds * 1000,
    baudRate: hwEnv.baudRate,
    // Real hubs enumerate in about a second: fewer power cycles than the mock lab's plugs.
    rates: hotplug ? 'hotplug=0.5,registration=0.5,open=10,close=3,write=20' : 'hotplug=0,registration=0.5,open=10,close=3,write=20',
    // Real bytes take real time on the wire.
    drainLimitMs: 10_000,
    settleLimitMs: 30_000,
  });
  for (const l of summaryLines(r)) console.log(`    ${l}`);
  return r;
}

describe('stress on real dongles', function () {
  this.timeout(Math.max(600_000, hwEnv.seconds * 4000));
  let lab: RealLab | { skip: string } = { skip: 'the lab was not looked at' };

  before(async () => {
    lab = await openRealLab();
  });

  after(async () => {
    if (!('skip' in lab)) await lab.backend.close();
  });

  it('a dongle with a loopback plug: byte-exact traffic, open/close, signals and registration churn', async function () {
    if ('skip' in lab) skip(this, lab.skip);
    const loop = lab.links.find((l) => l.kind === 'loopback');
    if (!loop) skip(this, `no port with a loopback plug among ${lab.slots.join(', ')} (a token sent out of each came back on no port)`);
    const r = await stressOn(lab, [loop], false);
    expect(r.violations, r.replay.command).to.deep.equal([]);
    expect(r.traffic.bytesReceived).to.be.greaterThan(0);
  });

  it('two dongles cross-wired: traffic both ways through a null-modem cable', async function () {
    if ('skip' in lab) skip(this, lab.skip);
    const cross = lab.links.filter((l) => l.kind === 'null-modem' && dongleOfSlot(l.from) !== dongleOfSlot(l.to));
    if (cross.length === 0) skip(this, `no two dongles are cross-wired (ports: ${lab.slots.join(', ')})`);
    const a = cross[0]!;
    const back = cross.find((l) => l.from === a.to && l.to === a.from);
    const r = await stressOn(lab, back ? [a, back] : [a], false);
    expect(r.violations, r.replay.command).to.deep.equal([]);
    expect(r.traffic.bytesReceived).to.be.greaterThan(0);
  });

  it('power cycles through a hub with per-port power switching, during traffic and registration churn', async function () {
    if ('skip' in lab) skip(this, lab.skip);
    const real = lab;
    if (real.switchable.length === 0) skip(this, 'none of our dongles hangs from a hub port with per-port power switching (usb-harness stress --dry-run lists the hubs)');
    const links = real.links.filter((l) => real.switchable.includes(dongleOfSlot(l.from)) || real.switchable.includes(dongleOfSlot(l.to)));
    if (links.length === 0) skip(this, `the switchable dongles (${real.switchable.join(', ')}) have no wired port`);
    const r = await stressOn(real, links, true);
    expect(r.cycles, 'power cycles').to.be.greaterThan(0);
    expect(r.violations, r.replay.command).to.deep.equal([]);
  });
});
