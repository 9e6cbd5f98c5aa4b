// The harness's parts on their own: seeded randomness, rates, the schedule, the logical clock,
// the traffic accounting, hub descriptors and naming.
import { expect } from 'chai';
import {
  DEFAULT_RATES,
  formatRates,
  idPathFromSysfs,
  parentPort,
  parseHubDescriptor,
  parseRates,
  parseSeed,
  formatSeed,
  Rng,
  ScheduleGenerator,
  StressOptionError,
  VirtualClock,
  type Topology,
} from '../../src/stress/index.ts';
import { buildFrames, LinkState, nextEpochNumber, type Loss } from '../../src/stress/traffic.ts';
import { modemVerdicts, type ModemSample } from '../../src/stress/invariants.ts';

const topo: Topology = {
  dongles: [
    { name: 'a', interfaces: [0], ports: [{ slot: 'a', dongle: 'a', interfaceNumber: 0, portNumber: 0 }], hotplug: true, driverSet: 's' },
    { name: 'b', interfaces: [0, 1], ports: [{ slot: 'b.a', dongle: 'b', interfaceNumber: 0, portNumber: 0 }, { slot: 'b.b', dongle: 'b', interfaceNumber: 1, portNumber: 0 }], hotplug: true, driverSet: 's' },
  ],
  links: [
    { id: 'a>a', from: 'a', to: 'a', kind: 'loopback' },
    { id: 'b.a>b.b', from: 'b.a', to: 'b.b', kind: 'null-modem' },
    { id: 'b.b>b.a', from: 'b.b', to: 'b.a', kind: 'null-modem' },
  ],
  driverSets: [{ name: 's', serialDrivers: ['s'] }],
  newIds: [{ driver: 's', id: '1209 0001' }],
};

describe('stress: seeds, rates and the schedule', () => {
  it('a seed gives the same stream; forks are independent and stable', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    expect(Array.from({ length: 20 }, () => a.u32())).to.deep.equal(Array.from({ length: 20 }, () => b.u32()));
    expect(new Rng(42).fork('x').u32()).to.equal(new Rng(42).fork('x').u32());
    expect(new Rng(42).fork('x').u32()).to.not.equal(new Rng(42).fork('y').u32());
    expect(new Rng(43).u32()).to.not.equal(new Rng(42).u32());
    const r = new Rng(7);
    for (let i = 0; i < 1000; i++) {
      const v = r.int(10);
      expect(v).to.be.within(0, 9);
    }
  });

  it('parses seeds in decimal and hex, and refuses the rest', () => {
    expect(parseSeed('0x1f')).to.equal(31);
    expect(parseSeed('4294967295')).to.equal(0xffffffff);
    expect(formatSeed(31)).to.equal('0x0000001f');
    expect(() => parseSeed('abc')).to.throw(RangeError, /not a 32-bit number/);
    expect(() => parseSeed('4294967296')).to.throw(RangeError);
  });

  it('parses rates over the defaults, with aliases, and names what is wrong', () => {
    const r = parseRates('plug=20, traffic=5, register=0');
    expect(r.hotplug).to.equal(20);
    expect(r.write).to.equal(5);
    expect(r.registration).to.equal(0);
    expect(r.open).to.equal(DEFAULT_RATES.open);
    expect(formatRates(r)).to.equal('hotplug=20,registration=0,write=5');
    expect(() => parseRates('warp=3')).to.throw(StressOptionError, /unknown event kind 'warp'/);
    expect(() => parseRates('hotplug')).to.throw(StressOptionError, /not kind=number/);
    expect(() => parseRates(Object.keys(DEFAULT_RATES).map((k) => `${k}=0`).join(','))).to.throw(StressOptionError, /nothing would happen/);
  });

  it('the schedule is a function of the seed, alternates toggles, and keeps kinds at rate 0 out', () => {
    const s1 = new ScheduleGenerator(9, DEFAULT_RATES, topo).take(300);
    const s2 = new ScheduleGenerator(9, DEFAULT_RATES, topo).take(300);
    expect(s1).to.deep.equal(s2);
    expect(new ScheduleGenerator(10, DEFAULT_RATES, topo).take(300)).to.not.deep.equal(s1);
    expect(s1.map((s) => s.n)).to.deep.equal(s1.map((_, i) => i));
    for (let i = 1; i < s1.length; i++) expect(s1[i]!.t).to.be.at.least(s1[i - 1]!.t);
    // Per dongle, plug and unplug alternate, starting with an unplug (everything starts plugged).
    for (const d of ['a', 'b']) {
      const toggles = s1.filter((s) => (s.kind === 'plug' || s.kind === 'unplug') && s.target === d).map((s) => s.kind);
      toggles.forEach((k, i) => expect(k).to.equal(i % 2 === 0 ? 'unplug' : 'plug'));
    }
    const quiet = new ScheduleGenerator(9, { ...DEFAULT_RATES, hotplug: 0, write: 0 }, topo).take(300);
    expect(quiet.some((s) => s.kind === 'plug' || s.kind === 'unplug' || s.kind === 'write')).to.equal(false);
  });
});

