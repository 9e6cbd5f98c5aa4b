import { expect } from 'chai';
import { FtdiChannelError } from '../../../drivers/ftdi/chips.ts';
import type { FtdiChip } from '../../../drivers/ftdi/chips.ts';
import { FTDI_SIO_RATES, FtdiBaudError, encodeFtdiBaud } from '../../../drivers/ftdi/baud.ts';

// How the expected values below were worked out by hand:
//   eighths d8 = round(clock * 8 / baud); 3 MHz clock -> 24e6 / baud, 12 MHz (H, bit 17) -> 96e6 / baud.
//   integer = d8 >> 3 goes in bits 0..13; the remainder r = d8 & 7 becomes a fraction code.
//   BM and later: code = [0, 3, 2, 4, 1, 5, 6, 7][r] in bits 14..16 (bit 16 lands in wIndex).
//   AM: r = 7 rounds up to the next integer; r = 1 -> 0xC000, r = 2 or 3 -> 0x8000, r >= 4 -> 0x4000.
//   Specials: divisor 1 is sent as 0 (3 Mbaud / 12 Mbaud), 1.5 (0x4001) as 1 (2 Mbaud / 8 Mbaud, not AM).
//   actual = clock / (integer + fraction).
type Row = [baud: number, divisor: number, actual: number];

const BM_TABLE: Row[] = [
  [300, 0x2710, 300], // 80000 eighths = 10000 + 0
  [600, 0x1388, 600], // 40000 = 5000
  [1200, 0x09c4, 1200], // 20000 = 2500
  [2400, 0x04e2, 2400], // 10000 = 1250
  [4800, 0x0271, 4800], // 5000 = 625
  [9600, 0x4138, 9600], // 3e6*8/9600 = 2500 = 312 + 4/8 -> code 1 -> 0x4000 | 0x138
  [14400, 0x100d0, 24e6 / 1667], // 1666.67 -> 1667 = 208 + 3/8 -> code 4 (bit 16) -> 0x10000 | 0xD0
  [19200, 0x809c, 19200], // 1250 = 156 + 2/8 -> code 2 -> 0x8000 | 0x9C
  [31250, 0x0060, 31250], // 768 = 96 (MIDI)
  [38400, 0xc04e, 38400], // 625 = 78 + 1/8 -> code 3 -> 0xC000 | 0x4E
  [57600, 0xc034, 24e6 / 417], // 416.67 -> 417 = 52 + 1/8
  [74880, 0xc028, 24e6 / 321], // 320.51 -> 321 = 40 + 1/8
  [115200, 0x001a, 24e6 / 208], // 208.33 -> 208 = 26 -> 115384.6 (+0.16%)
  [230400, 0x000d, 24e6 / 104], // 104.17 -> 104 = 13
  [250000, 0x000c, 250000], // 96 = 12
  [460800, 0x4006, 24e6 / 52], // 52.08 -> 52 = 6 + 4/8
  [921600, 0x8003, 24e6 / 26], // 26.04 -> 26 = 3 + 2/8 -> code 2 -> 0x8003
  [1_000_000, 0x0003, 1_000_000], // 24 = 3
  [1_500_000, 0x0002, 1_500_000], // 16 = 2
  [2_000_000, 0x0001, 2_000_000], // 12 = 1 + 4/8 = 0x4001 -> special 1
  [3_000_000, 0x0000, 3_000_000], // 8 = 1 -> special 0
  [9592, 0x18138, 24e6 / 2502], // 2502.09 -> 2502 = 312 + 6/8 -> code 6 -> 0x18000 | 0x138
  [9588, 0x1c138, 24e6 / 2503], // 2503.13 -> 2503 = 312 + 7/8 -> code 7 -> 0x1C000 | 0x138
];

const AM_TABLE: Row[] = [
  [300, 0x2710, 300],
  [9600, 0x4138, 9600], // 2500 = 312 + 4/8 -> 0x4000
  [14400, 0x80d0, 24e6 / 1666], // 1667 = 208 + 3/8 -> AM keeps 1/4 (0x8000): 208.25
  [19200, 0x809c, 19200], // 156 + 2/8 -> 0x8000
  [38400, 0xc04e, 38400], // 78 + 1/8 -> 0xC000
  [57600, 0xc034, 24e6 / 417],
  [115200, 0x001a, 24e6 / 208],
  [460800, 0x4006, 24e6 / 52],
  [921600, 0x8003, 24e6 / 26],
  [9592, 0x4138, 9600], // 2502 = 312 + 6/8 -> AM only has 1/2: 312.5 -> exactly 9600
  [9588, 0x0139, 24e6 / 2504], // 2503 = 312 + 7/8 -> 7/8 rounds up to 313 (0x139)
  [1_500_000, 0x0002, 1_500_000],
  [3_000_000, 0x0000, 3_000_000], // divisor 1 -> 0
];

