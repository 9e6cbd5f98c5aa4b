// Round trips driver -> emulation -> actual rate: for every port model and a spread of rates, what
// the driver reports as actual is the rate the emulated part (its own AN205/datasheet model,
// written apart from the driver's encoder) runs; what it refuses never reaches the chip.
import { expect } from 'chai';
import { SerialSettingsError, type AppliedSettings } from '../../../src/serial/index.ts';
import { createCp210x, type Cp210xPart } from '../../../mocks/cp210x/index.ts';
import { encodeCp210xBaud } from '../../../drivers/cp210x/index.ts';
import { controlLines, cp210xLab } from './lab.ts';

const RATES = [300, 1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 74880, 115200, 128000, 230400, 250000, 460800, 500000, 921600, 1_000_000, 1_500_000, 2_000_000, 3_000_000];
const PORTS: [Cp210xPart, number][] = [['CP2101', 0], ['CP2102', 0], ['CP2103', 0], ['CP2104', 0], ['CP2105', 0], ['CP2105', 1], ['CP2108', 2], ['CP2102N', 0]];

describe('CP210x baud round trips through the emulation', function () {
  this.timeout(30_000);
  for (const [part, intf] of PORTS) {
    it(`${part} interface ${intf}: actual = the rate the part runs; off-by-more-than-3% refused before any request`, async () => {
      const lab = await cp210xLab();
      try {
        const { device, chip } = createCp210x(part);
        await lab.plug(device);
        const port = lab.port(intf);
        const baudPart = lab.info(intf).baudPart;
        await port.open({ baudRate: 9600 });
        let accepted = 0;
        for (const rate of RATES) {
          device.clearTransferLog();
          const enc = encodeCp210xBaud(baudPart, rate);
          const within = Math.abs(enc.actual - rate) <= rate * 0.03;
          const r = await port.setSettings({ baudRate: rate }).catch((e: unknown) => e);
          if (!within) {
            expect(r, `${rate}`).to.be.instanceOf(SerialSettingsError);
            expect(controlLines(device.transferLog), `${rate}`).to.deep.equal([]);
            continue;
          }
          accepted++;
          if (r instanceof Error) throw r;
          const applied = r as AppliedSettings;
          expect(applied.actualBaudRate, `${rate}`).to.equal(enc.actual);
          expect(applied.reportedBaudRate, `${rate}`).to.equal(enc.value);
          const running = chip.port(intf).lineSettings.baudRate;
          expect(Math.abs(running - applied.actualBaudRate), `${rate}: chip runs ${running}`).to.be.below(1);
          expect(chip.port(intf).baudValue, `${rate}`).to.equal(enc.value);
        }
        expect(accepted).to.be.greaterThan(10);
        expect(chip.rejectedBauds).to.deep.equal([]);
        expect(chip.refusals).to.deep.equal([]);
      } finally {
        await lab.close();
      }
    });
  }
});
