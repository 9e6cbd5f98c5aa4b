import { expect } from 'chai';
import fc from 'fast-check';
import { FTDI_CHIPS, FTDI_CHIP_LIST } from '../../../drivers/ftdi/chips.ts';
import type { FtdiChip } from '../../../drivers/ftdi/chips.ts';
import { FtdiBaudError, encodeFtdiBaud } from '../../../drivers/ftdi/baud.ts';
import { FtdiDivisorRejected, ftdiChipBaudFromDivisor } from '../../../mocks/ftdi/clock.ts';

// The driver's encoder against the emulated chip's decoder (written separately from the clock
// rules). The emulated chip also tells us every rate a chip can produce: decode every raw
// wValue/wIndex it accepts. That is the reference for "a divisor within 3% exists".

const TOLERANCE = 0.03;
const STANDARD_RATES = [
  300, 600, 1200, 1800, 2400, 4800, 7200, 9600, 14400, 19200, 28800, 31250, 38400, 56000, 57600, 74880,
  76800, 115200, 128000, 153600, 230400, 250000, 256000, 460800, 500000, 576000, 921600, 1_000_000,
  1_152_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000, 3_500_000, 4_000_000, 6_000_000, 8_000_000,
  10_000_000, 12_000_000,
];

/** Sorted distinct rates the emulated chip accepts on channel 1 (or 0 where channels are not sent). */
function producibleRates(chip: FtdiChip): Float64Array {
  const channel = FTDI_CHIPS[chip].channelised ? 1 : 0;
  const uppers = chip === 'SIO' || chip === 'FT232AM' ? [0] : [0, 1, 2, 3];
  const seen = new Set<number>();
  for (const upper of uppers) {
    for (let wValue = 0; wValue <= 0xffff; wValue++) {
      const wIndex = FTDI_CHIPS[chip].channelised ? (upper << 8) | channel : upper;
      try {
        seen.add(ftdiChipBaudFromDivisor(chip, wValue, wIndex).baud);
      } catch (e) {
        if (!(e instanceof FtdiDivisorRejected)) throw e;
      }
    }
  }
  return Float64Array.from(seen).sort();
}

const cache = new Map<string, Float64Array>();
function rates(chip: FtdiChip): Float64Array {
  // Chips of one clock family produce the same rates; enumerate each family once.
  const key = FTDI_CHIPS[chip].clock;
  let r = cache.get(key);
  if (!r) cache.set(key, (r = producibleRates(chip)));
  return r;
}

/** Nearest producible rates at or below and at or above `baud`. */
function neighbours(chip: FtdiChip, baud: number): { below?: number; above?: number } {
  const all = rates(chip);
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (all[mid]! < baud) lo = mid + 1;
    else hi = mid;
  }
  // all[lo] is the first rate >= baud.
  const above = lo < all.length ? all[lo] : undefined;
  const below = above === baud ? baud : lo > 0 ? all[lo - 1] : undefined;
  return { below, above };
}

function relErr(actual: number, requested: number): number {
  return Math.abs(actual - requested) / requested;
}

function checkRate(chip: FtdiChip, baud: number, iface = 0): void {
  const info = FTDI_CHIPS[chip];
  const channel = info.channelised ? 1 + (iface % info.channels) : 0;
  const { below, above } = neighbours(chip, baud);
  const best = Math.min(...[below, above].filter((r) => r !== undefined).map((r) => relErr(r!, baud)));
  // Rates too close to the 3% edge to call either way with floating point are skipped.
  if (Math.abs(best - TOLERANCE) < 1e-9) return;
  const possible = best <= TOLERANCE;
  const label = `${chip} at ${baud} baud (channel ${channel})`;

  let enc;
  try {
    enc = encodeFtdiBaud(chip, baud, channel);
  } catch (e) {
    expect(e, label).to.be.instanceOf(FtdiBaudError);
    expect(possible, `${label} refused though a rate within 3% exists`).to.equal(false);
    const err = e as FtdiBaudError;
    const want = [...new Set([below, above].filter((r): r is number => r !== undefined))];
    expect(err.nearest, label).to.have.length(want.length);
    err.nearest.forEach((r, i) => expect(r, label).to.be.closeTo(want[i]!, want[i]! * 1e-12));
    return;
  }
  expect(possible, `${label} accepted though no rate is within 3%`).to.equal(true);
  const chipSide = ftdiChipBaudFromDivisor(chip, enc.wValue, enc.wIndex, { channel });
  expect(chipSide.baud, label).to.be.closeTo(enc.actual, enc.actual * 1e-12);
  expect(chipSide.channel, label).to.equal(channel);
  expect(relErr(enc.actual, baud), label).to.be.at.most(TOLERANCE);
}

describe('FTDI baud round trip: encoder vs emulated chip', function () {
  this.timeout(120_000);

  before(() => {
    for (const chip of FTDI_CHIP_LIST) rates(chip);
  });

  it('knows the producible rate sets (sanity)', () => {
    expect([...rates('SIO')]).to.deep.equal([300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]);
    expect(rates('FT232BM').at(-1)).to.equal(3_000_000);
    expect(rates('FT232BM').includes(2_000_000)).to.equal(true);
    expect(rates('FT232AM').includes(2_000_000)).to.equal(false);
    expect(rates('FT232H').at(-1)).to.equal(12_000_000);
    expect(rates('FT232H')[0]).to.equal(3e6 / 16383.875);
  });

  for (const chip of FTDI_CHIP_LIST) {
    it(`${chip}: standard rates`, () => {
      for (const baud of STANDARD_RATES) checkRate(chip, baud);
    });

    it(`${chip}: random rates 300 .. 12,000,000 (log-uniform and integer)`, () => {
      const logRate = fc.double({ min: Math.log(300), max: Math.log(12_000_000), noNaN: true }).map(Math.exp);
      const intRate = fc.integer({ min: 300, max: 12_000_000 });
      fc.assert(
        fc.property(fc.oneof(logRate, intRate), fc.nat({ max: 3 }), (baud, iface) => checkRate(chip, baud, iface)),
        { numRuns: 400 },
      );
    });

    it(`${chip}: every 3%-edge around the producible rates near the top`, () => {
      // Just inside and just outside 3% of the fastest rates, where the gaps are widest.
      const top = [...rates(chip)].slice(-12);
      for (const r of top) {
        for (const f of [0.969, 0.971, 0.99, 1.01, 1.029, 1.031]) checkRate(chip, r * f);
      }
    });
  }
});
