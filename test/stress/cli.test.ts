// `usb-harness stress` as registered on a commander program: output, exit codes, report files,
// the replay line of a failing run and the minimal schedule it replays.
import { expect } from 'chai';
import { Command } from 'commander';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDriverSets } from '../../drivers/index.ts';
import { createMockLab } from '../../mocks/lab.ts';
import { registerStressCommand, STRESS_EXIT, type StressCommandContext } from '../../src/stress/cli.ts';
import { NoUsbSubsystemError } from '../../src/usb/index.ts';
import { brokenLab } from './fixtures/broken-drivers.ts';

async function run(args: string[], ctx: Partial<StressCommandContext> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command().name('usb-harness').exitOverride();
  registerStressCommand(program, {
    driverSets: defaultDriverSets,
    createLab: () => createMockLab({ driverSets: defaultDriverSets() }),
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    ...ctx,
  });
  const saved = process.exitCode;
  try {
    await program.parseAsync(['node', 'usb-harness', 'stress', ...args]);
    return { code: process.exitCode ?? 0, out: out.join('\n'), err: err.join('\n') };
  } finally {
    process.exitCode = saved;
  }
}

describe('stress: the command line', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stress-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs on the mock lab, prints the summary table, writes the JSON report and the HTML timeline', async () => {
    const r = await run(['--mock-lab', '--seed', '5', '--events', '300', '--report-dir', dir]);
    expect(r.code).to.equal(STRESS_EXIT.ok);
    expect(r.err).to.match(/stress: seed 0x00000005 on the mock lab/);
    expect(r.out).to.match(/stress 0x00000005 on the mock lab: 300 events/);
    expect(r.out).to.match(/^invariant\s+checks\s+violations$/m);
    expect(r.out).to.match(/^method-after-unregistration\s+\d+\s+-$/m);
    expect(r.out).to.match(/PASS: no invariant broken/);
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'));
    expect(report).to.include({ kind: 'usb-harness-stress-report', seed: 5, events: 300, ok: true });
    const html = await readFile(join(dir, 'timeline.html'), 'utf8');
    expect(html).to.match(/^<!doctype html>/);
    expect(html).to.include('<svg');
    expect(html).to.include('dongle ft232r');
    expect(html).to.include('PASS');
  });

  it('--json prints the report on stdout', async () => {
    const r = await run(['--mock-lab', '--seed', '6', '--events', '100', '--json', '--no-report']);
    expect(r.code).to.equal(0);
    const report = JSON.parse(r.out);
    expect(report.replay.command).to.equal('usb-harness stress --mock-lab --seed 0x00000006 --events 100');
    expect(report.counts.plug.issued + report.counts.unplug.issued).to.be.greaterThan(0);
  });

  it('a failing run exits 1, prints the line that replays it and the minimal schedule, which replays the failure', async () => {
    const ctx = { createLab: brokenLab('leak-dynamic-id') };
    const r = await run(['--mock-lab', '--seed', '1', '--events', '400', '--report-dir', dir], ctx);
    expect(r.code).to.equal(STRESS_EXIT.violations);
    expect(r.out).to.match(/FAIL: \d+ violation/);
    expect(r.out).to.match(/\[leaked-dynamic-id\] event #\d+ \(seed 0x00000001\): usb driver 'ftdi_sio' keeps dynamic ID 0403:7777 that none of its serial drivers has/);
    expect(r.out).to.include('replay: usb-harness stress --mock-lab --seed 0x00000001 --events 400');
    expect(r.out).to.match(/shrunk to \d of \d+ events/);
    const schedule = join(dir, 'minimal-schedule.json');
    expect((await stat(schedule)).size).to.be.greaterThan(0);
    expect(r.out).to.include(`replay the minimal schedule: usb-harness stress --mock-lab --schedule ${schedule}`);
    const again = await run(['--mock-lab', '--schedule', schedule, '--no-report', '--no-shrink'], ctx);
    expect(again.code).to.equal(STRESS_EXIT.violations);
    expect(again.out).to.match(/\[leaked-dynamic-id\].*seed 0x00000001/);
  });

  it('--dry-run lists the hubs with per-port power switching and what hangs from each port', async () => {
    const r = await run(['--mock-lab', '--dry-run']);
    expect(r.code).to.equal(0);
    expect(r.out).to.match(/hub 1-1 .* per-port power switching/);
    expect(r.out).to.match(/port 1: power on, 1-1\.1 0403:6001 .*\(ours\)  \[will cycle by hub-request\]/);
    expect(r.out).to.match(/NOT ours\)  \[refused without --force\]/);
  });

  it('bad options exit 2 naming the problem; no USB exits 3', async () => {
    let r = await run(['--mock-lab', '--rates', 'warp=2']);
    expect(r.code).to.equal(STRESS_EXIT.usage);
    expect(r.err).to.match(/unknown event kind 'warp'/);
    r = await run(['--mock-lab', '--duration', 'soon']);
    expect(r.code).to.equal(STRESS_EXIT.usage);
    expect(r.err).to.match(/duration 'soon' is not like 30s/);
    r = await run(['--mock-lab', '--events', '-3']);
    expect(r.code).to.equal(STRESS_EXIT.usage);
    r = await run(['--events', '10'], {
      createBackend: async () => {
        throw new NoUsbSubsystemError('libusb', 'no /sys/bus/usb');
      },
    });
    expect(r.code).to.equal(STRESS_EXIT.noUsb);
    expect(r.err).to.match(/no USB subsystem .* --mock-lab/);
  });
});
