// The fuzzer's own checks catch what they claim to: a failing case shrinks and names its seed,
// path and replay command; a hang trips the watchdog; a claim held with nothing bound, a raw
// backend error from a port call and an untyped error are violations.
import { expect } from 'chai';
import fc from 'fast-check';
import { MockUsbDevice } from '../../mocks/index.ts';
import { FuzzViolation, fuzzStack, runTarget, typedErrorName, withWatchdog } from './harness.ts';

describe('fuzz harness', () => {
  it('a failing case is shrunk to its minimum and reported with seed, path and replay command', async () => {
    const err = await runTarget(
      'selftest',
      fc.integer({ min: 0, max: 1000 }),
      async (n) => {
        if (n > 50) throw new FuzzViolation(`too big: ${n}`);
        return 'small';
      },
      { numRuns: 200, seed: 42 },
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).to.be.instanceOf(FuzzViolation);
    expect(err!.message).to.match(/seed 42, path [\d:]+/);
    expect(err!.message).to.include('minimal case: [51]');
    expect(err!.message).to.match(/replay: FUZZ_SEED=42 FUZZ_PATH=[\d:]+ FUZZ_TARGET=selftest/);
  });

  it('a case that never ends trips the watchdog', async () => {
    const err = await withWatchdog('stuck case', new Promise(() => undefined), 20).catch((e: unknown) => e as Error);
    expect(err).to.be.instanceOf(FuzzViolation);
    expect((err as Error).message).to.equal('hang: stuck case did not finish within 20 ms');
  });

  it('a process stalled as a whole (not run by a loaded machine) past the bound is not a hang: the watchdog counts timer ticks', async () => {
    const done = new Promise<string>((r) => setImmediate(() => r('done')));
    const watched = withWatchdog('stalled case', done, 100);
    // The whole process stops for 3 bounds' worth of wall time, as when the OS runs others.
    const end = performance.now() + 300;
    while (performance.now() < end);
    expect(await watched).to.equal('done');
  });

  it('untyped errors are violations, named ones are outcomes', () => {
    expect(() => typedErrorName(new TypeError("Cannot read properties of undefined (reading 'x')"), 'port.open')).to.throw(FuzzViolation, /untyped TypeError/);
    expect(() => typedErrorName('a string', 'port.open')).to.throw(FuzzViolation, /non-Error/);
    const named = new Error('gone');
    named.name = 'PortDisconnectedError';
    expect(typedErrorName(named, 'port.open')).to.equal('PortDisconnectedError');
  });

  it('an interface claimed with no driver bound is a leaked claim', async () => {
    const foreign = new MockUsbDevice({
      idVendor: 0x1234,
      idProduct: 0x5678,
      configurations: [{ interfaces: [{ endpoints: [{ bEndpointAddress: 0x81, type: 'bulk' }] }] }],
    });
    const stack = await fuzzStack();
    try {
      await stack.plug(foreign, undefined, { kernelDriver: { bound: 'none' } });
      stack.checkPlugged([foreign]);
      await foreign.open();
      await foreign.claimInterface(0);
      expect(() => stack.checkPlugged([foreign])).to.throw(FuzzViolation, /leaked-claim: interface\(s\) 0 of 1234:5678 claimed with no driver bound/);
    } finally {
      await stack.dispose();
    }
  });
});
