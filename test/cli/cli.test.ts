// The CLI end to end, in child processes, on the built-in mock lab.
import { expect } from 'chai';
import { runCliProcess as run } from '../helpers/cli.ts';

describe('cli: usb-harness end to end', function () {
  this.timeout(60_000);

  it('help lists every command', async () => {
    const r = await run(['--help']);
    expect(r.code).to.equal(0);
    for (const c of ['list', 'monitor', 'console', 'loopback', 'attr', 'demo', 'stress']) expect(r.stdout).to.include(c);
  });

  it('list --json shows devices, bound drivers and ports', async () => {
    const r = await run(['--mock-lab', '--json', 'list']);
    expect(r.code, r.stderr).to.equal(0);
    const { devices } = JSON.parse(r.stdout) as { devices: { name: string; interfaces: { driver: string | null; ports: { name: string }[] }[] }[] };
    const ft = devices.find((d) => d.name === '1-1.1')!;
    expect(ft.interfaces[0]!.driver).to.equal('ftdi_sio');
    expect(ft.interfaces[0]!.ports[0]!.name).to.match(/^ttyUSB\d+$/);
    expect(devices.find((d) => d.name === '1-1.5')!.interfaces[0]!.driver, 'a foreign device stays unbound').to.equal(null);
  });

  it('loopback passes byte-exact on a loopback plug and on a cross-wired pair', async () => {
    let r = await run(['--mock-lab', '--json', 'loopback', 'serial:LABFT232R:if0', '--bytes', '256k']);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ ok: true, received: 262144, mismatches: 0 });
    r = await run(['--mock-lab', '--json', 'loopback', 'serial:LABFT2232H:if0', 'serial:LABFT2232H:if1', '--bytes', '128k']);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ ok: true });
  });

  it('loopback prints rates people read, and says when the mock lab does not pace the wire; --paced paces it', async () => {
    let r = await run(['--mock-lab', 'loopback', 'serial:LABFT232R:if0', '--bytes', '64k']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^ttyUSB0 -> ttyUSB0: 65536\/65536 bytes in [\d.]+ s \([\d,.]+ (KiB|B)\/s\) at 115,385 baud \(115,200 requested\)$/m);
    expect(r.stdout).to.include("note: the mock lab's wire is not paced at the baud rate (a real line carries at most 11.3 KiB/s here)");
    r = await run(['--mock-lab', '--paced', '--json', 'loopback', 'serial:LABFT232R:if0', '--bytes', '8k']);
    expect(r.code, r.stderr).to.equal(0);
    const paced = JSON.parse(r.stdout) as { ok: boolean; paced: boolean; bytesPerSecond: number; lineBytesPerSecond: number; requestedBaudRate: number };
    expect(paced).to.include({ ok: true, paced: true, requestedBaudRate: 115200, lineBytesPerSecond: 11538 });
    expect(paced.bytesPerSecond, 'a paced wire carries no more than the line').to.be.at.most(paced.lineBytesPerSecond);
    r = await run(['--mock-lab', '--paced', 'loopback', 'serial:LABFT232R:if0', '--bytes', '4k']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).not.to.include('not paced');
  });

  it('bad options give one clear line and a non-zero exit code', async () => {
    let r = await run(['--mock-lab', 'loopback', 'ttyUSB99']);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/no usb-serial port 'ttyUSB99' \(ports now: serial:LABFT232R:if0, /);
    r = await run(['--mock-lab', 'loopback', 'serial:LABFT232R:if0', '--baud', '13']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/cannot run at 13 baud.*nearest/);
    r = await run(['--mock-lab', 'loopback', 'serial:GC0001:if0', '--parity', 'sideways']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/parity 'sideways'/);
    r = await run(['--mock-lab', 'attr', 'write', 'bus/usb-serial/drivers/ftdi_sio/new_id', 'zz']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/too few fields/);
  });

  it('without USB (and without --mock-lab) says so, with exit code 3', async () => {
    const r = await run(['list']);
    if (r.code === 0) return; // a machine with USB: nothing to check here
    expect(r.code).to.equal(3);
    expect(r.stderr).to.match(/no USB subsystem.*--mock-lab/);
  });

  it('console echoes piped stdin through a loopback plug', async () => {
    const r = await run(['--mock-lab', 'console', 'serial:LABFT232R:if0', '--baud', '9600'], 'hello, dongle\n');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('hello, dongle\n');
    expect(r.stderr).to.match(/connected to ttyUSB\d+ .* at 96\d\d(\.\d+)? baud/);
  });

  it('attr lists the files of a serial driver', async () => {
    const r = await run(['--mock-lab', '--json', 'attr', 'list', 'bus/usb-serial/drivers/ftdi_sio']);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).entries).to.deep.equal(['new_id', 'remove_id']);
  });

  it('monitor prints hotplug and uevents as JSON lines', async () => {
    // --churn unplugs each of the lab's dongles in turn before the first replug (a bind): with 10
    // dongles at 40 ms that takes 400 ms, so the run lasts past it.
    const r = await run(['--mock-lab', '--json', 'monitor', '--duration', '800', '--churn', '40']);
    expect(r.code, r.stderr).to.equal(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { source: string; action: string });
    expect(events.some((e) => e.source === 'hotplug' && e.action === 'detach')).to.equal(true);
    expect(events.some((e) => e.source === 'uevent' && e.action === 'bind')).to.equal(true);
  });

  it('demo (npm start) shows the lab working and exits 0', async () => {
    const r = await run(['demo']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/udev rule: new_id '1209 7a01' -> ftdi_sio: ok/);
    expect(r.stdout).to.match(/PortDisconnectedError/);
    expect(r.stdout).to.match(/pins left 0, dynamic IDs left 0/);
    expect(r.stdout).to.match(/all good/);
  });

  /** The pino lines on stderr, parsed (every stderr line of these runs is one). */
  const logLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { level: number; component?: string });

  it('stress --json: stdout is the JSON report alone; logs go to stderr, warnings only unless -v, -vv or LOG_LEVEL ask', async () => {
    const stress = ['stress', '--mock-lab', '--seed', '1', '--events', '100', '--json', '--no-report', '--no-progress'];
    let r = await run(stress, undefined, null);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ kind: 'usb-harness-stress-report', ok: true });
    expect(logLines(r.stderr).every((l) => l.level >= 40), 'default: warn and above').to.equal(true);
    for (const [args, level] of [
      [[...stress, '-vv'], null],
      [['-vv', ...stress], null],
      [stress, 'debug'],
    ] as const) {
      r = await run([...args], undefined, level);
      expect(r.code, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout), args.join(' ')).to.include({ kind: 'usb-harness-stress-report' });
      expect(logLines(r.stderr).some((l) => l.level === 20), `${args.join(' ')} LOG_LEVEL=${level}: debug lines on stderr`).to.equal(true);
    }
  });

  it('list --json: stdout is the JSON document alone at any log level', async () => {
    const cases: [string[], string | null, 'quiet' | 'loud'][] = [
      [['--mock-lab', '--json', 'list'], null, 'quiet'],
      [['--mock-lab', '--json', 'list', '-vv'], null, 'loud'],
      [['--mock-lab', '--json', 'list'], 'trace', 'loud'],
    ];
    for (const [args, level, expected] of cases) {
      const r = await run(args, undefined, level);
      expect(r.code, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout), args.join(' ')).to.have.property('devices').that.is.an('array').with.length.greaterThan(0);
      const lines = logLines(r.stderr);
      if (expected === 'loud') expect(lines.some((l) => l.level <= 20), `${args.join(' ')} LOG_LEVEL=${level}: debug lines on stderr`).to.equal(true);
      else expect(lines.every((l) => l.level >= 40), 'default: warn and above').to.equal(true);
    }
  });
});