// H parts, channel A (1): bit 17 (0x20000) and 12 MHz from 1200 baud up, the BM formula below.
const H_TABLE: Row[] = [
  [300, 0x02710, 300], // below 1200: 3 MHz, 80000 eighths, no bit 17
  [600, 0x01388, 600],
  [1200, 0x22710, 1200], // 96e6/1200 = 80000 = 10000 | 0x20000
  [9600, 0x204e2, 9600], // 10000 = 1250
  [57600, 0x300d0, 96e6 / 1667], // 1666.67 -> 1667 = 208 + 3/8 -> code 4: bit 16 and bit 17
  [115200, 0x2c068, 96e6 / 833], // 833.33 -> 833 = 104 + 1/8 -> code 3 -> 0xC000 | 0x68 | 0x20000
  [230400, 0x2c034, 96e6 / 417],
  [460800, 0x2001a, 96e6 / 208],
  [921600, 0x2000d, 96e6 / 104],
  [1_000_000, 0x2000c, 1_000_000],
  [2_000_000, 0x20006, 2_000_000],
  [3_000_000, 0x20004, 3_000_000],
  [6_000_000, 0x20002, 6_000_000],
  [8_000_000, 0x20001, 8_000_000], // 12 eighths = 1.5 -> special 1
  [12_000_000, 0x20000, 12_000_000], // 8 eighths = 1 -> special 0
];

function check(chip: FtdiChip, rows: Row[], channel: number, channelised: boolean): void {
  for (const [baud, divisor, actual] of rows) {
    const r = encodeFtdiBaud(chip, baud, channel);
    const label = `${chip} ${baud}`;
    expect(r.divisor, label).to.equal(divisor);
    expect(r.wValue, label).to.equal(divisor & 0xffff);
    expect(r.wIndex, label).to.equal(channelised ? ((divisor >> 16) << 8) | channel : divisor >> 16);
    expect(r.actual, label).to.be.closeTo(actual, actual * 1e-12);
  }
}

describe('FTDI baud: divisor tables', () => {
  it('SIO uses table codes 0..9', () => {
    FTDI_SIO_RATES.forEach((rate, code) => {
      expect(encodeFtdiBaud('SIO', rate)).to.deep.equal({ wValue: code, wIndex: 0, actual: rate, divisor: code });
    });
    expect(FTDI_SIO_RATES).to.deep.equal([300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]);
  });

  it('SIO takes the nearest table rate within 3%, else refuses', () => {
    expect(encodeFtdiBaud('SIO', 9700).wValue).to.equal(5);
    expect(encodeFtdiBaud('SIO', 112_000).actual).to.equal(115_200); // 2.86% off
    expect(encodeFtdiBaud('SIO', 295).actual).to.equal(300);
    expect(() => encodeFtdiBaud('SIO', 14400)).to.throw(FtdiBaudError).with.deep.property('nearest', [9600, 19200]);
    expect(() => encodeFtdiBaud('SIO', 230400)).to.throw(FtdiBaudError).with.deep.property('nearest', [115200]);
    expect(() => encodeFtdiBaud('SIO', 250)).to.throw(FtdiBaudError).with.deep.property('nearest', [300]);
  });

  it('FT232AM', () => check('FT232AM', AM_TABLE, 0, false));
  for (const chip of ['FT232BM', 'FT232R'] as const) it(chip, () => check(chip, BM_TABLE, 0, false));
  it('FT2232C (channelised: channel in the low byte)', () => {
    check('FT2232C', BM_TABLE, 1, true);
    check('FT2232C', BM_TABLE, 2, true);
  });
  it('FT-X (channel 1, as Linux sends it)', () => check('FT-X', BM_TABLE, 1, true));
  for (const chip of ['FT2232H', 'FT4232H', 'FT232H', 'FT2233HP', 'FT4233HP', 'FT2232HP', 'FT4232HP', 'FT233HP', 'FT232HP', 'FT4232HA'] as const) {
    it(`${chip} (12 MHz, bit 17)`, () => check(chip, H_TABLE, 1, true));
  }
  it('puts the channel of later interfaces in wIndex', () => {
    expect(encodeFtdiBaud('FT4232H', 115200, 4).wIndex).to.equal(0x0204);
    expect(encodeFtdiBaud('FT2232H', 57600, 2).wIndex).to.equal(0x0302);
  });

  it('matches the facts file samples', () => {
    expect(encodeFtdiBaud('FT232BM', 9600).divisor).to.equal(0x4138);
    expect(encodeFtdiBaud('FT232BM', 115200).divisor).to.equal(0x001a);
    expect(encodeFtdiBaud('FT232BM', 921600).divisor).to.equal(0x8003);
    const h = encodeFtdiBaud('FT2232H', 115200, 1);
    expect(h).to.include({ divisor: 0x2c068, wValue: 0xc068, wIndex: 0x0201 });
  });
});

