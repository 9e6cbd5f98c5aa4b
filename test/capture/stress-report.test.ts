// A failing stress run attaches the capture of the dongles its violations involve: a
// deliberately broken FTDI driver (test/stress/fixtures) leaks a claim on the FT2232H, and the
// report names a pcapng of that dongle that tshark reads, holding its transfers.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUsbmonEvents } from '../../src/capture/index.ts';
import { involvedDongles } from '../../src/stress/capture.ts';
import { runOnce, writeReports } from '../../src/stress/index.ts';
import { createMockLab } from '../../mocks/lab.ts';
import { defaultDriverSets } from '../../drivers/index.ts';
import { brokenLab } from '../stress/fixtures/broken-drivers.ts';
import { fields, warnings } from './tshark.ts';

describe('stress: a failing run attaches the capture of the involved dongles', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'capture-stress-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('forget-release-interface: the report names capture-ft2232h.pcapng, tshark reads the FT2232H in it', async () => {
    const r = await runOnce({ seed: 1, events: 400, lab: brokenLab('forget-release-interface') });
    expect(r.ok).to.equal(false);
    const leak = r.violations.findIndex((v) => v.invariant === 'leaked-claim');
    expect(leak, r.violations.map((v) => v.message).join('\n')).to.be.at.least(0);
    expect(involvedDongles(r.violations[leak]!, r.topology)).to.deep.equal(['ft2232h']);
    const files = await writeReports(join(dir, 'broken'), r);
    const mine = files.captures?.find((c) => c.dongle === 'ft2232h');
    expect(mine, JSON.stringify(files.captures)).to.not.equal(undefined);
    expect(mine!.violations).to.include(leak);
    expect(mine!.file).to.equal(join(dir, 'broken', 'capture-ft2232h.pcapng'));
    const report = JSON.parse(readFileSync(files.json, 'utf8')) as { captures: { dongle: string; file: string }[]; capture: { dongles: Record<string, { events: number }> } };
    expect(report.captures.map((c) => c.file)).to.include(mine!.file);
    expect(report.capture.dongles.ft2232h!.events).to.equal(mine!.events);

    expect(warnings(mine!.file)).to.equal('');
    // only the FT2232H (0403:6010, bcdDevice 0x0700) is in it: its descriptors, once per attachment
    const ids = fields(mine!.file, 'usb.bDescriptorType == 1 && usb.idVendor', 'usb.idVendor', 'usb.idProduct', 'usb.bcdDevice');
    expect(ids.length).to.be.greaterThan(0);
    expect(new Set(ids.map((i) => i.join(' ')))).to.deep.equal(new Set(['0x0403 0x6010 0x0700']));
    // the FTDI dissector decodes its vendor requests (a baud rate set on opening channel A)
    expect(fields(mine!.file, 'ftdi-ft.bRequest == 3', 'ftdi-ft.bRequest').length).to.be.greaterThan(0);
    const events = readUsbmonEvents(readFileSync(mine!.file));
    expect(events.length).to.equal(mine!.events);
    expect(events.some((e) => e.transfer === 'bulk')).to.equal(true);
  });

  it('a passing run writes no capture; the seed replays the same with the recorder on and off', async () => {
    const lab = () => createMockLab({ driverSets: defaultDriverSets() });
    const on = await runOnce({ seed: 3, events: 150, lab });
    const off = await runOnce({ seed: 3, events: 150, lab, capture: false });
    expect(on.ok, on.violations.map((v) => v.message).join('\n')).to.equal(true);
    expect(on.traceHash).to.equal(off.traceHash);
    expect(off.capture).to.equal(undefined);
    expect(on.capture!.dongles().length).to.be.greaterThan(1);
    const files = await writeReports(join(dir, 'pass'), on);
    expect(files.captures).to.equal(undefined);
  });
});
