import { expect } from 'chai';
import fc from 'fast-check';
import {
  FTDI_CHIPS,
  FTDI_CHIP_LIST,
  FtdiChannelError,
  UnsupportedFtdiChipError,
  detectFtdiChip,
  ftdiChannel,
  ftdiChipInfo,
} from '../../../drivers/ftdi/chips.ts';
import type { FtdiChip } from '../../../drivers/ftdi/chips.ts';

// Linux ftdi_determine_type's table (exact values; < 0x200 is SIO).
const BCD_TABLE: [number, FtdiChip][] = [
  [0x0000, 'SIO'],
  [0x0001, 'SIO'],
  [0x0100, 'SIO'],
  [0x01ff, 'SIO'],
  [0x0200, 'FT232AM'],
  [0x0400, 'FT232BM'],
  [0x0500, 'FT2232C'],
  [0x0600, 'FT232R'],
  [0x0700, 'FT2232H'],
  [0x0800, 'FT4232H'],
  [0x0900, 'FT232H'],
  [0x1000, 'FT-X'],
  [0x2800, 'FT2233HP'],
  [0x2900, 'FT4233HP'],
  [0x3000, 'FT2232HP'],
  [0x3100, 'FT4232HP'],
  [0x3200, 'FT233HP'],
  [0x3300, 'FT232HP'],
  [0x3600, 'FT4232HA'],
];
const KNOWN = new Set(BCD_TABLE.map(([bcd]) => bcd));

describe('FTDI chips: property table', () => {
  it('lists all sixteen chips, each with its own bcdDevice', () => {
    expect(FTDI_CHIP_LIST).to.have.length(16);
    expect(Object.keys(FTDI_CHIPS)).to.have.members([...FTDI_CHIP_LIST]);
    for (const chip of FTDI_CHIP_LIST) expect(detectFtdiChip({ bcdDevice: FTDI_CHIPS[chip].bcdDevice })).to.equal(chip);
  });

  it('puts each chip in its clock family with its rate range', () => {
    const family = (c: FtdiChip) => ftdiChipInfo(c).clock;
    expect(family('SIO')).to.equal('sio');
    expect(family('FT232AM')).to.equal('am');
    for (const c of ['FT232BM', 'FT2232C', 'FT232R', 'FT-X'] as const) expect(family(c)).to.equal('bm');
    for (const c of ['FT2232H', 'FT4232H', 'FT232H', 'FT2233HP', 'FT4233HP', 'FT2232HP', 'FT4232HP', 'FT233HP', 'FT232HP', 'FT4232HA'] as const) {
      const info = ftdiChipInfo(c);
      expect(info.clock, c).to.equal('h');
      expect(info.hClass, c).to.equal(true);
      expect(info.maxBaud, c).to.equal(12_000_000);
      expect(info.maxPacketSize, c).to.equal(512);
      expect(info.highSpeed, c).to.equal(true);
      expect(info.bcdUSB, c).to.equal(0x200);
    }
    expect(ftdiChipInfo('SIO')).to.include({ minBaud: 300, maxBaud: 115_200 });
    expect(ftdiChipInfo('FT232BM').maxBaud).to.equal(3_000_000);
    // Largest divisors: AM 16383 + 1/2, BM 16383 + 7/8, over the 3 MHz clock.
    expect(ftdiChipInfo('FT232AM').minBaud).to.be.closeTo(183.11, 0.01);
    expect(ftdiChipInfo('FT232BM').minBaud).to.equal(3e6 / 16383.875);
    expect(ftdiChipInfo('FT232H').minBaud).to.equal(3e6 / 16383.875);
  });

  it('has the channel counts of the parts (HP: 2233/2232 two, 4233/4232/4232HA four, 233/232 one)', () => {
    const channels = Object.fromEntries(FTDI_CHIP_LIST.map((c) => [c, FTDI_CHIPS[c].channels]));
    expect(channels).to.deep.equal({
      SIO: 1, FT232AM: 1, FT232BM: 1, FT2232C: 2, FT232R: 1, FT2232H: 2, FT4232H: 4, FT232H: 1,
      'FT-X': 1, FT2233HP: 2, FT4233HP: 4, FT2232HP: 2, FT4232HP: 4, FT233HP: 1, FT232HP: 1, FT4232HA: 4,
    });
  });

  it('has full-speed parts at 64-byte packets, latency timer everywhere but SIO and AM', () => {
    for (const chip of FTDI_CHIP_LIST) {
      const info = FTDI_CHIPS[chip];
      if (!info.hClass) expect(info.maxPacketSize, chip).to.equal(64);
      expect(info.hasLatencyTimer, chip).to.equal(chip !== 'SIO' && chip !== 'FT232AM');
    }
    expect(FTDI_CHIPS.SIO.bcdUSB).to.equal(0x110);
    expect(FTDI_CHIPS.FT232AM.bcdUSB).to.equal(0x110);
    // FT232R and FT-X are full speed but their descriptors say USB 2.0.
    expect(FTDI_CHIPS.FT232R).to.include({ bcdUSB: 0x200, highSpeed: false });
  });

  it('channelises every chip but SIO, AM, BM and R, as Linux does', () => {
    for (const chip of FTDI_CHIP_LIST) {
      expect(FTDI_CHIPS[chip].channelised, chip).to.equal(!['SIO', 'FT232AM', 'FT232BM', 'FT232R'].includes(chip));
    }
  });

  it('is frozen', () => {
    expect(Object.isFrozen(FTDI_CHIPS)).to.equal(true);
    expect(Object.isFrozen(FTDI_CHIPS.FT232R)).to.equal(true);
  });
});

