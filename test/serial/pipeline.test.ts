import { expect } from 'chai';
import { InPipeline } from '../../src/serial/pipeline.ts';
import { transferError } from '../../src/usb/host.ts';

/** A device whose IN transfers pend until the test settles them. */
function fakeDevice() {
  const pending: { resolve: (r: USBInTransferResult) => void; reject: (e: unknown) => void }[] = [];
  const device = {
    transferIn: () =>
      new Promise<USBInTransferResult>((resolve, reject) => pending.push({ resolve, reject })),
  } as unknown as USBDevice;
  return { device, pending };
}

const ok = (bytes: number[]): USBInTransferResult => ({ status: 'ok', data: new DataView(new Uint8Array(bytes).buffer) });

describe('serial: InPipeline', () => {
  it('keeps several transfers in flight and delivers in submission order', async () => {
    const { device, pending } = fakeDevice();
    const got: number[] = [];
    const p = new InPipeline({ device, endpoint: 1, transferSize: 64, inFlight: 3, onData: (d) => got.push(d.getUint8(0)), onStop: () => undefined });
    p.start();
    expect(pending).to.have.length(3);
    pending[2]!.resolve(ok([3]));
    pending[0]!.resolve(ok([1]));
    pending[1]!.resolve(ok([2]));
    await new Promise((r) => setImmediate(r));
    expect(got).to.deep.equal([1, 2, 3]);
    expect(pending.length).to.equal(6); // resubmitted
    const stopping = p.stop();
    for (const t of pending.slice(3)) t.reject(transferError('aborted', 'released'));
    await stopping;
  });

  it('an unplug failing every transfer at once stops once, with no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const on = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', on);
    try {
      const { device, pending } = fakeDevice();
      const stops: string[] = [];
      const p = new InPipeline({ device, endpoint: 1, transferSize: 64, inFlight: 4, onData: () => undefined, onStop: (r) => stops.push(r.kind) });
      p.start();
      // libusb fails the later transfers first while the oldest is still in the chain's head.
      for (const t of pending.slice(1)) t.reject(transferError('disconnected', 'gone'));
      await new Promise((r) => setTimeout(r, 10));
      pending[0]!.reject(transferError('disconnected', 'gone'));
      await new Promise((r) => setTimeout(r, 10));
      expect(stops).to.deep.equal(['disconnected']);
      expect(p.inFlight).to.equal(0);
    } finally {
      process.off('unhandledRejection', on);
    }
    expect(unhandled).to.deep.equal([]);
  });

  for (const how of ['empty', 'aborted'] as const) {
    it(`a device answering every read at once (${how === 'empty' ? 'zero-length' : 'aborted'}) does not starve timers, and stop() still ends it`, async () => {
      let reads = 0;
      const device = {
        transferIn: () => {
          reads++;
          return how === 'empty'
            ? Promise.resolve({ status: 'ok', data: new DataView(new ArrayBuffer(0)) } as USBInTransferResult)
            : Promise.reject(transferError('aborted', 'aborted'));
        },
      } as unknown as USBDevice;
      const p = new InPipeline({ device, endpoint: 1, transferSize: 64, inFlight: 4, onData: () => undefined, onStop: () => undefined });
      p.start();
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 20));
      // Without the yield the resubmissions are one endless chain of promise jobs: this timer
      // never fires and memory grows until the process dies.
      expect(Date.now() - t0).to.be.below(5000);
      expect(reads).to.be.greaterThan(8);
      await p.stop();
      expect(p.inFlight).to.equal(0);
    });
  }
  it('a data handler that throws stops the pipeline as an endpoint error, instead of an endless chain of resubmissions', async () => {
    const unhandled: unknown[] = [];
    const on = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', on);
    let reads = 0;
    let p: InPipeline | undefined;
    const device = {
      transferIn: () => {
        // The bound a runaway would cross at once (the test must fail, not hang): stop it there.
        if (++reads === 200) void p!.stop();
        return new Promise<USBInTransferResult>((r) => setImmediate(() => r(ok([0x01, 0x60]))));
      },
    } as unknown as USBDevice;
    const parserBug = new RangeError('parser bug');
    const stops: { kind: string; error?: unknown }[] = [];
    try {
      p = new InPipeline({
        device,
        endpoint: 1,
        transferSize: 64,
        inFlight: 4,
        onData: () => {
          throw parserBug;
        },
        onStop: (r) => stops.push(r),
      });
      p.start();
      // A timer turn: an endless chain of promise jobs would not let this one run before the bound.
      await new Promise((r) => setTimeout(r, 5));
      expect(stops).to.deep.equal([{ kind: 'error', error: parserBug }]);
      expect(reads).to.equal(4); // the ones in flight; none submitted after the throw
      await p.stop();
      expect(p.inFlight).to.equal(0);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('unhandledRejection', on);
    }
    expect(unhandled).to.deep.equal([]);
  });
});
