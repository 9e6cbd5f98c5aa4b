// `--capture FILE` on every command of usb-harness: each writes a pcapng that tshark reads
// without a warning and that holds that command's own traffic. The commands run as child
// processes, as a user runs them, all at once (each is mostly tsx starting up).
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUsbmonEvents, type UsbmonEvent } from '../../src/capture/index.ts';
import { runCliProcess as run, type CliRun } from '../helpers/cli.ts';
import { fields, tshark } from './tshark.ts';

const ascii = (e: UsbmonEvent) => (e.data ? new TextDecoder().decode(e.data) : '');
/**
 * tshark's warnings, but for one that real captures show too: the Uno's SERIAL_STATE is 10 bytes
 * on an 8-byte interrupt endpoint, and cdc-acm reads it with URBs of the packet size
 * (acm_probe: ctrlsize = usb_endpoint_maxp), so its last 2 bytes come as a transfer of their
 * own, which Wireshark's USBCOM dissector, reading each URB as a whole notification, calls
 * malformed.
 */
const warnings = (file: string) =>
  tshark(file, '-Y', '(_ws.malformed or _ws.expert.severity >= 6291456) and not (usbcom and usb.transfer_type == 0x01 and usb.data_len < 8)').trim();
const devices = (events: UsbmonEvent[]) => new Set(events.map((e) => `${e.bus}:${e.device}`));

describe('cli: --capture FILE on every command', function () {
  this.timeout(120_000);
  let dir: string;
  const runs = new Map<string, CliRun>();
  const file = (name: string) => join(dir, `${name}.pcapng`);
  const commands: Record<string, { args: (f: string) => string[]; stdin?: string }> = {
    list: { args: (f) => ['--mock-lab', '--capture', f, 'list'] },
    monitor: { args: (f) => ['--mock-lab', '--capture', f, 'monitor', '--duration', '400', '--churn', '40'] },
    console: { args: (f) => ['--mock-lab', '--capture', f, 'console', 'serial:LABFT232R:if0', '--baud', '9600'], stdin: 'hello, dongle\n' },
    loopback: { args: (f) => ['--mock-lab', 'loopback', 'ttyUSB0', '--bytes', '300', '--capture', f] },
    attr: { args: (f) => ['--mock-lab', '--capture', f, 'attr', 'write', 'bus/usb-serial/drivers/ftdi_sio/new_id', '0403 7777'] },
    // `npm start -- --capture f` is `app/main.ts demo --capture f`
    demo: { args: (f) => ['demo', '--capture', f] },
    // after `stress` (its own option) and before it (the program's)
    stress: { args: (f) => ['stress', '--mock-lab', '--seed', '1', '--events', '60', '--no-report', '--no-progress', '--capture', f] },
    'stress-global': { args: (f) => ['--capture', f, 'stress', '--mock-lab', '--seed', '1', '--events', '60', '--no-report', '--no-progress'] },
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capture-every-'));
    await Promise.all(
      Object.entries(commands).map(async ([name, c]) => {
        runs.set(name, await run(c.args(file(name)), c.stdin));
      }),
    );
    // replay plays the loopback's capture back and records what our driver sends to it
    runs.set('replay', await run(['--capture', file('replay'), 'replay', file('loopback'), '--device', '1:2', '--baud', '115200']));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The command's exit code, and tshark's clean reading of its file; its events. */
  function captured(name: string): UsbmonEvent[] {
    const r = runs.get(name)!;
    expect(r.code, `${name}: ${r.stderr}`).to.equal(0);
    expect(existsSync(file(name)), `${name} wrote no capture`).to.equal(true);
    expect(warnings(file(name)), name).to.equal('');
    return readUsbmonEvents(readFileSync(file(name)));
  }

  it('list: every dongle enumerated and probed', () => {
    const ev = captured('list');
    expect(devices(ev).size).to.be.greaterThan(5);
    expect(fields(file('list'), 'ftdi-ft.latency_time', 'ftdi-ft.latency_time').length).to.be.greaterThan(0);
  });

  it('monitor: dongles unplugged and plugged again show as new attachments', () => {
    const ev = captured('monitor');
    const enumerations = ev.filter((e) => e.type === 'S' && e.setup?.bRequest === 6 && e.setup.wValue === 0x0100);
    expect(enumerations.length).to.be.greaterThan(devices(ev).size - 1);
  });

  it('console: the piped line goes out on bulk OUT and comes back in', () => {
    const ev = captured('console');
    expect(ev.some((e) => e.type === 'S' && e.transfer === 'bulk' && ascii(e).includes('hello, dongle'))).to.equal(true);
    expect(fields(file('console'), 'ftdi-ft.if_a_rx_payload', 'ftdi-ft.if_a_rx_payload').length).to.be.greaterThan(0);
  });

  it('loopback: the bytes sent', () => {
    const ev = captured('loopback');
    expect(ev.filter((e) => e.type === 'S' && e.transfer === 'bulk' && e.endpoint === 0x02).reduce((n, e) => n + (e.data?.length ?? 0), 0)).to.equal(300);
  });

  it('attr: new_id makes ftdi_sio probe', () => {
    const ev = captured('attr');
    expect(ev.some((e) => e.setup?.bmRequestType === 0x40)).to.equal(true);
  });

  it('demo: every loopback of the demo, and the yanked FT232R cut short (-108)', () => {
    const ev = captured('demo');
    expect(ev.filter((e) => e.type === 'S' && e.transfer === 'bulk' && !(e.endpoint & 0x80)).reduce((n, e) => n + (e.data?.length ?? 0), 0)).to.be.at.least(65536);
    expect(ev.some((e) => e.type === 'C' && e.status === -108)).to.equal(true);
  });

  for (const name of ['stress', 'stress-global']) {
    it(`${name}: the run's traffic on every dongle`, () => {
      const ev = captured(name);
      expect(runs.get(name)!.stdout).to.include(`capture of the whole run: ${file(name)}`);
      expect(devices(ev).size).to.be.greaterThan(5);
      expect(ev.some((e) => e.transfer === 'bulk')).to.equal(true);
    });
  }

  it('replay: what our driver sent to the replayed FT232R', () => {
    const ev = captured('replay');
    expect(fields(file('replay'), 'ftdi-ft.bRequest == 3', 'ftdi-ft.lValue')).to.deep.equal([['0x1a']]);
    expect(devices(ev).size).to.equal(1);
  });

  it('a capture file that cannot be written: a clear error naming it, exit 2', async () => {
    const bad = join(dir, 'no', 'such', 'dir.pcapng');
    const [stress, list] = await Promise.all([run(['stress', '--mock-lab', '--events', '5', '--no-report', '--capture', bad]), run(['--mock-lab', '--capture', bad, 'list'])]);
    for (const r of [stress, list]) {
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.include(`cannot write capture '${bad}'`);
      expect(r.stderr).to.match(/no such file or directory/i);
    }
  });
});
