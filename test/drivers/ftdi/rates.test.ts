// Baud rates through the whole stack: the driver encodes, the emulated chip decodes the divisor
// it was sent with its own clock rules and runs its UART at that rate; the two must agree and be
// within 3% of what was asked, for a few rates per generation across 300 .. 12,000,000 baud.
import { expect } from 'chai';
import { nullModem } from '../../../mocks/index.ts';
import { MOCK_FTDI_FACTORIES, mockFt232h, mockFt232r, mockFt4232h, mockFtX } from '../../../mocks/ftdi/index.ts';
import { FTDI_CHIPS, type FtdiChip } from '../../../drivers/ftdi/index.ts';
import { until } from '../../helpers/async.ts';
import { pattern } from '../../helpers/bytes.ts';
import { ftdiLab, record, type FtdiLab } from './lab.ts';

const RATES: Record<'sio' | 'am' | 'bm' | 'h', number[]> = {
  sio: [300, 2400, 9600, 57600, 115200],
  am: [300, 9600, 115200, 460800, 1_000_000, 3_000_000],
  bm: [300, 1200, 9600, 115200, 250_000, 921600, 2_000_000, 3_000_000],
  h: [300, 1200, 9600, 115200, 921600, 3_000_000, 4_000_000, 6_000_000, 8_000_000, 12_000_000],
};

describe('ftdi_sio: baud rates, driver -> emulated chip -> actual rate', () => {
  let lab: FtdiLab;
  beforeEach(async () => (lab = await ftdiLab()));
  afterEach(() => lab.close());

  for (const chip of Object.keys(MOCK_FTDI_FACTORIES) as FtdiChip[]) {
    const rates = RATES[FTDI_CHIPS[chip].clock];
    it(`${chip}: ${rates.join(', ')}`, async () => {
      const f = MOCK_FTDI_FACTORIES[chip]({ device: { transferLog: { limit: 100 } } });
      const ports = await lab.plug(f);
      const last = ports.length - 1; // the last channel, so wIndex carries a channel above 1 where there are several
      const port = ports[last]!;
      await port.open({ baudRate: rates[0]! });
      for (const baud of rates) {
        const applied = await port.setSettings({ baudRate: baud });
        const ch = f.channel(last);
        expect(ch.state.baudRate, `${chip} ${baud}`).to.equal(applied.actualBaudRate);
        expect(f.uart(last).settings.baudRate).to.equal(applied.actualBaudRate);
        expect(Math.abs(applied.actualBaudRate - baud) / baud, `${chip} ${baud}`).to.be.at.most(0.03);
      }
      expect(f.chip.stalls).to.deep.equal([]);
      await port.close();
    });
  }

  it('two generations on one null-modem cable at the same nominal rate understand each other', async () => {
    const pairs = [
      [mockFt232r, mockFt232h, 115200],
      [mockFtX, mockFt4232h, 921600],
      [mockFt232h, mockFt4232h, 12_000_000],
    ] as const;
    for (const [ma, mb, baud] of pairs) {
      const a = ma();
      const b = mb();
      nullModem(a.uart(), b.uart());
      const [pa] = await lab.plug(a);
      const [pb] = await lab.plug(b);
      await pa!.open({ baudRate: baud });
      await pb!.open({ baudRate: baud });
      const rb = record(pb!);
      const data = pattern(20_000, baud);
      await pa!.write(data);
      await until(() => rb.received >= data.length, 3000, `${baud} baud`);
      expect(Buffer.from(rb.bytes()).equals(Buffer.from(data)), `${baud}`).to.equal(true);
      expect(rb.ofType('line-error')).to.deep.equal([]);
      await pa!.close();
      await pb!.close();
    }
  });

  it('at mismatched rates the receiving port gets framing errors and garbage, not the data', async () => {
    const a = mockFt232r();
    const b = mockFt232h();
    nullModem(a.uart(), b.uart());
    const [pa] = await lab.plug(a);
    const [pb] = await lab.plug(b);
    await pa!.open({ baudRate: 115200 });
    await pb!.open({ baudRate: 38400 });
    const rb = record(pb!);
    const data = new TextEncoder().encode('hello, mismatched world; '.repeat(20));
    await pa!.write(data);
    await until(() => rb.received > 0 && rb.ofType('line-error').length > 0, 2000, 'garbage');
    await new Promise((r) => setTimeout(r, 50));
    expect(rb.ofType('line-error').some((e) => e.error.kind === 'framing' || e.error.kind === 'break')).to.equal(true);
    expect(Buffer.from(rb.bytes()).equals(Buffer.from(data))).to.equal(false);
    await pa!.close();
    await pb!.close();
  });
});
