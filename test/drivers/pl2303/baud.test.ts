import { expect } from 'chai';
import {
  decodePl2303LineCoding,
  encodePl2303Baud,
  encodePl2303LineCoding,
  Pl2303BaudError,
  Pl2303LineCodingError,
  pl2303BaudField,
  PL2303_DIRECT_BAUDS,
  samePl2303LineCoding,
  type Pl2303LineCoding,
} from '../../../drivers/pl2303/baud.ts';
import { PL2303_TYPES, type Pl2303Type } from '../../../drivers/pl2303/types.ts';
import { pl2303ChipBaud, Pl2303BaudRejected } from '../../../mocks/pl2303/baud-decode.ts';

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

function refusal(type: Pl2303Type, baud: number): Pl2303BaudError {
  try {
    encodePl2303Baud(type, baud);
  } catch (e) {
    expect(e).to.be.instanceOf(Pl2303BaudError);
    return e as Pl2303BaudError;
  }
  throw new Error(`expected ${type} ${baud} to be refused`);
}

/*
 * Expected bytes below are worked by hand from the formulas (C = 12e6 * 32 = 384e6):
 *   standard:  rate = C / (m * 4^e), m <= 511, e <= 7;  bytes [m & 0xff, e<<1 | m>>8, 0, 0x80]
 *   alternate: rate = C / (m * 2^e), m <= 2047, e <= 15; bytes [m & 0xff, (e & ~1)<<4 | m>>8, e & 1, 0x80]
 *   direct:    the rate as a little-endian u32.
 * For each rate: x = C / rate, then the smallest e that brings x / base^e under the mantissa
 * limit, and whichever of floor/ceil of the mantissa lands nearer the rate (checked against the
 * neighbouring exponents, which only tie or lose).
 */
