import { expect } from 'chai';
import { transferErrorKind } from '../../../src/usb/host.ts';
import { usbError } from '../../../src/usb/backends/errors.ts';
import { describeSetup, inOk, toBytes } from '../../../src/usb/backends/transfer-results.ts';

describe('backend errors and transfer results', () => {
  it('usbError gives the names host.ts classifies, with the cause kept', () => {
    const cause = new Error('native');
    expect(transferErrorKind(usbError('NotFoundError', 'gone', cause))).to.equal('disconnected');
    expect(transferErrorKind(usbError('TimeoutError', 'slow'))).to.equal('timeout');
    expect(transferErrorKind(usbError('AbortError', 'cut'))).to.equal('aborted');
    expect(transferErrorKind(usbError('InvalidStateError', 'closed'))).to.equal('other');
    expect((usbError('NetworkError', 'x', cause) as Error & { cause?: unknown }).cause).to.equal(cause);
  });

  it('inOk and toBytes keep the view offset', () => {
    const backing = new Uint8Array([0, 1, 2, 3, 4]);
    const r = inOk(backing.subarray(1, 3));
    expect(r.data?.byteLength).to.equal(2);
    expect(r.data?.getUint8(0)).to.equal(1);
    const dv = new DataView(backing.buffer, 2, 2);
    expect([...toBytes(dv)]).to.deep.equal([2, 3]);
    expect(toBytes(undefined).byteLength).to.equal(0);
    expect(toBytes(new ArrayBuffer(3)).byteLength).to.equal(3);
  });

  it('describeSetup names a control request for messages', () => {
    expect(describeSetup({ requestType: 'vendor', recipient: 'device', request: 0x40, value: 1, index: 0 })).to.equal(
      'vendor/device request 0x40 value 0x0001 index 0x0000',
    );
  });
});
