// `--capture FILE` and `replay FILE` end to end, in child processes, on the built-in mock lab.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUsbmonEvents } from '../../src/capture/index.ts';
import { runCliProcess as run } from '../helpers/cli.ts';

describe('cli: --capture and replay', function () {
  this.timeout(60_000);
  let dir: string;
  let file: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capture-cli-'));
    file = join(dir, 'lab.pcapng');
    const r = await run(['--mock-lab', '--capture', file, 'loopback', 'ttyUSB0', '--bytes', '64', '--baud', '115200']);
    expect(r.code, r.stderr).to.equal(0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--capture records every device of the run, each starting with its descriptors', () => {
    const events = readUsbmonEvents(readFileSync(file));
    const devices = new Set(events.map((e) => `${e.bus}:${e.device}`));
    expect(devices.size).to.be.greaterThan(3);
    for (const d of devices) {
      const first = events.find((e) => `${e.bus}:${e.device}` === d)!;
      expect(first.setup, d).to.deep.equal({ bmRequestType: 0x80, bRequest: 6, wValue: 0x0100, wIndex: 0, wLength: 18 });
    }
    expect(events.some((e) => e.transfer === 'bulk' && e.type === 'S' && e.endpoint === 0x02 && e.data?.length === 64)).to.equal(true);
  });

  it('replay with the recorded settings: every request the same, exit 0', async () => {
    const r = await run(['replay', file, '--device', '1:2', '--baud', '115200']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^replay of .*device 1:2 \(0403:6001 bcdDevice 0600\): (\d+) recorded, \1 sent, 0 differ$/m);
    expect(r.stdout).to.include('= r5   s5   control OUT 40 vendor/device bRequest 0x03 wValue 0x001a wIndex 0x0000 wLength 0');
  });

  it('replay with another baud rate: the diff shows SET_BAUD_RATE, exit 1', async () => {
    const r = await run(['--json', 'replay', file, '--device', '1:2', '--baud', '9600', '--fallback', 'chip']);
    expect(r.code, r.stderr).to.equal(1);
    const j = JSON.parse(r.stdout) as { differences: number; diff: string[] };
    expect(j.differences).to.equal(2);
    expect(j.diff.filter((l) => !l.startsWith('='))).to.deep.equal([
      '- r5        control OUT 40 vendor/device bRequest 0x03 wValue 0x001a wIndex 0x0000 wLength 0',
      '+      s5   control OUT 40 vendor/device bRequest 0x03 wValue 0x4138 wIndex 0x0000 wLength 0',
    ]);
  });

  it('replay of a file that is no capture: a usage error naming the problem', async () => {
    const bad = join(dir, 'bad.pcapng');
    writeFileSync(bad, Buffer.alloc(64, 0xee));
    const r = await run(['replay', bad]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/cannot read capture .*not a pcap or pcapng file/);
  });
});
