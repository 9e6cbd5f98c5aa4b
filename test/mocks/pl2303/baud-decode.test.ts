import { expect } from 'chai';
import fc from 'fast-check';
import { pl2303ChipBaud, Pl2303BaudRejected } from '../../../mocks/pl2303/baud-decode.ts';

const b = (...x: number[]) => Uint8Array.from(x);

describe('emulated PL2303 baud field decoding', () => {
  it('plain rates from the table on every type, up to its maximum', () => {
    for (const t of ['H', 'HX', 'HXD', 'TA', 'TB', 'HXN'] as const) {
      expect(pl2303ChipBaud(t, b(0x80, 0x25, 0, 0)), t).to.equal(9600);
      expect(pl2303ChipBaud(t, b(0x00, 0xc0, 0x12, 0)), t).to.equal(1_228_800);
    }
    expect(pl2303ChipBaud('HX', b(0x80, 0x8d, 0x5b, 0))).to.equal(6_000_000);
    expect(() => pl2303ChipBaud('H', b(0x80, 0x8d, 0x5b, 0))).to.throw(Pl2303BaudRejected, /above the maximum of 1228800/);
  });

  it('non-table plain rates: refused on non-HXN (a real chip falls back to 9600), taken by HXN', () => {
    let caught: unknown;
    try {
      pl2303ChipBaud('HX', b(0x80, 0x24, 0x01, 0)); // 74880
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(Pl2303BaudRejected);
    expect((caught as Pl2303BaudRejected).chipFallback).to.equal(9600);
    expect((caught as Pl2303BaudRejected).message).to.include('74880').and.include('0x80 0x24 0x01 0x00');
    expect(pl2303ChipBaud('HXN', b(0x80, 0x24, 0x01, 0))).to.equal(74880);
    expect(pl2303ChipBaud('HXN', b(0x00, 0x1b, 0xb7, 0))).to.equal(12_000_000);
    expect(() => pl2303ChipBaud('HXN', b(0x01, 0x1b, 0xb7, 0))).to.throw(Pl2303BaudRejected, /above the maximum/);
  });

  it('standard divisors: 384e6 / (m * 4^e)', () => {
    // m = 0x141 = 321, e = 2: 384e6 / 5136.
    expect(pl2303ChipBaud('HX', b(0x41, 0x05, 0, 0x80))).to.equal(384e6 / 5136);
    // m = 0x180 = 384, e = 1: 250000.
    expect(pl2303ChipBaud('H', b(0x80, 0x03, 0, 0x80))).to.equal(250_000);
    // m = 511, e = 7: the slowest rate.
    expect(pl2303ChipBaud('HXD', b(0xff, 0x0f, 0, 0x80))).to.equal(384e6 / (511 * 16384));
  });

  it('alternate divisors on TA/TB: 384e6 / (m * 2^e), e split over byte 1 bits 5-7 and byte 2 bit 0', () => {
    // m = 0x6A9 = 1705, e = 0b1011 = 11.
    expect(pl2303ChipBaud('TA', b(0xa9, 0xa6, 0x01, 0x80))).to.equal(384e6 / (1705 * 2048));
    // m = 2047, e = 15: the slowest rate.
    expect(pl2303ChipBaud('TB', b(0xff, 0xe7, 0x01, 0x80))).to.equal(384e6 / (2047 * 32768));
    // m = 32, e = 0: 12 M on TB, above TA's maximum.
    expect(pl2303ChipBaud('TB', b(0x20, 0, 0, 0x80))).to.equal(12e6);
    expect(() => pl2303ChipBaud('TA', b(0x20, 0, 0, 0x80))).to.throw(Pl2303BaudRejected, /above the maximum of 6000000/);
  });

  it('refuses the alternate layout on standard chips and vice versa where the bits show it', () => {
    expect(() => pl2303ChipBaud('HX', b(0xa9, 0xa6, 0x01, 0x80))).to.throw(Pl2303BaudRejected, /standard divisor layout/);
    expect(() => pl2303ChipBaud('HXD', b(0x00, 0x00, 0x01, 0x80))).to.throw(Pl2303BaudRejected);
    // Standard e >= 4 sets byte 1 bit 3, which the alternate layout does not have.
    expect(() => pl2303ChipBaud('TA', b(0xd5, 0x0e, 0, 0x80))).to.throw(Pl2303BaudRejected, /alternate divisor layout/);
  });

  it('refuses divisors on HXN, zero mantissas, zero rates, stray high bits, wrong lengths', () => {
    expect(() => pl2303ChipBaud('HXN', b(0x20, 0, 0, 0x80))).to.throw(Pl2303BaudRejected, /no divisors/);
    expect(() => pl2303ChipBaud('HX', b(0x00, 0x0e, 0, 0x80))).to.throw(Pl2303BaudRejected, /mantissa of 0/);
    expect(() => pl2303ChipBaud('TB', b(0x00, 0xa0, 0x01, 0x80))).to.throw(Pl2303BaudRejected, /mantissa of 0/);
    expect(() => pl2303ChipBaud('HXN', b(0, 0, 0, 0))).to.throw(Pl2303BaudRejected, /rate of 0/);
    expect(() => pl2303ChipBaud('HX', b(0x20, 0, 0, 0x81))).to.throw(Pl2303BaudRejected, /bits 24-30/);
    expect(() => pl2303ChipBaud('HX', b(0x80, 0x25, 0))).to.throw(Pl2303BaudRejected, /4 bytes/);
  });

  it('never returns a rate above the maximum or at/below zero, for any 4 bytes', () => {
    const max = { H: 1_228_800, HX: 6e6, HXD: 12e6, TA: 6e6, TB: 12e6, HXN: 12e6 } as const;
    fc.assert(
      fc.property(
        fc.constantFrom('H', 'HX', 'HXD', 'TA', 'TB', 'HXN' as const),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (type, bytes) => {
          try {
            const r = pl2303ChipBaud(type, bytes);
            return r > 0 && r <= max[type] && Number.isFinite(r);
          } catch (e) {
            return e instanceof Pl2303BaudRejected;
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});