describe('FTDI baud: refusals', () => {
  it('refuses rates between the top divisors with the two nearest rates', () => {
    // BM has divisors 1, 1.5 and 2: 3, 2 and 1.5 Mbaud, nothing between.
    let err = catchBaud(() => encodeFtdiBaud('FT232R', 2_500_000));
    expect(err.nearest).to.deep.equal([2_000_000, 3_000_000]);
    expect(err.requested).to.equal(2_500_000);
    expect(err.chip).to.equal('FT232R');
    expect(err.message).to.equal(
      'FT232R cannot run at 2500000 baud: no divisor gives a rate within 3%; nearest it can produce: 2000000 baud and 3000000 baud',
    );
    expect(catchBaud(() => encodeFtdiBaud('FT232BM', 1_700_000)).nearest).to.deep.equal([1_500_000, 2_000_000]);
    // H: 6, 8 and 12 Mbaud.
    expect(catchBaud(() => encodeFtdiBaud('FT232H', 10_000_000, 1)).nearest).to.deep.equal([8_000_000, 12_000_000]);
    expect(catchBaud(() => encodeFtdiBaud('FT232H', 7_000_000, 1)).nearest).to.deep.equal([6_000_000, 8_000_000]);
  });

  it('the AM cannot do the 1.5 divisor (2 Mbaud)', () => {
    // Linux would send 0x4001 here, which the AM does not have.
    expect(catchBaud(() => encodeFtdiBaud('FT232AM', 2_000_000)).nearest).to.deep.equal([1_500_000, 3_000_000]);
    expect(catchBaud(() => encodeFtdiBaud('FT232AM', 2_400_000)).nearest).to.deep.equal([1_500_000, 3_000_000]);
  });

  it('uses the largest divisor where Linux would overflow the 14 integer bits', () => {
    // 180 baud: 24e6/180 = 133333 eighths > 16383 + 7/8; Linux sends that overflowed. 183.11 baud
    // (1.7% off) from 0x3FFF + 7/8: code 7 -> 0x1C000 | 0x3FFF.
    expect(encodeFtdiBaud('FT232BM', 180)).to.include({ divisor: 0x1ffff, wValue: 0xffff, wIndex: 1 });
    expect(encodeFtdiBaud('FT232H', 180, 1)).to.include({ divisor: 0x1ffff, wValue: 0xffff, wIndex: 0x0101 });
    // AM: 0x3FFF + 1/2 -> 0x4000 | 0x3FFF.
    expect(encodeFtdiBaud('FT232AM', 180)).to.include({ divisor: 0x7fff, actual: 3e6 / 16383.5 });
  });

  it('refuses out-of-range rates and names the limit', () => {
    const hi = catchBaud(() => encodeFtdiBaud('FT232BM', 3_200_000));
    expect(hi.nearest).to.deep.equal([3_000_000]);
    expect(hi.message).to.match(/above its maximum of 3000000 baud/);
    expect(encodeFtdiBaud('FT232BM', 3_080_000).actual).to.equal(3_000_000); // 2.6% off: allowed
    expect(catchBaud(() => encodeFtdiBaud('FT2232H', 13_000_000, 1)).nearest).to.deep.equal([12_000_000]);
    const lo = catchBaud(() => encodeFtdiBaud('FT232BM', 150));
    expect(lo.nearest).to.deep.equal([3e6 / 16383.875]);
    expect(lo.message).to.match(/below its minimum of 183\.11 baud/);
    expect(catchBaud(() => encodeFtdiBaud('FT232AM', 150)).nearest).to.deep.equal([3e6 / 16383.5]);
  });

  it('refuses non-finite, zero and negative rates', () => {
    expect(catchBaud(() => encodeFtdiBaud('FT232R', 0)).message).to.match(/FT232R cannot run at 0 baud/);
    expect(catchBaud(() => encodeFtdiBaud('FT232R', -9600)).requested).to.equal(-9600);
    expect(catchBaud(() => encodeFtdiBaud('FT232R', Number.NaN)).nearest).to.deep.equal([]);
    expect(catchBaud(() => encodeFtdiBaud('FT232R', Infinity)).nearest).to.deep.equal([3_000_000]);
  });

  it('refuses a channel the chip does not take', () => {
    expect(() => encodeFtdiBaud('FT2232H', 9600)).to.throw(FtdiChannelError, 'FT2232H has no channel 0; valid: 1..2');
    expect(() => encodeFtdiBaud('FT2232H', 9600, 3)).to.throw(FtdiChannelError);
    expect(() => encodeFtdiBaud('FT232R', 9600, 1)).to.throw(FtdiChannelError, /takes no channel/);
  });
});

function catchBaud(fn: () => unknown): FtdiBaudError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(FtdiBaudError);
    return err as FtdiBaudError;
  }
  expect.fail('expected an FtdiBaudError');
}
