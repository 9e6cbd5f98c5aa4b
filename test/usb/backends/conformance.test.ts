// The hardware conformance suite run against this directory's backends over fake native
// modules: proves the suite's checks pass on conforming backends (and so can be trusted on
// hardware and on the mock host), and the backends against host.ts's contract.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LibusbBackend } from '../../../src/usb/backends/libusb.ts';
import { NusbBackend } from '../../../src/usb/backends/nusb.ts';
import { runBackendConformance, type ConformanceResult } from '../../../hardware-tests/backend-conformance.ts';
import { FakeLegacyDevice, FakeLibusb } from './fake-libusb.ts';
import { FakeNusb, FakeNusbDevice } from './fake-nusb.ts';

const pick = (devices: { usb: USBDevice }[]) => devices.find((d) => d.usb.vendorId === 0x0403) as never;

function outcomes(results: ConformanceResult[]): string[] {
  return results.filter((r) => r.outcome !== 'passed').map((r) => `${r.outcome}: ${r.check}: ${r.detail}`);
}

describe('conformance suite against the libusb and nusb backends (fake native modules)', function () {
  this.timeout(20_000);
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'usb-sysfs-'));
    mkdirSync(join(root, 'devices', '1-2.3'), { recursive: true });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('libusb: every check passes', async () => {
    const lib = new FakeLibusb();
    let addr = 5;
    const make = () => {
      const d = new FakeLegacyDevice(lib, 1, [2, 3], addr++);
      d.autoTimeout = true;
      return d;
    };
    let current = make();
    lib.devices.push(current);
    const lines: string[] = [];
    const results = await runBackendConformance(
      'libusb(fake)',
      () => new LibusbBackend(lib, { platform: 'linux', sysfsUsbPath: root, inTimeoutMs: 150 }),
      {
        pickDevice: pick,
        idleIn: { endpointNumber: 1, timeoutMs: 150 },
        hotplug: {
          unplug: () => lib.unplug(current),
          plug: () => lib.plug((current = make())),
          timeoutMs: 2000,
        },
        log: (l) => lines.push(l),
      },
    );
    expect(outcomes(results)).to.deep.equal([]);
    expect(lines).to.deep.equal([]);
    expect(current.kernelDriverActive.has(0)).to.equal(true, 'kernel driver re-attached after the checks');
  });

  it('nusb: every check passes', async () => {
    const lib = new FakeNusb();
    let addr = 2;
    const make = () => {
      const d = new FakeNusbDevice('1', [1], addr++);
      d.autoRespond = true;
      d.kernelDriverBound = false;
      return d;
    };
    let current = make();
    lib.devices.push(current);
    const lines: string[] = [];
    const results = await runBackendConformance(
      'nusb(fake)',
      () => new NusbBackend(lib, { platform: 'darwin', inTimeoutMs: 150 }),
      {
        pickDevice: pick,
        idleIn: { endpointNumber: 1, timeoutMs: 150 },
        hotplug: {
          unplug: () => lib.unplug(current),
          plug: () => lib.plug((current = make())),
          timeoutMs: 2000,
        },
        log: (l) => lines.push(l),
      },
    );
    expect(outcomes(results)).to.deep.equal([]);
  });

  it('prints why it skips instead of passing silently', async () => {
    const lib = new FakeLibusb();
    lib.devices.push(new FakeLegacyDevice(lib));
    const lines: string[] = [];
    const results = await runBackendConformance('bare', () => new LibusbBackend(lib, { platform: 'darwin' }), {
      log: (l) => lines.push(l),
    });
    expect(results.filter((r) => r.outcome === 'passed').map((r) => r.check)).to.have.length(3);
    expect(lines).to.have.length(6);
    expect(lines[0]).to.match(/^\[bare\] skipped "/);
    const none = await runBackendConformance(
      'nousb',
      () => new LibusbBackend(new FakeLibusb(), { platform: 'linux', sysfsUsbPath: '/nonexistent/sys/bus/usb' }),
      { log: (l) => lines.push(l) },
    );
    expect(none.every((r) => r.outcome === 'skipped')).to.equal(true);
    expect(lines.at(-1)).to.equal('[nousb] skipped: no USB subsystem (/nonexistent/sys/bus/usb missing)');
  });
});
