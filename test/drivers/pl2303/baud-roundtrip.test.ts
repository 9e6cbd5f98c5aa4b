// Driver encoder against the emulated chip: whatever the encoder sends, the chip must run at
// the rate the encoder claims, within 3% of the request; and the encoder must refuse exactly
// when no rate the chip can run is within 3%. The set of runnable rates is found by feeding
// the chip model every candidate byte pattern, so it does not lean on the encoder's own maths.
import { expect } from 'chai';
import fc from 'fast-check';
import { encodePl2303Baud, Pl2303BaudError, PL2303_BAUD_TOLERANCE } from '../../../drivers/pl2303/baud.ts';
import { PL2303_TYPES, type Pl2303Type } from '../../../drivers/pl2303/types.ts';
import { pl2303ChipBaud } from '../../../mocks/pl2303/baud-decode.ts';

const TABLE = [
  75, 150, 300, 600, 1200, 1800, 2400, 3600, 4800, 7200, 9600, 14400, 19200, 28800, 38400, 57600, 115200, 230400,
  460800, 614400, 921600, 1228800, 2457600, 3000000, 6000000,
];

function tryChip(type: Pl2303Type, bytes: Uint8Array): number | undefined {
  try {
    return pl2303ChipBaud(type, bytes);
  } catch {
    return undefined;
  }
}

function le32(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

interface Runnable {
  /** Sorted rates the chip accepts from a divisor field. */
  divisor: number[];
  /** Sorted rates the chip accepts as a plain number (not used for HXN: every integer). */
  direct: number[];
  /** Both, sorted. */
  all: number[];
}

const cache = new Map<Pl2303Type, Runnable>();

/** Every rate the chip model runs, by brute force over the divisor byte patterns and the table. */
function runnable(type: Pl2303Type): Runnable {
  const hit = cache.get(type);
  if (hit) return hit;
  const divisor = new Set<number>();
  // Byte 3 = 0x80 marks a divisor; try every pattern of the low bytes that either layout uses.
  for (let b2 = 0; b2 <= 1; b2++) {
    for (let b1 = 0; b1 <= 0xff; b1++) {
      for (let b0 = 0; b0 <= 0xff; b0++) {
        const r = tryChip(type, Uint8Array.of(b0, b1, b2, 0x80));
        if (r !== undefined) divisor.add(r);
      }
    }
  }
  const direct = TABLE.filter((r) => tryChip(type, le32(r)) === r);
  const sort = (s: Iterable<number>) => [...s].sort((a, b) => a - b);
  const out = { divisor: sort(divisor), direct: sort(direct), all: sort(new Set([...divisor, ...direct])) };
  cache.set(type, out);
  return out;
}

/** Nearest rates at or below and at or above `x` in a sorted list. */
function neighbours(sorted: number[], x: number): { below?: number; above?: number } {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  const above = lo < sorted.length ? sorted[lo] : undefined;
  const below = above === x ? x : lo > 0 ? sorted[lo - 1] : undefined;
  return { below, above };
}

/** Neighbours among what the chip runs; HXN runs any integer from 1 to its maximum. */
function chipNeighbours(type: Pl2303Type, x: number): { below?: number; above?: number } {
  if (type !== 'HXN') return neighbours(runnable(type).all, x);
  const check = (r: number) => (r >= 1 && tryChip(type, le32(r)) === r ? r : undefined);
  const max = 12_000_000;
  return { below: check(Math.min(Math.floor(x), max)), above: x <= max ? check(Math.max(Math.ceil(x), 1)) : undefined };
}

const rel = (a: number, b: number) => Math.abs(a - b) / b;

function bestError(type: Pl2303Type, x: number): number {
  const n = chipNeighbours(type, x);
  return Math.min(n.below !== undefined ? rel(n.below, x) : Infinity, n.above !== undefined ? rel(n.above, x) : Infinity);
}

function checkOne(type: Pl2303Type, baud: number): void {
  const best = bestError(type, baud);
  let enc;
  try {
    enc = encodePl2303Baud(type, baud);
  } catch (e) {
    expect(e, `${type} ${baud}`).to.be.instanceOf(Pl2303BaudError);
    expect(best, `${type} ${baud} refused though the chip can run within ${best}`).to.be.greaterThan(PL2303_BAUD_TOLERANCE);
    // The error names the chip's real neighbours.
    const n = chipNeighbours(type, baud);
    const want = [n.below, n.above].filter((r): r is number => r !== undefined);
    const got = (e as Pl2303BaudError).nearest;
    expect(got.length, `${type} ${baud} nearest ${got} vs ${want}`).to.equal(new Set(want).size);
    got.forEach((r, i) => expect(r).to.be.closeTo([...new Set(want)][i], 1e-9 * r));
    return;
  }
  expect(best, `${type} ${baud} accepted though nothing is within 3%`).to.be.at.most(PL2303_BAUD_TOLERANCE);
  const chip = pl2303ChipBaud(type, enc.bytes);
  expect(chip, `${type} ${baud}: chip runs ${chip}, encoder claims ${enc.actual}`).to.equal(enc.actual);
  expect(rel(enc.actual, baud), `${type} ${baud}`).to.be.at.most(PL2303_BAUD_TOLERANCE);
  if (enc.method !== 'direct') {
    // Divisors: the nearest one the chip has (relative to the capped request).
    const target = Math.min(baud, Math.max(...runnable(type).all));
    const n = neighbours(runnable(type).divisor, target);
    const bestDiv = Math.min(
      n.below !== undefined ? rel(n.below, target) : Infinity,
      n.above !== undefined ? rel(n.above, target) : Infinity,
    );
    expect(rel(enc.actual, target), `${type} ${baud} divisor not the nearest`).to.be.at.most(bestDiv + 1e-12);
  }
}

describe('PL2303 baud round trip: encoder vs emulated chip', function () {
  // Building the alternate-layout rate sets decodes ~130k patterns per type.
  this.timeout(60_000);

  for (const type of PL2303_TYPES) {
    it(`${type}: random rates from 50 to 12,000,000`, () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.integer({ min: 50, max: 12_000_000 }),
            fc.double({ min: 50, max: 12_000_000, noNaN: true }),
            // Low rates, where the divisors run out of exponent.
            fc.double({ min: 50, max: 2_000, noNaN: true }),
            // Around the maximum rates and the 3% edge above them.
            fc.double({ min: 1_150_000, max: 1_300_000, noNaN: true }),
            fc.double({ min: 5_800_000, max: 6_300_000, noNaN: true }),
            fc.double({ min: 11_000_000, max: 12_000_000, noNaN: true }),
            fc.constantFrom(...TABLE),
          ),
          (baud) => {
            checkOne(type, baud);
          },
        ),
        { numRuns: 3000 },
      );
    });

    it(`${type}: every direct-table rate and the 3% edges above the maximum`, () => {
      for (const r of TABLE) checkOne(type, r);
      const max = type === 'H' ? 1_228_800 : type === 'HX' || type === 'TA' ? 6_000_000 : 12_000_000;
      for (const f of [1, 1.0299, 1.0301, 1.1]) checkOne(type, max * f);
    });
  }

  it('rates below 50 on the slowest divisors: refused exactly when out of reach', () => {
    for (const type of ['H', 'HX', 'HXD', 'TA', 'TB'] as const) {
      for (const baud of [5, 5.6, 6, 10, 40, 44.5, 45, 46]) checkOne(type, baud);
    }
  });
});
