import { expect } from 'chai';
import { FtdiDivisorRejected, ftdiChipBaudFromDivisor as decode } from '../../../mocks/ftdi/clock.ts';

// Expected rates worked out from the clock rules: 3 MHz (48 MHz / 16) or, with bit 17 on H
// parts, 12 MHz (120 MHz / 10), divided by integer (bits 0..13) + fraction.
describe('emulated FTDI clock: decoding SET_BAUD_RATE', () => {
  it('SIO codes 0..9 are 300 .. 115200', () => {
    const rates = [300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200];
    rates.forEach((rate, code) => expect(decode('SIO', code, 0).baud).to.equal(rate));
  });

  it('AM: 2 sub-integer bits, 01 = 1/2, 10 = 1/4, 11 = 1/8', () => {
    expect(decode('FT232AM', 0x4138, 0).baud).to.equal(9600); // 312.5
    expect(decode('FT232AM', 0x809c, 0).baud).to.equal(19200); // 156.25
    expect(decode('FT232AM', 0xc04e, 0).baud).to.equal(38400); // 78.125
    expect(decode('FT232AM', 0x001a, 0).baud).to.be.closeTo(115384.615, 0.001); // 26
    expect(decode('FT232AM', 0x0000, 0)).to.include({ baud: 3_000_000, divisor: 1 });
    expect(decode('FT232AM', 0x0002, 0).baud).to.equal(1_500_000);
  });

  it('BM/R: 3-bit fraction code, bit 16 in wIndex', () => {
    expect(decode('FT232BM', 0x4138, 0).baud).to.equal(9600);
    expect(decode('FT232R', 0x00d0, 1)).to.include({ divisor: 208.375 }); // code 100 = 3/8
    expect(decode('FT232R', 0x40d0, 1).divisor).to.equal(208.625); // 101 = 5/8
    expect(decode('FT232R', 0x80d0, 1).divisor).to.equal(208.75); // 110 = 3/4
    expect(decode('FT232R', 0xc0d0, 1).divisor).to.equal(208.875); // 111 = 7/8
    expect(decode('FT232R', 0x8003, 0).baud).to.be.closeTo(923076.923, 0.001); // 3.25
    expect(decode('FT232R', 0x0000, 0).baud).to.equal(3_000_000);
    expect(decode('FT232R', 0x0001, 0)).to.include({ baud: 2_000_000, divisor: 1.5 });
    expect(decode('FT232R', 0xffff, 1).baud).to.be.closeTo(183.11, 0.01); // 16383 + 7/8
  });

  it('channelised BM-class chips (FT2232C, FT-X) take the channel in the low byte', () => {
    expect(decode('FT2232C', 0x4138, 0x0002)).to.include({ baud: 9600, channel: 2 });
    expect(decode('FT2232C', 0x00d0, 0x0101)).to.include({ divisor: 208.375, channel: 1 });
    expect(decode('FT-X', 0x001a, 0x0001).channel).to.equal(1);
  });

  it('FT232H and FT-X also take selector 0 for their single channel', () => {
    expect(decode('FT232H', 0xc068, 0x0200)).to.include({ clockHz: 12_000_000, channel: 1 });
    expect(decode('FT232H', 0xc068, 0x0200, { channel: 1 }).divisor).to.equal(104.125);
    expect(decode('FT-X', 0x4138, 0x0000)).to.include({ baud: 9600, channel: 1 });
  });

  it('H: bit 17 selects 12 MHz, clear it runs the 3 MHz divisor', () => {
    expect(decode('FT2232H', 0xc068, 0x0201)).to.include({ clockHz: 12_000_000, divisor: 104.125, channel: 1 });
    expect(decode('FT2232H', 0xc068, 0x0201).baud).to.be.closeTo(115246.098, 0.001);
    expect(decode('FT4232H', 0x0000, 0x0204)).to.include({ baud: 12_000_000, channel: 4 });
    expect(decode('FT232H', 0x0001, 0x0201).baud).to.equal(8_000_000);
    expect(decode('FT232H', 0x00d0, 0x0301).divisor).to.equal(208.375); // bits 16 and 17
    expect(decode('FT232H', 0x2710, 0x0001)).to.include({ baud: 300, clockHz: 3_000_000 });
    expect(decode('FT4232HA', 0x0002, 0x0203).baud).to.equal(6_000_000);
  });
});

