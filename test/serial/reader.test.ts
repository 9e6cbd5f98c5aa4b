import { expect } from 'chai';
import { PortReader, READ_RESTARTS, UsbSerialReadError } from '../../src/serial/generic/reader.ts';
import type { UsbEndpointInfo, UsbInterface } from '../../src/usb/device.ts';

describe('serial: PortReader', () => {
  it('a driver parser that throws on every packet counts as a failing endpoint: the read side gives up after READ_RESTARTS restarts', async () => {
    let reads = 0;
    const usb = {
      transferIn: () => {
        reads++;
        return new Promise<USBInTransferResult>((r) => setImmediate(() => r({ status: 'ok', data: new DataView(Uint8Array.of(0x01, 0x60).buffer) })));
      },
      clearHalt: async () => undefined,
    };
    const intf = { name: '1-1:1.0', usb, usbDevice: { gone: false, host: { maxTransfersInFlight: 1 } } } as unknown as UsbInterface;
    const bulkIn = { address: 0x81, number: 1, direction: 'in', type: 'bulk', packetSize: 64 } as UsbEndpointInfo;
    const failed: unknown[] = [];
    const reader = new PortReader({
      intf,
      bulkIn,
      transferSize: 64,
      settleMs: 50, // the fake ends every read on its own
      onBulk: () => {
        throw new RangeError('parser bug');
      },
      onFailed: (e) => failed.push(e),
      keepClaimed: () => true,
    });
    reader.start();
    for (let k = 0; k < 100 && failed.length === 0; k++) await new Promise((r) => setTimeout(r, 2));
    await reader.stop();
    expect(failed).to.have.length(1);
    expect(failed[0]).to.be.instanceOf(UsbSerialReadError);
    expect((failed[0] as Error).message).to.match(/keeps failing \(error\)/);
    expect(reads).to.equal(1 + READ_RESTARTS);
  });
});
