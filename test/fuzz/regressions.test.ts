// Regression tests for what the fuzzer found, each named after its minimal case (shrunk by
// fast-check) and replaying it through the same target, plus the direct check of the fixed rule.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { LibusbBackend, PortDisconnectedError } from '../../src/index.ts';
import { FakeLegacyDevice, FakeLibusb } from '../usb/backends/fake-libusb.ts';
import { createPl2303, mockFtdi } from '../../mocks/index.ts';
import { CrashTrap, fuzzStack } from './harness.ts';
import { libusbTarget, type LibusbDraw } from './libusb-target.ts';
import { controlTarget, dataTarget, descriptorTarget } from './targets.ts';
import type { DeviceDraw } from './devices.ts';

async function trapped(run: () => Promise<string>): Promise<string> {
  const trap = new CrashTrap();
  trap.install();
  try {
    const kind = await run();
    await new Promise((r) => setImmediate(r));
    trap.check();
    return kind;
  } finally {
    trap.uninstall();
  }
}

/** Runs `body` while every event-loop turn takes `ms` (a loaded machine, a heap busy collecting). */
async function withSlowTurns<T>(ms: number, body: () => Promise<T>): Promise<T> {
  let on = true;
  const spin = () => {
    const end = performance.now() + ms;
    while (performance.now() < end);
    if (on) setImmediate(spin);
  };
  setImmediate(spin);
  try {
    return await body();
  } finally {
    on = false;
  }
}

/**
 * Runs one case of a target in a child process with a small heap, killed after `ms`: a case
 * that runs away in an endless chain of promise jobs starves every timer of the process it runs
 * in, so only another process can bound it. Resolves with the case's outcome kind.
 */