describe('PL2303 baud encoding: hand-derived values', () => {
  it('sends table rates as plain numbers on every type (9600 = 0x2580, 115200 = 0x1C200)', () => {
    for (const t of PL2303_TYPES) {
      expect(hex(encodePl2303Baud(t, 9600).bytes), t).to.equal('80 25 00 00');
      expect(encodePl2303Baud(t, 9600)).to.deep.include({ actual: 9600, method: 'direct' });
      expect(hex(encodePl2303Baud(t, 115200).bytes), t).to.equal('00 c2 01 00');
    }
    // 6e6 = 0x5B8D80, within the HX/TA maximum.
    expect(hex(encodePl2303Baud('HX', 6e6).bytes)).to.equal('80 8d 5b 00');
    expect(hex(encodePl2303Baud('TA', 6e6).bytes)).to.equal('80 8d 5b 00');
  });

  it('110 on TA: alternate divisor m=1705 e=11, ~110 baud', () => {
    // x = 384e6/110 = 3,490,909.09; 2^11 brings it to 1704.55 (< 2048).
    // m=1704: 384e6/(1704*2048) = 110.035; m=1705: 384e6/(1705*2048) = 109.971 (nearer).
    // 1705 = 0x6A9 -> byte0 0xA9, m>>8 = 6; e=11: (11 & ~1)<<4 = 0xA0 -> byte1 0xA6; byte2 = 1.
    const e = encodePl2303Baud('TA', 110);
    expect(hex(e.bytes)).to.equal('a9 a6 01 80');
    expect(e.method).to.equal('alt-divisor');
    expect(e.actual).to.be.closeTo(109.9707, 0.0001);
    expect(pl2303ChipBaud('TA', e.bytes)).to.equal(e.actual);
  });

  it('110 on TA with the standard formula Linux used before alt_divisors is far off', () => {
    // Standard: 3,490,909 / 4^7 = 213.07 -> m=213 (0xD5), e=7 -> [d5 0e 00 80] (110.035 on H/HX/HXD).
    const old = Uint8Array.of(0xd5, 0x0e, 0x00, 0x80);
    expect(pl2303ChipBaud('HX', old)).to.be.closeTo(110.035, 0.001);
    // A TA reads byte 1 as exponent bits 5-7 and mantissa bits 0-2: here exponent 0 and
    // mantissa 0x6D5 = 1749, plus a stray bit 3 its layout does not have. The emulation refuses
    // that; ignoring the stray bit the chip would run 384e6/1749 = ~219,554 baud.
    expect(() => pl2303ChipBaud('TA', old)).to.throw(Pl2303BaudRejected, /alternate divisor layout/);
    expect(pl2303ChipBaud('TA', Uint8Array.of(0xd5, 0x06, 0x00, 0x80))).to.be.closeTo(219_554.03, 0.01);
  });

  it('110 on the standard-divisor types and HXN', () => {
    // m=213 e=7 as above: 384e6/(213*16384) = 110.035 (m=214 gives 109.52, worse).
    for (const t of ['H', 'HX', 'HXD'] as const) {
      const e = encodePl2303Baud(t, 110);
      expect(hex(e.bytes), t).to.equal('d5 0e 00 80');
      expect(e.actual).to.be.closeTo(110.0352, 0.0001);
    }
    expect(hex(encodePl2303Baud('TB', 110).bytes)).to.equal('a9 a6 01 80');
    expect(hex(encodePl2303Baud('HXN', 110).bytes)).to.equal('6e 00 00 00');
  });

  it('74880 (ESP8266 boot rate)', () => {
    // Standard: x = 5128.2; /16 = 320.51 (e=2). m=320 -> 75000 (+0.160%), m=321 -> 74766.36 (-0.152%).
    // 321 = 0x141 -> byte0 0x41, byte1 = 2<<1 | 1 = 0x05. (Linux floors to m=320: 75000.)
    for (const t of ['H', 'HX', 'HXD'] as const) {
      const e = encodePl2303Baud(t, 74880);
      expect(hex(e.bytes), t).to.equal('41 05 00 80');
      expect(e.actual).to.be.closeTo(74766.355, 0.001);
    }
    // Alternate: x / 4 = 1282.05 (e=2). m=1282 -> 74882.995 (+0.004%). 1282 = 0x502;
    // byte1 = (2 & ~1)<<4 | 5 = 0x25; byte2 = 0. (e=3, m=641 is the same rate: the smaller e wins.)
    for (const t of ['TA', 'TB'] as const) {
      const e = encodePl2303Baud(t, 74880);
      expect(hex(e.bytes), t).to.equal('02 25 00 80');
      expect(e.actual).to.be.closeTo(74882.995, 0.001);
    }
    // HXN: 74880 = 0x012480.
    expect(encodePl2303Baud('HXN', 74880)).to.deep.include({ actual: 74880, method: 'direct' });
    expect(hex(encodePl2303Baud('HXN', 74880).bytes)).to.equal('80 24 01 00');
  });

  it('250000 (DMX, 3D printers) is exact everywhere', () => {
    // Standard: x = 1536; /4 = 384 (e=1) exactly. 384 = 0x180 -> [80, 1<<1 | 1 = 03, 00, 80].
    for (const t of ['H', 'HX', 'HXD'] as const) {
      const e = encodePl2303Baud(t, 250000);
      expect(hex(e.bytes), t).to.equal('80 03 00 80');
      expect(e.actual).to.equal(250000);
    }
    // Alternate: m = 1536 = 0x600 fits at e=0 -> [00, 06, 00, 80].
    for (const t of ['TA', 'TB'] as const) {
      const e = encodePl2303Baud(t, 250000);
      expect(hex(e.bytes), t).to.equal('00 06 00 80');
      expect(e.actual).to.equal(250000);
    }
    // HXN: 250000 = 0x03D090.
    expect(hex(encodePl2303Baud('HXN', 250000).bytes)).to.equal('90 d0 03 00');
  });

  it('12 M on TB, HXD and HXN; refused on the 6 M and 1.2 M parts', () => {
    // 12e6 is not in the direct table: divisor m = 384e6/12e6 = 32, e = 0 -> [20 00 00 80]
    // in both layouts (the alternate layout only differs once m > 511 or e > 0).
    expect(hex(encodePl2303Baud('TB', 12e6).bytes)).to.equal('20 00 00 80');
    expect(encodePl2303Baud('TB', 12e6)).to.deep.include({ actual: 12e6, method: 'alt-divisor' });
    expect(hex(encodePl2303Baud('HXD', 12e6).bytes)).to.equal('20 00 00 80');
    expect(encodePl2303Baud('HXD', 12e6)).to.deep.include({ actual: 12e6, method: 'divisor' });
    // HXN: 12e6 = 0xB71B00.
    expect(hex(encodePl2303Baud('HXN', 12e6).bytes)).to.equal('00 1b b7 00');

    const hx = refusal('HX', 12e6);
    expect(hx.nearest).to.deep.equal([6e6]);
    expect(hx.requested).to.equal(12e6);
    expect(hx.type).to.equal('HX');
    expect(hx.message).to.include('HX').and.include('12000000').and.include('6000000');
    expect(refusal('TA', 12e6).nearest).to.deep.equal([6e6]);
    expect(refusal('H', 12e6).nearest).to.deep.equal([1228800]);
  });

  it('caps at the maximum when that is within 3% of the request', () => {
    // H: 1,265,000 is 2.9% above 1,228,800 -> capped and sent direct; 1,270,000 (3.35%) refused.
    expect(encodePl2303Baud('H', 1_265_000)).to.deep.include({ actual: 1228800, method: 'direct' });
    expect(refusal('H', 1_270_000).nearest).to.deep.equal([1228800]);
    expect(encodePl2303Baud('HXD', 12.3e6).actual).to.equal(12e6);
    expect(encodePl2303Baud('HXN', 12.3e6).actual).to.equal(12e6);
  });

  it('a table rate above the type maximum is capped, not sent', () => {
    // 2,457,600 is in the table but above H's 1,228,800: too far, refused.
    expect(refusal('H', 2_457_600).nearest).to.deep.equal([1228800]);
    expect(() => pl2303ChipBaud('H', encodePl2303Baud('HX', 2_457_600).bytes)).to.throw(Pl2303BaudRejected);
  });

  it('rounds to the nearest mantissa where Linux floors (just under 12 M on HXD)', () => {
    // 11.64e6: x = 32.99. Linux: m=32 -> 12e6 (+3.09%). Here m=33 -> 11,636,363.6 (-0.03%).
    const e = encodePl2303Baud('HXD', 11.64e6);
    expect(hex(e.bytes)).to.equal('21 00 00 80');
    expect(e.actual).to.be.closeTo(11_636_363.64, 0.01);
  });

  it('refuses rates below what the divisors reach, naming the nearest', () => {
    const e = refusal('HX', 40);
    expect(e.nearest).to.have.length(1);
    expect(e.nearest[0]).to.be.closeTo(45.866, 0.001);
    expect(e.message).to.match(/40 baud.*45\.87/);
    // 45 is within 2% of the slowest divisor rate: accepted.
    expect(encodePl2303Baud('HX', 45).actual).to.be.closeTo(45.866, 0.001);
  });

  it('HXN rounds fractional rates to the integer it sends', () => {
    expect(encodePl2303Baud('HXN', 300.4).actual).to.equal(300);
    expect(encodePl2303Baud('HXN', 1).actual).to.equal(1);
    expect(refusal('HXN', 0.4).nearest).to.deep.equal([1]);
  });

  it('refuses non-rates', () => {
    for (const bad of [0, -9600, NaN, Infinity, -Infinity]) {
      for (const t of PL2303_TYPES) {
        const e = refusal(t, bad);
        expect(e.nearest).to.deep.equal([]);
        expect(e.message).to.include('positive finite');
      }
    }
  });

  it('sends every table rate up to the maximum directly on non-HXN types', () => {
    for (const t of ['H', 'HX', 'HXD', 'TA', 'TB'] as const) {
      for (const r of PL2303_DIRECT_BAUDS) {
        if (r > (t === 'H' ? 1228800 : t === 'HX' || t === 'TA' ? 6e6 : 12e6)) continue;
        const e = encodePl2303Baud(t, r);
        expect(e.method, `${t} ${r}`).to.equal('direct');
        expect(pl2303BaudField(e.bytes)).to.equal(r);
      }
    }
  });
});