describe('FTDI chips: detectFtdiChip', () => {
  for (const [bcd, chip] of BCD_TABLE) {
    it(`bcdDevice 0x${bcd.toString(16).padStart(4, '0')} is ${chip}`, () => {
      expect(detectFtdiChip({ bcdDevice: bcd, iSerialNumber: 3 })).to.equal(chip);
    });
  }

  it('takes an FT232BM with iSerialNumber 0 (reporting 0x200) for a BM when the latency timer reads', () => {
    expect(detectFtdiChip({ bcdDevice: 0x200, iSerialNumber: 0 }, { latencyTimerReadable: true })).to.equal('FT232BM');
    expect(detectFtdiChip({ bcdDevice: 0x200, iSerialNumber: 0 }, { latencyTimerReadable: false })).to.equal('FT232AM');
    expect(detectFtdiChip({ bcdDevice: 0x200, iSerialNumber: 0 })).to.equal('FT232AM');
    // With a serial-number string the quirk does not apply, latency timer or not.
    expect(detectFtdiChip({ bcdDevice: 0x200, iSerialNumber: 3 }, { latencyTimerReadable: true })).to.equal('FT232AM');
    expect(detectFtdiChip({ bcdDevice: 0x200 }, { latencyTimerReadable: true })).to.equal('FT232AM');
    // The quirk is 0x200 only.
    expect(detectFtdiChip({ bcdDevice: 0x600, iSerialNumber: 0 }, { latencyTimerReadable: true })).to.equal('FT232R');
  });

  it('identifies zero-PID counterfeits by bcdDevice like any other part', () => {
    // The descriptor carries no PID here on purpose: a bricked FT232R clone still says 0x600.
    expect(detectFtdiChip({ bcdDevice: 0x0600, iSerialNumber: 3, numInterfaces: 1 })).to.equal('FT232R');
  });

  it('refuses unknown bcdDevice values, naming them in hex', () => {
    for (const bcd of [0x0300, 0x0601, 0x0a00, 0x2700, 0x3400, 0x3500, 0x3700, 0xffff]) {
      expect(() => detectFtdiChip({ bcdDevice: bcd }))
        .to.throw(UnsupportedFtdiChipError, `0x${bcd.toString(16).padStart(4, '0')}`)
        .with.property('bcdDevice', bcd);
    }
    fc.assert(
      fc.property(fc.integer({ min: 0x200, max: 0xffff }).filter((b) => !KNOWN.has(b)), (bcd) => {
        expect(() => detectFtdiChip({ bcdDevice: bcd })).to.throw(UnsupportedFtdiChipError, /unsupported FTDI chip/);
      }),
    );
  });

  it('refuses values that are not 16-bit integers', () => {
    for (const bcd of [-1, 0x10000, 1.5, Number.NaN]) {
      expect(() => detectFtdiChip({ bcdDevice: bcd })).to.throw(UnsupportedFtdiChipError);
    }
  });

  it('refuses a descriptor with more interfaces than the chip has channels', () => {
    expect(detectFtdiChip({ bcdDevice: 0x700, numInterfaces: 2 })).to.equal('FT2232H');
    expect(() => detectFtdiChip({ bcdDevice: 0x600, numInterfaces: 2 })).to.throw(UnsupportedFtdiChipError, /FT232R has 1 interface/);
    expect(() => detectFtdiChip({ bcdDevice: 0x700, numInterfaces: 4 })).to.throw(UnsupportedFtdiChipError, /0x0700/);
  });
});

describe('FTDI chips: ftdiChannel', () => {
  it('is 1 + interface on channelised chips and 0 on the others', () => {
    expect(ftdiChannel('FT2232H', 0)).to.equal(1);
    expect(ftdiChannel('FT2232H', 1)).to.equal(2);
    expect(ftdiChannel('FT4232H', 3)).to.equal(4);
    expect(ftdiChannel('FT4232HA', 2)).to.equal(3);
    expect(ftdiChannel('FT2232C', 1)).to.equal(2);
    expect(ftdiChannel('FT232H', 0)).to.equal(1);
    expect(ftdiChannel('FT-X', 0)).to.equal(1);
    expect(ftdiChannel('FT232R', 0)).to.equal(0);
    expect(ftdiChannel('FT232BM', 0)).to.equal(0);
    expect(ftdiChannel('SIO', 0)).to.equal(0);
  });

  it('refuses interface numbers the chip does not have', () => {
    expect(() => ftdiChannel('FT2232H', 2)).to.throw(FtdiChannelError, 'FT2232H has no interface 2; valid: 0..1');
    expect(() => ftdiChannel('FT232R', 1)).to.throw(FtdiChannelError, /FT232R has no interface 1/);
    expect(() => ftdiChannel('FT4232H', -1)).to.throw(FtdiChannelError);
    expect(() => ftdiChannel('FT4232H', 1.5)).to.throw(FtdiChannelError);
    for (const chip of FTDI_CHIP_LIST) {
      expect(() => ftdiChannel(chip, FTDI_CHIPS[chip].channels), chip).to.throw(FtdiChannelError);
    }
  });
});
