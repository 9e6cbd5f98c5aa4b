// Baud rates through the whole stack: the driver encodes, the emulated chip decodes the field its
// own way and runs its UART at that rate, and a far-end UART at the requested rate exchanges
// bytes with it over a null-modem cable (the line simulation garbles them if the rates disagree).
import { expect } from 'chai';
import { SerialSettingsError } from '../../../src/serial/index.ts';
import { nullModem, UartPort } from '../../../mocks/index.ts';
import { createPl2303, type Pl2303Part } from '../../../mocks/pl2303/index.ts';
import { collect, pl2303Lab } from './lab.ts';

const RATES = [
  50, 75, 110, 300, 1200, 2400, 9600, 14400, 19200, 31250, 38400, 57600, 74880, 115200, 128000, 230400, 250000, 460800,
  500000, 921600, 1_000_000, 1_228_800, 1_500_000, 2_000_000, 3_000_000, 4_000_000, 6_000_000, 8_000_000, 12_000_000,
];

const PARTS: { part: Pl2303Part; max: number }[] = [
  { part: 'PL2303H', max: 1_228_800 },
  { part: 'PL2303HX', max: 6_000_000 },
  { part: 'PL2303HXD', max: 12_000_000 },
  { part: 'PL2303TA', max: 6_000_000 },
  { part: 'PL2303TB', max: 12_000_000 },
  { part: 'PL2303GC', max: 12_000_000 },
];

describe('PL2303 baud rates through the whole stack', () => {
  for (const { part, max } of PARTS) {
    it(`${part}: 50 .. 12,000,000 baud, both directions at the requested rate`, async () => {
      const lab = await pl2303Lab();
      try {
        const { device, chip } = createPl2303(part);
        const far = new UartPort({ name: 'far', rxFifoSize: 4096 });
        nullModem(chip.uart, far);
        await lab.plug(device);
        const port = lab.port();
        await port.open();
        for (const rate of RATES) {
          // Anything at or below the maximum is reachable within 3% (the divisor grids are that fine).
          const settle = port.setSettings({ baudRate: rate }).catch((e: unknown) => e);
          const applied = await settle;
          if (rate > max * 1.03) {
            expect(applied, `${rate}`).to.be.instanceOf(SerialSettingsError);
            expect((applied as SerialSettingsError).setting).to.equal('baudRate');
            continue;
          }
          if (applied instanceof Error) throw applied;
          const actual = (applied as { actualBaudRate: number }).actualBaudRate;
          expect(Math.abs(actual - rate) / rate, `${rate}: runs ${actual}`).to.be.at.most(0.03);
          expect(chip.lineSettings.baudRate, `${rate}: chip runs what the driver reports`).to.equal(actual);
          far.setSettings({ baudRate: rate });
          const msg = Uint8Array.from(`rate ${rate}`, (c) => c.charCodeAt(0));
          const got = collect(port, msg.length, 2000);
          await far.write(msg);
          expect([...(await got)], `far -> port at ${rate}`).to.deep.equal([...msg]);
          await port.write(msg);
          await port.drain();
          expect([...far.read().data], `port -> far at ${rate}`).to.deep.equal([...msg]);
        }
        expect(chip.rejectedBauds).to.deep.equal([]);
      } finally {
        await lab.close();
      }
    });
  }

  it('110 on a TA runs at ~110 (alternate divisor), not the ~95,000 of the old standard formula', async () => {
    const lab = await pl2303Lab();
    try {
      const { device, chip } = createPl2303('PL2303TA');
      await lab.plug(device);
      const applied = await lab.port().open({ baudRate: 110 });
      expect(applied.actualBaudRate).to.be.closeTo(109.97, 0.01);
      expect(chip.lineSettings.baudRate).to.be.closeTo(109.97, 0.01);
      expect([...chip.lineCoding.subarray(0, 4)]).to.deep.equal([0xa9, 0xa6, 0x01, 0x80]);
      // The far end check above is not vacuous: at a rate 10% off, the bytes arrive garbled.
      const far = new UartPort({ name: 'far', settings: { baudRate: 121 } });
      nullModem(chip.uart, far);
      await far.write([0x55, 0x0f, 0xf0, 0x33]);
      const got = await collect(lab.port(), 1, 2000);
      expect(got[0]).to.not.equal(0x55);
    } finally {
      await lab.close();
    }
  });
});