describe('emulated FTDI clock: values the chip stalls on', () => {
  const rejects = (fn: () => unknown, re: RegExp) => expect(fn).to.throw(FtdiDivisorRejected, re);

  it('SIO: codes above 9 and anything in wIndex', () => {
    rejects(() => decode('SIO', 10, 0), /SIO rate code 10 does not exist/);
    rejects(() => decode('SIO', 0x4138, 0), /rate code/);
    rejects(() => decode('SIO', 5, 1), /SIO takes nothing in wIndex/);
  });

  it('AM: no bit-16 fraction codes, no 1.5 divisor, nothing else below 2', () => {
    rejects(() => decode('FT232AM', 0x00d0, 1), /no divisor bit 16/);
    rejects(() => decode('FT232AM', 0x0001, 0), /1\.5.*AM lacks/);
    rejects(() => decode('FT232AM', 0x4001, 0), /below 2/);
    rejects(() => decode('FT232AM', 0x8000, 0), /below 2/);
  });

  it('BM: divisors between 1 and 2 other than 1.5, and fractions of 0', () => {
    rejects(() => decode('FT232BM', 0x4001, 0), /divisor 1\.5 is below 2/); // 1.5 spelt the long way
    rejects(() => decode('FT232BM', 0x8001, 0), /below 2/);
    rejects(() => decode('FT232BM', 0x0001, 1), /below 2/); // 1 + 3/8
    rejects(() => decode('FT232BM', 0x4000, 0), /below 2/);
  });

  it('the H clock bit on chips without it', () => {
    rejects(() => decode('FT232R', 0x0068, 2), /bit 17/);
    rejects(() => decode('FT2232C', 0x0068, 0x0201), /bit 17/);
    rejects(() => decode('FT-X', 0x0068, 0x0201), /only on H-class/);
  });

  it('wrong or missing channel on channelised chips', () => {
    rejects(() => decode('FT2232H', 0xc068, 0x0200), /channel 0 .*channels 1\.\.2/);
    rejects(() => decode('FT2232H', 0xc068, 0x0203), /channel 3/);
    rejects(() => decode('FT232H', 0xc068, 0x0202), /FT232H has channels 1\.\.1/);
    rejects(() => decode('FT233HP', 0xc068, 0x0200), /channel 0/);
    rejects(() => decode('FT4232H', 0xc068, 0x0202, { channel: 3 }), /names channel 2 but was sent to channel 3/);
    // libftdi-style unshifted wIndex (divisor >> 16 = 2) on an H chip reads as channel 2.
    rejects(() => decode('FT232H', 0xc068, 0x0002), /channel 2/);
  });

  it('bits above 17, and values that are not 16-bit', () => {
    rejects(() => decode('FT2232H', 0, 0x0401), /bits above 17/);
    rejects(() => decode('FT232R', 0, 4), /bits above 17/);
    rejects(() => decode('FT232R', 0x10000, 0), /wValue is not a 16-bit value/);
    rejects(() => decode('FT232R', 0, -1), /wIndex is not a 16-bit value/);
  });

  it('names chip and fields in the message', () => {
    try {
      decode('FT232BM', 0x8001, 0);
      expect.fail('no rejection');
    } catch (e) {
      expect(e).to.be.instanceOf(FtdiDivisorRejected);
      const err = e as FtdiDivisorRejected;
      expect(err).to.include({ chip: 'FT232BM', wValue: 0x8001, wIndex: 0 });
      expect(err.message).to.match(/^FT232BM rejects SET_BAUD_RATE wValue 0x8001 wIndex 0x0000: /);
    }
  });
});
