import { expect } from 'chai';
import { transferErrorKind } from '../../../src/usb/host.ts';
import { usbError } from '../../../src/usb/backends/errors.ts';
import { PendingTransfers } from '../../../src/usb/backends/pending-transfers.ts';

describe('PendingTransfers', () => {
  it('with an abort hook, waits for the transfer to settle through it', async () => {
    const p = new PendingTransfers();
    let cancelled = false;
    const t = p.track(0, (onAbort) => {
      return new Promise<string>((_, reject) => {
        onAbort((reason) => {
          cancelled = true;
          setTimeout(() => reject(reason), 5);
        });
      });
    });
    const caught = t.catch((e: Error) => e);
    const settled = await p.abort(0, () => usbError('AbortError', 'released'));
    expect(settled).to.equal(true);
    expect(cancelled).to.equal(true);
    expect(transferErrorKind(await caught)).to.equal('aborted');
    expect(p.size).to.equal(0);
  });
  it('without a hook, rejects the caller at once', async () => {
    const p = new PendingTransfers();
    const t = p.track(1, () => new Promise<never>(() => undefined));
    const caught = t.catch((e: Error) => e);
    await p.abort(undefined, () => usbError('AbortError', 'closed'), 0);
    expect((await caught).name).to.equal('AbortError');
  });
  it('aborts only the interface asked for', async () => {
    const p = new PendingTransfers();
    let resolveOther!: (v: string) => void;
    const other = p.track(2, () => new Promise<string>((r) => (resolveOther = r)));
    const mine = p.track(1, () => new Promise<never>(() => undefined)).catch((e: Error) => e.name);
    await p.abort(1, () => usbError('AbortError', 'released'), 0);
    expect(await mine).to.equal('AbortError');
    resolveOther('data');
    expect(await other).to.equal('data');
  });
  it('a synchronous throw in start becomes a rejection', async () => {
    const p = new PendingTransfers();
    const t = p.track(0, () => {
      throw new Error('submit failed');
    });
    expect(await t.catch((e: Error) => e.message)).to.equal('submit failed');
  });
});