describe('stress: the logical clock', () => {
  it('serves setTimeout, setInterval and performance.now from logical time, in order, and gives the real ones back', async () => {
    const realSetTimeout = globalThis.setTimeout;
    const realNow = performance.now;
    const clock = new VirtualClock();
    clock.install();
    const fired: string[] = [];
    try {
      setTimeout(() => fired.push(`b@${performance.now()}`), 20);
      setTimeout(() => fired.push(`a@${performance.now()}`), 10);
      setTimeout(() => fired.push(`c@${performance.now()}`), 20);
      const gone = setTimeout(() => fired.push('never'), 5);
      clearTimeout(gone);
      let ticks = 0;
      const iv = setInterval(() => {
        ticks++;
        if (ticks === 3) clearInterval(iv);
      }, 7);
      expect(performance.now()).to.equal(0);
      await clock.advanceTo(15, 3);
      expect(fired).to.deep.equal(['a@10']);
      await clock.advanceTo(100, 0);
      expect(fired).to.deep.equal(['a@10', 'b@20', 'c@20']);
      expect(ticks).to.equal(3);
      expect(performance.now()).to.equal(100);
      expect(clock.pending).to.equal(0);
      // What must stay on the wall clock can step outside it.
      clock.real(() => expect(globalThis.setTimeout).to.equal(realSetTimeout));
      expect(globalThis.setTimeout).to.not.equal(realSetTimeout);
    } finally {
      clock.uninstall();
    }
    expect(globalThis.setTimeout).to.equal(realSetTimeout);
    expect(performance.now).to.equal(realNow);
    expect(performance.now()).to.be.greaterThan(100);
  });

  it('reports a timer callback that throws and goes on', async () => {
    const clock = new VirtualClock();
    const errors: unknown[] = [];
    clock.onError = (e) => errors.push(e);
    clock.install();
    let after = false;
    try {
      setTimeout(() => {
        throw new Error('boom');
      }, 1);
      setTimeout(() => (after = true), 2);
      await clock.advanceTo(5, 0);
    } finally {
      clock.uninstall();
    }
    expect((errors[0] as Error).message).to.equal('boom');
    expect(after).to.equal(true);
  });
});

