// Bulk data through the whole stack and an emulated chip with a loopback plug: byte-exact,
// nothing lost, no transfer left behind.
import { expect } from 'chai';
import { loopbackPlug } from '../../../mocks/index.ts';
import { createPl2303, type Pl2303Part } from '../../../mocks/pl2303/index.ts';
import { collect, pl2303Lab } from './lab.ts';
import { firstDifference, pattern } from '../../helpers/bytes.ts';

async function loop(part: Pl2303Part, bytes: number, baudRate: number, inFlight = 4) {
  const lab = await pl2303Lab({ host: { maxTransfersInFlight: inFlight } });
  try {
    const { device, chip } = createPl2303(part, { device: { transferLog: { captureData: false, limit: 1000 } } });
    loopbackPlug(chip.uart);
    await lab.plug(device);
    const port = lab.port();
    await port.open({ baudRate });
    expect(device.pendingOn(0x83)).to.equal(inFlight); // the pipeline keeps what the host allows in flight
    const data = pattern(bytes, 0x12345678);
    const t0 = performance.now();
    const got = collect(port, bytes, 60_000);
    const written = await port.write(data);
    const back = await got;
    const ms = performance.now() - t0;
    expect(written).to.equal(bytes);
    expect(firstDifference(back, data), 'first differing byte').to.equal(-1);
    expect(port.stats.lineErrors).to.equal(0);
    expect(chip.uart.stats.overruns).to.equal(0);
    await port.close();
    expect(device.resources().pendingTransfers).to.equal(0);
    return ms;
  } finally {
    await lab.close();
  }
}

describe('PL2303 loopback through the whole stack', function () {
  this.timeout(60_000);

  it('10 MiB byte-exact on a PL2303HX at 6 Mbaud', async () => {
    const ms = await loop('PL2303HX', 10 * 1024 * 1024, 6_000_000);
    expect(ms).to.be.below(20_000);
  });

  it('1 MiB byte-exact on a PL2303GC (HXN) at 12 Mbaud, and on a TA at an odd rate', async () => {
    await loop('PL2303GC', 1024 * 1024, 12_000_000);
    await loop('PL2303TA', 256 * 1024, 74880);
  });

  it('paced at 115200 baud: 4 KiB byte-exact, in about the time the line takes', async () => {
    const lab = await pl2303Lab();
    try {
      const { device, chip } = createPl2303('PL2303HX', { chip: { uart: { pacing: true } } });
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      const data = pattern(4096, 0x12345678);
      const t0 = performance.now();
      const got = collect(port, data.length, 10_000);
      await port.write(data);
      expect(firstDifference(await got, data)).to.equal(-1);
      const ms = performance.now() - t0;
      const lineMs = (data.length * 10 * 1000) / 115200; // 8N1: 10 bits a byte, ~356 ms
      expect(ms).to.be.within(lineMs * 0.95, lineMs * 3);
      expect(chip.uart.stats.overruns).to.equal(0);
    } finally {
      await lab.close();
    }
  });

  it('1 MiB byte-exact behind a host that allows one transfer in flight per endpoint (nusb-like)', async () => {
    await loop('PL2303HXD', 1024 * 1024, 921600, 1);
  });
});
