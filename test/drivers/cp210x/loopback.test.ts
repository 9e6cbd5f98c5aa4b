// Bulk data through the whole stack and an emulated CP210x with a loopback plug: byte-exact,
// nothing lost, no transfer left behind; the pattern carries 0xEC, which the chip escapes in
// event mode and the driver must give back as data.
import { expect } from 'chai';
import { loopbackPlug } from '../../../mocks/index.ts';
import { createCp210x, type Cp210xPart } from '../../../mocks/cp210x/index.ts';
import { collect, cp210xLab } from './lab.ts';
import { firstDifference, pattern } from '../../helpers/bytes.ts';

async function loop(part: Cp210xPart, bytes: number, baudRate: number, inFlight = 4) {
  const lab = await cp210xLab({ host: { maxTransfersInFlight: inFlight } });
  try {
    const { device, chip } = createCp210x(part, { device: { transferLog: { captureData: false, limit: 1000 } } });
    loopbackPlug(chip.uart(0));
    await lab.plug(device);
    const port = lab.port();
    await port.open({ baudRate });
    const data = pattern(bytes, 0x2468ace1);
    const got = collect(port, bytes, 60_000);
    const written = await port.write(data);
    const back = await got;
    expect(written).to.equal(bytes);
    expect(firstDifference(back, data), 'first differing byte').to.equal(-1);
    expect(port.stats.lineErrors).to.equal(0);
    expect(chip.uart(0).stats.overruns).to.equal(0);
    await port.drain();
    await port.close();
    expect(device.resources().pendingTransfers).to.equal(0);
  } finally {
    await lab.close();
  }
}

describe('CP210x loopback through the whole stack', function () {
  this.timeout(60_000);

  it('10 MiB byte-exact on a CP2102N at 3 Mbaud (event mode on: 0xEC escaped and restored)', async () => {
    await loop('CP2102N', 10 * 1024 * 1024, 3_000_000);
  });

  it('1 MiB byte-exact on a CP2102 at 921600 and on a CP2104 behind one transfer in flight (nusb-like)', async () => {
    await loop('CP2102', 1024 * 1024, 921_600);
    await loop('CP2104', 1024 * 1024, 2_000_000, 1);
  });

  it('paced at 115200 baud: 4 KiB byte-exact; drain waits until the chip reports its queue empty', async () => {
    const lab = await cp210xLab();
    try {
      const { device, chip } = createCp210x('CP2102', { chip: { uart: { pacing: true } } });
      loopbackPlug(chip.uart(0));
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      const data = pattern(4096, 0x2468ace1);
      const got = collect(port, data.length, 10_000);
      await port.write(data);
      await port.drain();
      expect(chip.uart(0).txPending).to.equal(0);
      expect(firstDifference(await got, data)).to.equal(-1);
    } finally {
      await lab.close();
    }
  });
});