describe('stress: traffic accounting', () => {
  function link(losses: Loss[] = []) {
    return new LinkState('x>y', 1, 'x', 'y', (l) => losses.push(l));
  }
  function send(l: LinkState, size: number, seed = 1) {
    const e = l.active!;
    const { bytes, frames } = buildFrames(l.index, e.number, e.nextSeq, size, new Rng(seed));
    e.nextSeq += frames;
    e.handed += bytes.length;
    e.reported += bytes.length;
    e.pending.push(bytes);
    return bytes;
  }

  it('frames carry link, epoch, sequence and a checksum; epoch numbers avoid the magic', () => {
    const { bytes, frames } = buildFrames(3, 0x0102, 7, 300, new Rng(1));
    expect(frames).to.be.at.least(2);
    expect([...bytes.subarray(0, 9)]).to.deep.equal([0xa5, 0x5a, 3, 0x02, 0x01, 7, 0, 0, 0]);
    let e = 0;
    let bad = 0;
    for (let i = 0; i < 70_000; i++) {
      e = nextEpochNumber(e);
      if ([e & 0xff, e >> 8].some((b) => b === 0xa5 || b === 0x5a)) bad++;
    }
    expect(bad).to.equal(0);
  });

  it('accepts every byte in order, in any chunking', () => {
    const l = link();
    l.startEpoch(0);
    const bytes = send(l, 2000);
    for (let at = 0; at < bytes.length; at += 37) expect(l.receive(bytes.subarray(at, at + 37), 1)).to.equal(null);
    expect(l.undelivered).to.equal(0);
    expect(l.totalReceived).to.equal(bytes.length);
  });

  it('reports the first byte out of order, with where it was expected', () => {
    const l = link();
    l.startEpoch(0);
    const bytes = send(l, 100).slice();
    bytes[40] ^= 0xff;
    const p = l.receive(bytes, 5);
    expect(p?.kind).to.equal('order');
    expect(p?.message).to.match(/where byte 40 of epoch 1 on link x>y should be/);
    expect(l.receive(Uint8Array.of(1, 2, 3), 6), 'the rest of a broken epoch is not reported again').to.equal(null);
  });

  it('bytes nobody sent are reported', () => {
    const l = link();
    expect(l.receive(Uint8Array.of(9), 1)?.kind).to.equal('unexpected');
  });

  it('an epoch cut by an unplug may lose its tail; the loss is reported and the next epoch checks from its first byte', () => {
    const losses: Loss[] = [];
    const l = link(losses);
    l.startEpoch(0);
    const first = send(l, 500, 1);
    expect(l.receive(first.subarray(0, 123), 1)).to.equal(null);
    l.endEpoch('unplug', 2);
    l.startEpoch(3);
    const second = send(l, 300, 2);
    expect(l.receive(second, 4)).to.equal(null);
    expect(losses).to.have.length(1);
    expect(losses[0]).to.include({ reason: 'unplug', received: 123, handed: first.length, lost: first.length - 123 });
  });

  it('a cut epoch may also lose a middle stretch (a FIFO purged with the rest still on its way), never reorder or corrupt', () => {
    const losses: Loss[] = [];
    const l = link(losses);
    l.startEpoch(0);
    const bytes = send(l, 900, 3);
    expect(l.receive(bytes.subarray(0, 100), 1)).to.equal(null);
    l.endEpoch('unbind', 2);
    // 200 bytes purged, then the rest arrives, in small pieces.
    for (let at = 300; at < bytes.length; at += 5) expect(l.receive(bytes.subarray(at, at + 5), 3)).to.equal(null);
    l.finishAll();
    expect(losses[0]).to.include({ reason: 'unbind', received: bytes.length - 200, lost: 200 });
    // Corruption after a gap is still caught.
    const m = link();
    m.startEpoch(0);
    const b2 = send(m, 900, 4).slice();
    m.receive(b2.subarray(0, 50), 1);
    m.endEpoch('unplug', 2);
    b2[400] ^= 0x55;
    expect(m.receive(b2.subarray(400, 460), 3)?.kind).to.equal('order');
  });

  it('a cut epoch whose last few bytes follow a gap, with the next epoch right behind them, is a loss, not disorder', () => {
    // A rebind purged the middle of the FIFO; the epoch's last 2 bytes were still in flight and
    // arrive just before the first bytes of the epoch the reopened port started.
    const losses: Loss[] = [];
    const l = link(losses);
    l.startEpoch(0);
    const first = send(l, 600, 5);
    expect(l.receive(first.subarray(0, 100), 1)).to.equal(null);
    l.endEpoch('deregister', 2);
    l.startEpoch(3);
    const second = send(l, 300, 6);
    const late = new Uint8Array(2 + second.length);
    late.set(first.subarray(first.length - 2));
    late.set(second, 2);
    expect(l.receive(late, 4)).to.equal(null);
    l.finishAll();
    expect(losses[0]).to.include({ reason: 'deregister', received: 102, lost: first.length - 102 });
    // Bytes of neither epoch in that place are still caught.
    const m = link();
    m.startEpoch(0);
    const a = send(m, 600, 7);
    m.receive(a.subarray(0, 100), 1);
    m.endEpoch('deregister', 2);
    m.startEpoch(3);
    const b = send(m, 300, 8);
    const bad = new Uint8Array(2 + b.length);
    bad.set([a[a.length - 2]! ^ 0x55, a[a.length - 1]!]);
    bad.set(b, 2);
    expect(m.receive(bad, 4)?.kind).to.equal('order');
  });

  it('after a cut epoch, a later epoch that was cut too may lose its first bytes (a killed IN transfer held them); the rest arrives at the next open', () => {
    // A CDC-ACM port (no purge request): epoch 1 cut by a deregistration with its tail lost, the
    // port reopened and cut again (epoch 2, its first 256 bytes lost), then the rest of epoch 2
    // arrives after the rebind, before epoch 3's bytes.
    const losses: Loss[] = [];
    const l = link(losses);
    l.startEpoch(0);
    const first = send(l, 900, 9);
    expect(l.receive(first.subarray(0, 300), 1)).to.equal(null);
    l.endEpoch('deregister', 2);
    l.startEpoch(3);
    const second = send(l, 1200, 10);
    l.endEpoch('deregister', 4);
    l.startEpoch(5);
    const third = send(l, 200, 11);
    expect(l.receive(second.subarray(256, 700), 6)).to.equal(null);
    expect(l.receive(second.subarray(700), 6)).to.equal(null);
    expect(l.receive(third, 7)).to.equal(null);
    expect(l.undelivered).to.equal(0);
    l.finishAll();
    expect(losses.map((x) => [x.reason, x.lost])).to.deep.equal([
      ['deregister', first.length - 300],
      ['deregister', 256],
    ]);
    // Not past an epoch ended by a close with bytes owed, and not into the open epoch's middle.
    const m = link();
    m.startEpoch(0);
    const a = send(m, 600, 12);
    m.receive(a.subarray(0, 100), 1);
    m.endEpoch('deregister', 2);
    m.startEpoch(3);
    const b = send(m, 600, 13);
    m.endEpoch('close', 4);
    m.startEpoch(5);
    const c = send(m, 600, 14);
    expect(m.receive(c.subarray(100, 200), 6)?.kind).to.equal('order');
    const n = link();
    n.startEpoch(0);
    const d = send(n, 600, 15);
    n.receive(d.subarray(0, 100), 1);
    n.endEpoch('deregister', 2);
    n.startEpoch(3);
    const f = send(n, 600, 16);
    expect(n.receive(f.subarray(100, 200), 4)?.kind, 'the open epoch loses nothing').to.equal('order');
    void b;
  });

  it('an epoch ended by a close may not lose bytes: the next epoch\'s bytes are then out of order', () => {
    const l = link();
    l.startEpoch(0);
    send(l, 200, 1);
    l.endEpoch('close', 1);
    l.startEpoch(2);
    const second = send(l, 50, 2);
    expect(l.receive(second, 3)?.kind).to.equal('order');
  });

  it('keeps memory flat: finished epochs are dropped', () => {
    const l = link();
    for (let i = 0; i < 500; i++) {
      l.startEpoch(i);
      const b = send(l, 10, i);
      expect(l.receive(b, i)).to.equal(null);
      l.endEpoch('close', i);
    }
    l.startEpoch(999);
    expect(l.epochs.length).to.be.at.most(2);
  });
});