describe('PL2303 line coding', () => {
  const base: Pl2303LineCoding = {
    baudBytes: Uint8Array.of(0x80, 0x25, 0, 0),
    stopBits: 1,
    parity: 'none',
    dataBits: 8,
  };

  it('encodes 9600 8N1 as the 7 bytes Linux sends', () => {
    expect(hex(encodePl2303LineCoding(base))).to.equal('80 25 00 00 00 00 08');
  });

  it('encodes stop bits, parity and data bits by their codes', () => {
    const lc = encodePl2303LineCoding({ ...base, stopBits: 1.5, parity: 'space', dataBits: 5 });
    expect(Array.from(lc.slice(4))).to.deep.equal([1, 4, 5]);
    expect(Array.from(encodePl2303LineCoding({ ...base, stopBits: 2, parity: 'odd', dataBits: 7 }).slice(4))).to.deep.equal(
      [2, 1, 7],
    );
    expect(encodePl2303LineCoding({ ...base, parity: 'even' })[5]).to.equal(2);
    expect(encodePl2303LineCoding({ ...base, parity: 'mark' })[5]).to.equal(3);
  });

  it('round-trips every valid combination, divisor baud fields included', () => {
    const baud = encodePl2303Baud('TA', 110).bytes;
    for (const stopBits of [1, 1.5, 2] as const) {
      for (const parity of ['none', 'odd', 'even', 'mark', 'space'] as const) {
        for (const dataBits of [5, 6, 7, 8] as const) {
          const lc = { baudBytes: baud, stopBits, parity, dataBits };
          const back = decodePl2303LineCoding(encodePl2303LineCoding(lc));
          expect(back).to.deep.equal({ ...lc, baudBytes: Uint8Array.from(baud) });
        }
      }
    }
  });

  it('refuses invalid fields with typed errors naming them', () => {
    const bad: [Partial<Record<keyof Pl2303LineCoding, unknown>>, RegExp][] = [
      [{ stopBits: 3 }, /stopBits 3/],
      [{ parity: 'sometimes' }, /parity 'sometimes'/],
      [{ dataBits: 9 }, /dataBits 9/],
      [{ dataBits: 4 }, /dataBits 4/],
      [{ baudBytes: Uint8Array.of(1, 2, 3) }, /baudBytes \(3 bytes\)/],
    ];
    for (const [patch, re] of bad) {
      expect(() => encodePl2303LineCoding({ ...base, ...patch } as Pl2303LineCoding)).to.throw(Pl2303LineCodingError, re);
    }
  });

  it('refuses malformed received line codings', () => {
    expect(() => decodePl2303LineCoding(Uint8Array.of(0x80, 0x25, 0, 0, 0, 0))).to.throw(Pl2303LineCodingError, /length 6/);
    expect(() => decodePl2303LineCoding(Uint8Array.of(0x80, 0x25, 0, 0, 3, 0, 8))).to.throw(/stopBits 3/);
    expect(() => decodePl2303LineCoding(Uint8Array.of(0x80, 0x25, 0, 0, 0, 5, 8))).to.throw(/parity 5/);
    expect(() => decodePl2303LineCoding(Uint8Array.of(0x80, 0x25, 0, 0, 0, 0, 0))).to.throw(/dataBits 0/);
  });

  it('reads the baud field as a LE u32 and compares payloads byte for byte', () => {
    expect(pl2303BaudField(Uint8Array.of(0x00, 0x1b, 0xb7, 0x00))).to.equal(12_000_000);
    expect(pl2303BaudField(Uint8Array.of(0x20, 0x00, 0x00, 0x80))).to.equal(0x80000020);
    const a = encodePl2303LineCoding(base);
    expect(samePl2303LineCoding(a, Uint8Array.from(a))).to.equal(true);
    expect(samePl2303LineCoding(undefined, a)).to.equal(false);
    expect(samePl2303LineCoding(a, encodePl2303LineCoding({ ...base, dataBits: 7 }))).to.equal(false);
  });
});
