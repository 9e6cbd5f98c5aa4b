// Regression tests for what the fuzzer found, each named after its minimal case (shrunk by
// fast-check) and replaying it through the same target, plus the direct check of the fixed rule.
import { expect } from 'chai';
import { mockFtdi } from '../../mocks/index.ts';
import { CrashTrap, fuzzStack } from './harness.ts';
import { controlTarget } from './targets.ts';

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
    const trap = new CrashTrap();
    trap.install();
    try {
      expect(await controlTarget.run(minimal)).to.equal('unbound');
      trap.check();
    } finally {
      trap.uninstall();
    }

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
});
