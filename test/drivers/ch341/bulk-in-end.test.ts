// How an emulated CH34x ends a bulk IN transfer. The driver reads 512-byte transfers (16 packets,
// as Linux's ch341 bulk_in_size); a transfer completes on a short packet or when full. Bytes that
// fill whole 32-byte packets and then stop must still reach the host: the chip ends the transfer
// with a zero-length packet once its receiver has been idle, or they would wait in the host's
// transfer until more bytes come (the stress harness saw 32..352 bytes of a loopback stuck so).
import { expect } from 'chai';
import { loopbackPlug } from '../../../mocks/index.ts';
import { createCh34x } from '../../../mocks/ch34x/index.ts';
import { ch341Lab, collect } from './lab.ts';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed) & 0xff);

describe('CH34x emulation: the end of a bulk IN transfer', function () {
  this.timeout(20_000);

  for (const n of [32, 64, 96, 480]) {
    it(`${n} bytes (whole 32-byte packets, then nothing) arrive`, async () => {
      const lab = await ch341Lab();
      try {
        const { device, chip } = createCh34x('CH340');
        loopbackPlug(chip.uart);
        await lab.plug(device);
        const port = lab.port();
        await port.open({ baudRate: 115200 });
        const data = bytes(n, n);
        const got = collect(port, n, 2000);
        expect(await port.write(data)).to.equal(n);
        expect(Array.from(await got)).to.deep.equal(Array.from(data));
        expect(chip.stats.zeroLengthPackets).to.be.greaterThan(0);
        await port.close();
        expect(device.resources().pendingTransfers).to.equal(0);
      } finally {
        await lab.close();
      }
    });
  }

  it('a full packet followed by more bytes within the idle time goes on in the same transfer (no zero-length packet between)', async () => {
    const lab = await ch341Lab();
    try {
      const { device, chip } = createCh34x('CH340');
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      const data = bytes(40, 3);
      const got = collect(port, data.length, 2000);
      await port.write(data);
      expect(Array.from(await got)).to.deep.equal(Array.from(data));
      // 40 bytes: a full packet and a short one end the transfer; no zero-length packet needed.
      expect(chip.stats.zeroLengthPackets).to.equal(0);
    } finally {
      await lab.close();
    }
  });
});