describe('stress: hub descriptors and names', () => {
  it('reads power switching from wHubCharacteristics bits 1:0 (USB 2.0 and SuperSpeed descriptors)', () => {
    expect(parseHubDescriptor(Uint8Array.of(9, 0x29, 4, 0x09, 0x00, 50, 100, 0, 0xff))).to.deep.equal({
      ports: 4,
      characteristics: 0x09,
      powerSwitching: 'per-port',
      powerOnToGoodMs: 100,
      superSpeed: false,
    });
    expect(parseHubDescriptor(Uint8Array.of(9, 0x29, 4, 0x00, 0x00, 50, 100, 0, 0xff)).powerSwitching).to.equal('ganged');
    expect(parseHubDescriptor(Uint8Array.of(9, 0x29, 4, 0x02, 0x00, 50, 100, 0, 0xff)).powerSwitching).to.equal('none');
    const ss = parseHubDescriptor(Uint8Array.of(12, 0x2a, 4, 0x01, 0x00, 50, 0, 0, 0, 0, 0, 0));
    expect(ss).to.include({ superSpeed: true, powerSwitching: 'per-port', ports: 4 });
    expect(() => parseHubDescriptor(Uint8Array.of(18, 1, 0, 2))).to.throw(/not a hub descriptor/);
  });

  it('names a device\'s hub and port by bus/port path, and builds udev\'s ID_PATH as labgrid matches it', () => {
    expect(parentPort('1-2.3')).to.deep.equal({ hub: '1-2', port: 3 });
    expect(parentPort('1-4')).to.deep.equal({ hub: 'usb1', port: 4 });
    expect(parentPort('2-1.4.2')).to.deep.equal({ hub: '2-1.4', port: 2 });
    expect(parentPort('1-0')).to.equal(null);
    expect(idPathFromSysfs('/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2', '1-2')).to.equal('pci-0000:00:14.0-usb-0:2');
    expect(idPathFromSysfs('/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2.4', '1-2.4')).to.equal('pci-0000:00:14.0-usb-0:2.4');
    expect(idPathFromSysfs('/sys/devices/platform/soc/3f980000.usb/usb1/1-1', '1-1')).to.equal('platform-3f980000.usb-usb-0:1');
  });
});

