// Regression tests for what the fuzzer found, each named after its minimal case (shrunk by
// fast-check) and replaying it through the same target, plus the direct check of the fixed rule.
import { expect } from 'chai';
import { PortDisconnectedError } from '../../src/index.ts';
import { createPl2303, mockFtdi } from '../../mocks/index.ts';
import { CrashTrap, fuzzStack } from './harness.ts';
import { controlTarget, dataTarget } from './targets.ts';

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
});
