// Driver -> emulation -> actual rate: for each rate the driver encodes, the emulated chip decodes
// its register pair on its own (mocks/ch34x/baud.ts: 12 MHz / prescaler / divisor) and must run
// exactly the rate the driver reports as actual; a far UART at the requested rate then receives
// bytes sent at it where the two are within the UART's 2% sampling tolerance.
import { expect } from 'chai';
import { nullModem, UartPort } from '../../../mocks/index.ts';
import { createCh34x, type Ch34xPart } from '../../../mocks/ch34x/index.ts';
import { ch341Lab, collect } from './lab.ts';

const RATES = [50, 75, 110, 300, 600, 1200, 2400, 4800, 9600, 14400, 19200, 31250, 38400, 57600, 74880, 115200, 128000, 230400, 250000, 256000, 460800, 500000, 921600, 1_000_000, 1_500_000, 2_000_000, 3_000_000];

describe('CH341 rates: driver -> emulation -> actual rate', function () {
  this.timeout(20_000);

  for (const part of ['CH340', 'CH340-v27', 'CH340-quirky'] as Ch34xPart[]) {
    it(`${part}: the chip runs the driver's actual rate for every rate in the table`, async () => {
      const lab = await ch341Lab();
      try {
        const { device, chip } = createCh34x(part);
        await lab.plug(device);
        const port = lab.port();
        await port.open();
        for (const baudRate of RATES) {
          const applied = await port.setSettings({ baudRate });
          expect(chip.lineSettings.baudRate, `${baudRate}`).to.be.closeTo(applied.actualBaudRate, 1e-6);
          expect(Math.abs(applied.actualBaudRate - baudRate) / baudRate, `${baudRate}`).to.be.below(0.03);
          expect(applied.reportedBaudRate).to.equal(baudRate);
        }
        expect(chip.rejectedBauds).to.deep.equal([]);
        expect(chip.refusals.filter((r) => r.wValue !== 0x0005)).to.deep.equal([]);
      } finally {
        await lab.close();
      }
    });
  }

  it('bytes cross to a far UART at the nominal rate (115200, 921600, 2 M) byte-exact', async () => {
    const lab = await ch341Lab();
    const far = new UartPort({ name: 'far' });
    try {
      const { device, chip } = createCh34x('CH340');
      nullModem(chip.uart, far);
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      for (const baudRate of [115200, 921600, 2_000_000]) {
        await port.setSettings({ baudRate, parity: 'even' });
        far.setSettings({ baudRate, parity: 'even', dataBits: 8, stopBits: 1 });
        far.flushRx();
        await port.write(Uint8Array.of(1, 2, 3, 0x55, 0xaa));
        await port.drain();
        expect([...far.read().data], `${baudRate}`).to.deep.equal([1, 2, 3, 0x55, 0xaa]);
        const got = collect(port, 3);
        await far.write(Uint8Array.of(9, 8, 7));
        expect([...(await got)]).to.deep.equal([9, 8, 7]);
      }
    } finally {
      await lab.close();
    }
  });
});
