// Bulk data through the whole stack and an emulated CH340 with a loopback plug (10 MiB
// byte-exact); the surprise-removal cases for every family are in ../unplug.test.ts.
import { expect } from 'chai';
import { loopbackPlug } from '../../../mocks/index.ts';
import { createCh34x } from '../../../mocks/ch34x/index.ts';
import { ch341Lab, collect } from './lab.ts';
import { firstDifference, pattern } from '../../helpers/bytes.ts';

describe('CH341 loopback', function () {
  this.timeout(60_000);

  it('10 MiB byte-exact through a CH340 with a loopback plug at 3 Mbaud', async () => {
    const lab = await ch341Lab();
    try {
      const { device, chip } = createCh34x('CH340', { device: { transferLog: { captureData: false, limit: 1000 } } });
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 3_000_000 });
      const data = pattern(10 * 1024 * 1024, 0x2545f491);
      const got = collect(port, data.length, 60_000);
      expect(await port.write(data)).to.equal(data.length);
      expect(firstDifference(await got, data), 'first differing byte').to.equal(-1);
      expect(port.stats.lineErrors).to.equal(0);
      expect(chip.uart.stats.overruns).to.equal(0);
      await port.close();
      expect(device.resources().pendingTransfers).to.equal(0);
    } finally {
      await lab.close();
    }
  });

  it('version 0x27 (rate written without the "send now" flag, as Linux does): short packets come back too', async () => {
    const lab = await ch341Lab();
    try {
      const { device, chip } = createCh34x('CH340-v27');
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      const data = pattern(4096, 0x2545f491);
      const got = collect(port, data.length);
      await port.write(data);
      expect(firstDifference(await got, data)).to.equal(-1);
      const short = collect(port, 5);
      await port.write(data.subarray(0, 5));
      expect(firstDifference(await short, data.subarray(0, 5))).to.equal(-1);
    } finally {
      await lab.close();
    }
  });
});