describe('stress: the modem-lines invariant', () => {
  const sample = (read: ModemSample['read'], extra: Partial<ModemSample> = {}): ModemSample => ({ link: 'x>y', from: 'x', receiver: 'ttyUSB1', set: { dtr: true, rts: false }, read, ...extra });

  it('a receiver reads the sender’s RTS as CTS and DTR as DSR and DCD; fixed inputs read their fixed value', () => {
    expect(modemVerdicts([sample({ cts: false, dsr: true, dcd: true })]).findings).to.deep.equal([]);
    expect(modemVerdicts([sample({ cts: true, dsr: true, dcd: true }, { fixed: { cts: true } })]).findings).to.deep.equal([]);
    const stale = modemVerdicts([sample({ cts: true, dsr: false, dcd: false })]);
    expect(stale.checked).to.deep.equal(['modem-lines']);
    expect(stale.findings.map((f) => f.message)).to.deep.equal(['ttyUSB1 reads cts=1 dsr=0 dcd=0 while x set rts=0 dtr=1 (link x>y)']);
  });

  it('a receiver whose device reports no input lines must read its driver’s idle values, whatever the sender set', () => {
    const uno = { fixed: { cts: true }, reported: false } as const;
    expect(modemVerdicts([sample({ cts: true, dsr: false, dcd: false }, uno)]).findings).to.deep.equal([]);
    const raised = modemVerdicts([sample({ cts: true, dsr: true, dcd: true }, uno)]);
    expect(raised.findings.map((f) => f.message)).to.deep.equal(['ttyUSB1 reads cts=1 dsr=1 dcd=1 while x set rts=0 dtr=1 (link x>y; its device reports no input lines)']);
  });
});
