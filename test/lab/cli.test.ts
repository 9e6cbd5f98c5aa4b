// `usb-harness lab`: in-process against the stand-in for usbip (what it prints, exit codes),
// and as a user runs it (a bad lab file names the field; one line, exit code 2).
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labCommand } from '../../src/cli/commands/lab.ts';
import { Lab, parseLabFile } from '../../src/lab/index.ts';
import { runCliProcess as run } from '../helpers/cli.ts';
import { FakeUsbip } from './fake-usbip.ts';

const dir = mkdtempSync(join(tmpdir(), 'lab-cli-'));
const file = (name: string, body: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
  return p;
};
const labFile = file('lab.json', { hosts: [{ name: 'rack1', address: '10.0.0.5', dongles: [{ busid: '1-1', name: 'ft' }, { busid: '1-2' }] }] });

function capture(json: boolean) {
  const lines: string[] = [];
  const data: unknown[] = [];
  return { out: { json, line: (l: string) => void lines.push(l), data: (v: unknown) => void data.push(v) }, lines, data };
}

function fakeLab() {
  const fake = new FakeUsbip();
  fake.addHost('10.0.0.5', [
    { busid: '1-1', vendorId: 0x0403, productId: 0x6001 },
    { busid: '1-2', vendorId: 0x067b, productId: 0x2303 },
    { busid: '1-3', vendorId: 0x046d, productId: 0xc31c },
  ]);
  return { fake, lab: (text: string, f: string) => new Lab(parseLabFile(text, f), { run: fake.run, enumerateMs: 0 }) };
}

describe('cli: usb-harness lab', function () {
  this.timeout(60_000);

  it('attach shows which remote dongle became which vhci port, local bus ID and port', async () => {
    const { lab } = fakeLab();
    const c = capture(false);
    const findPorts = async () => new Map([['3-1', [{ name: 'ttyUSB0', path: 'serial:FT1:if0' }]]]);
    const code = await labCommand('attach', [], { lab: labFile }, { out: c.out, lab, findPorts });
    expect(code).to.equal(0);
    expect(c.lines).to.deep.equal([
      'dongle     remote                  vhci port  local  ports',
      'ft         10.0.0.5/1-1 0403:6001  0          3-1    ttyUSB0 serial:FT1:if0',
      'rack1/1-2  10.0.0.5/1-2 067b:2303  1          3-2    -',
    ]);
  });

  it('list shows what is offered and what is attached here; detach --json says what went', async () => {
    const { lab } = fakeLab();
    await labCommand('attach', ['ft'], { lab: labFile }, { out: capture(true).out, lab });
    const c = capture(false);
    expect(await labCommand('list', [], { lab: labFile }, { out: c.out, lab })).to.equal(0);
    expect(c.lines[0]).to.equal('rack1 (10.0.0.5:3240): 2 offered');
    expect(c.lines.slice(1).map((l) => l.replace(/\s+/g, ' ').trim())).to.deep.equal([
      '1-2 067b:2303 rack1/1-2 Future Technology Devices International, Ltd : FT232 Serial (UART) IC',
      '1-3 046d:c31c (not in the lab) Future Technology Devices International, Ltd : FT232 Serial (UART) IC',
      '1-1 attached here: ft -> vhci port 0, 3-1',
    ]);
    const d = capture(true);
    expect(await labCommand('detach', [], { lab: labFile }, { out: d.out, lab })).to.equal(0);
    expect((d.data[0] as { detached: { dongle: string }[] }).detached.map((a) => a.dongle)).to.deep.equal(['ft']);
  });

  it('an unreachable host or a failed attach is exit code 1 with the reason', async () => {
    const { fake, lab } = fakeLab();
    fake.hosts[0]!.net = 'refused';
    const c = capture(false);
    expect(await labCommand('list', [], { lab: labFile }, { out: c.out, lab })).to.equal(1);
    expect(c.lines[0]).to.match(/^rack1 \(10\.0\.0\.5:3240\): unreachable: usbip list -r 10\.0\.0\.5 failed/);
    expect(await labCommand('attach', [], { lab: labFile }, { out: c.out, lab })).to.equal(1);
    expect(c.lines.at(-1)).to.match(/^rack1\/1-2: not attached: .*could not connect/);
  });

  it('a bad lab file or a missing one: one line, exit code 2 (as a user runs it); a bad op names itself', async () => {
    let r = await run(['lab', 'attach', '--lab', file('bad.json', { hosts: [{ name: 'r', address: '10.0.0.5', dongles: [{ busid: 'usb1' }] }] })]);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/bad\.json: hosts\[0\]\.dongles\[0\]\.busid: "usb1" is not a USB bus ID/);
    r = await run(['lab', 'reboot', '--lab', join(dir, 'none.json')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/cannot read the lab file .*none\.json/);
    const c = capture(false);
    await labCommand('reboot', [], { lab: labFile }, { out: c.out }).then(
      () => expect.fail('ran'),
      (err: unknown) => expect((err as Error).message).to.equal("lab takes list, attach or detach, not 'reboot'"),
    );
  });
});