function caseInChild(target: string, input: unknown, ms = 90_000): Promise<string> {
  const targets = fileURLToPath(new URL('./targets.ts', import.meta.url));
  const code = `const { TARGETS } = await import(${JSON.stringify(targets)});
const t = TARGETS.find((x) => x.name === ${JSON.stringify(target)});
process.stdout.write('outcome: ' + await t.run(${JSON.stringify(input)}) + '\\n');
process.exit(0);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', '--input-type=module', '-e', code], {
      env: { ...process.env, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = /^outcome: (.*)$/m.exec(out);
      if (code === 0 && m) resolve(m[1]!);
      else reject(new Error(`the case did not end cleanly within ${ms} ms (exit ${code ?? signal}): ${err.split('\n').slice(0, 12).join('\n')}`));
    });
  });
}

describe('fuzz regressions', function () {
  this.timeout(20_000);

  it('control: an unconfigured FT232R whose SET_CONFIGURATION stalls is closed again, not left open with nothing bound', async () => {
    const minimal = {
      draw: {
        id: [0x0403, 0x6001, 0x0600] as [number, number, number],
        bcdUSB: 0x0110,
        layout: 'standard' as const,
        strings: { manufacturer: 'x', product: 'y', serialNumber: '' },
        lies: [],
        chip: 'ftdi' as const,
        host: { configureAtPlug: false, inFlight: 4 as const, kernelDriver: 'all' as const },
      },
      lies: [],
      faults: [{ on: 'control' as const, kind: 'stall' as const, times: 1, skip: 0 }],
      steps: [],
    };
    expect(await trapped(() => controlTarget.run(minimal))).to.equal('unbound');

    // The rule itself: the probe's claim fails, the device it opened is closed again; a replug binds.
    const f = mockFtdi('FT232R', { device: { transferLog: { limit: 0 } } });
    f.device.faults.inject({ on: 'control', kind: 'stall', request: 0x09 });
    const stack = await fuzzStack();
    try {
      await stack.plug(f.device, undefined, { configureAtPlug: false });
      expect(f.device.resources()).to.deep.include({ opened: false, claimedInterfaces: [], pendingTransfers: 0 });
      expect(stack.portsOf(f.device)).to.have.length(0);
      stack.host.unplug(f.device);
      await stack.settle();
      await stack.plug(f.device, undefined, { configureAtPlug: false });
      expect(stack.portsOf(f.device)).to.have.length(1);
      await stack.finish([f.device]);
    } finally {
      await stack.dispose();
    }
  });

  it('data: a PL2303 unplugged under an open port, then flush and getSignals, rejects PortDisconnectedError, not NotFoundError', async () => {
    const minimal = {
      draw: {
        id: [0x067b, 0x23c3, 0x0605] as [number, number, number],
        bcdUSB: 0x0200,
        layout: 'standard' as const,
        strings: { manufacturer: 'x', product: 'y', serialNumber: '' },
        lies: [],
        chip: 'pl2303' as const,
        host: { configureAtPlug: true, inFlight: 4 as const, kernelDriver: 'all' as const },
      },
      faults: [],
      arrivals: [],
      steps: [
        { call: { op: 'unplug' as const }, wait: false },
        { call: { op: 'flush' as const }, wait: false },
        { call: { op: 'getSignals' as const }, wait: false },
      ],
      afterClose: [],
    };
    expect(await trapped(() => dataTarget.run(minimal))).to.match(/^bound\(pl2303\) PortDisconnectedError/);

    // Port calls after the unplug, before the bus has removed the port: the port's own error.
    const { device } = createPl2303('PL2303HX');
    const stack = await fuzzStack();
    try {
      await stack.plug(device);
      const port = stack.portsOf(device)[0];
      await port.open();
      stack.host.unplug(device);
      const calls = [port.flush(), port.getSignals(), port.setSignals({ dtr: true }), port.setSettings({ baudRate: 19200 })];
      // getSignals may answer from the lines the interrupt endpoint last reported; whatever fails, fails as the port's.
      const failed = (await Promise.all(calls.map((c) => c.then(() => undefined, (e: unknown) => e)))).filter((e) => e !== undefined);
      expect(failed.length).to.be.at.least(2);
      for (const e of failed) expect(e).to.be.instanceOf(PortDisconnectedError);
      await stack.finish([device]);
    } finally {
      await stack.dispose();
    }
  });

  it('libusb: an FT232R whose one interface has no endpoints, three strings read through the brief open, on slow event-loop turns: unbound, not "left open with nothing bound"', async () => {
    // The case is checked once the backend has handed the device on: its open to read the
    // strings is enumeration, not a leak; a fixed count of turns ran out on a loaded machine.
    const minimal: LibusbDraw = {
      id: [0x0403, 0x6001, 0x0600],
      stringIndexes: [0, 0, 1],
      configs: [
        {
          bConfigurationValue: 1,
          iConfiguration: 2,
          interfaces: [[{ bInterfaceNumber: 0, bAlternateSetting: 0, bInterfaceClass: 0xff, bInterfaceSubClass: 0xff, bInterfaceProtocol: 0xff, iInterface: 3, endpoints: [] }]],
        },
      ],
      strings: [{ kind: 'bytes', bytes: [3] }, { kind: 'stall' }, { kind: 'bytes', bytes: [] }, { kind: 'ok', text: '' }, { kind: 'ok', text: 'Mk' }],
      open: false,
    };
    expect(await trapped(() => withSlowTurns(3, () => libusbTarget.run(minimal)))).to.equal('unbound');
    // And a device that binds is seen bound, on the same slow turns.
    const ftdi: LibusbDraw = { ...minimal, configs: [{ ...minimal.configs[0], interfaces: [[{ ...minimal.configs[0].interfaces[0][0], endpoints: [{ bEndpointAddress: 0x81, bmAttributes: 2, wMaxPacketSize: 64 }, { bEndpointAddress: 0x02, bmAttributes: 2, wMaxPacketSize: 64 }] }]] }], open: true };
    expect(await trapped(() => withSlowTurns(3, () => libusbTarget.run(ftdi)))).to.equal('bound(ftdi_sio) open=ok');
  });

  it('libusb: an FT232R whose one endpoint is bulk IN with wMaxPacketSize 2048 (a transaction bit, size 0) shows packetSize 0, not 2048', async () => {
    const minimal: LibusbDraw = {
      id: [0x0403, 0x6001, 0x0600],
      stringIndexes: [0, 0, 0],
      configs: [
        {
          bConfigurationValue: 1,
          iConfiguration: 0,
          interfaces: [[{ bInterfaceNumber: 0, bAlternateSetting: 0, bInterfaceClass: 0xff, bInterfaceSubClass: 0xff, bInterfaceProtocol: 0xff, iInterface: 0, endpoints: [{ bEndpointAddress: 0x81, bmAttributes: 2, wMaxPacketSize: 2048 }] }]],
        },
      ],
      strings: [{ kind: 'bytes', bytes: [] }, { kind: 'stall' }, { kind: 'ok', text: '' }, { kind: 'bytes', bytes: [] }, { kind: 'ok', text: '' }],
      open: false,
    };
    expect(await trapped(() => libusbTarget.run(minimal))).to.equal('unbound');

    // The rule: the WebUSB view's packetSize is the 11-bit size field (the serial drivers size
    // their reads from it: 16 packets a transfer, 1 MiB each for a raw 0xffff).
    const lib = new FakeLibusb();
    const dev = new (class extends FakeLegacyDevice {
      override get configDescriptor() {
        const c = structuredClone(super.configDescriptor);
        c.interfaces[0]![0]!.endpoints = [
          { bEndpointAddress: 0x81, bmAttributes: 2, wMaxPacketSize: 0xffff },
          { bEndpointAddress: 0x02, bmAttributes: 2, wMaxPacketSize: 0x1840 },
        ];
        return c;
      }
      override get allConfigDescriptors() {
        return [this.configDescriptor];
      }
    })(lib);
    lib.devices.push(dev);
    const backend = new LibusbBackend(lib, { platform: 'darwin' });
    try {
      const [d] = await backend.getDevices();
      expect(d!.usb.configuration?.interfaces[0]?.alternate.endpoints.map((e) => e.packetSize)).to.deep.equal([0x7ff, 64]);
    } finally {
      await backend.close();
    }
  });
  it('libusb: a PL2303 whose bulk IN endpoint has wMaxPacketSize 0, opened: the endpoint is skipped as Linux does, the port unbound, no endless zero-length reads', async () => {
    const minimal: LibusbDraw = {
      id: [0x067b, 0x2303, 0x0300],
      stringIndexes: [0, 0, 0],
      configs: [
        {
          bConfigurationValue: 1,
          iConfiguration: 0,
          interfaces: [
            [
              {
                bInterfaceNumber: 0, bAlternateSetting: 0, bInterfaceClass: 0xff, bInterfaceSubClass: 0, bInterfaceProtocol: 0, iInterface: 0,
                endpoints: [
                  { bEndpointAddress: 0x81, bmAttributes: 3, wMaxPacketSize: 10 },
                  { bEndpointAddress: 0x02, bmAttributes: 2, wMaxPacketSize: 64 },
                  { bEndpointAddress: 0x83, bmAttributes: 2, wMaxPacketSize: 0 },
                ],
              },
            ],
          ],
        },
      ],
      strings: [{ kind: 'stall' }, { kind: 'stall' }, { kind: 'stall' }, { kind: 'stall' }, { kind: 'stall' }],
      open: true,
    };
    expect(await trapped(() => libusbTarget.run(minimal))).to.equal('unbound');
    // The same PL2303 with a usable bulk IN binds and opens: only the zero-size endpoint was the problem.
    const usable: LibusbDraw = structuredClone(minimal);
    usable.configs[0]!.interfaces[0]![0]!.endpoints[2]!.wMaxPacketSize = 64;
    expect(await trapped(() => libusbTarget.run(usable))).to.match(/^bound\(pl2303\)/);
  });

  it('descriptors: an FT232R whose bulk IN endpoint has wMaxPacketSize 2, opened: the port opens, no endless chain of resubmissions (heap runaway)', async function () {
    this.timeout(150_000);
    const minimal: { draw: DeviceDraw; open: boolean } = {
      draw: {
        id: [0x0403, 0x6001, 0x0600],
        bcdUSB: 0x0200,
        layout: [{ number: 0, cls: 0xff, endpoints: [{ ep: 1, in: true, type: 'bulk', size: 2 }, { ep: 2, in: false, type: 'bulk', size: 64 }] }],
        strings: { manufacturer: 'x', product: 'y', serialNumber: '' },
        lies: [],
        chip: 'ftdi',
        host: { configureAtPlug: true, inFlight: 4, kernelDriver: 'all' },
      },
      open: true,
    };
    // The FTDI parser refused a packet size of 2 by throwing from the read path, and the IN
    // pipeline, its chain of steps rejected, resubmitted in promise jobs until the heap ran out.
    expect(await caseInChild('descriptors', minimal)).to.equal('bound(ftdi_sio) ok');
    expect(await trapped(() => descriptorTarget.run(minimal))).to.equal('bound(ftdi_sio) ok');
  });
});
