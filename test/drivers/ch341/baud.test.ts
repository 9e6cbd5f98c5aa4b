// encodeCh341Baud against values worked out by hand from Linux's ch341.c `ch341_get_divisor`:
// ps = highest with min_rate[ps] = floor(48e6 / (2^(11-3ps) * 512)) = 45/366/2929/23437 below the
// rate; div = floor(48e6 / (2^(12-3ps-1) * rate)); halve (fact 0) if outside 9..255; take div+1
// when 16*48e6/(clk*div) - 16*rate >= 16*rate - 16*48e6/(clk*(div+1)); an even fact-1 div becomes
// div/2 with fact 0; wIndex = (256-div)<<8 | fact<<2 | ps (| 0x80 above version 0x27).
import { expect } from 'chai';
import fc from 'fast-check';
import { Ch341BaudError, encodeCh341Baud } from '../../../drivers/ch341/baud.ts';

describe('CH341 baud encoding (encodeCh341Baud)', () => {
  it('the rates the 2007 fixed table and the facts file list', () => {
    // 9600: ps 2, clk 32, div floor(156.25) = 156; 16x check 246 < 734 keeps 156; even -> 78, fact 0:
    // (256-78 = 0xB2)<<8 | 2 = 0xB202; 48e6 / (64 * 78) = 9615.38
    expect(encodeCh341Baud(9600, 0x27)).to.deep.include({ wIndex: 0xb202, ps: 2, fact: 0, div: 78, clamped: false });
    expect(encodeCh341Baud(9600, 0x27).actual).to.be.closeTo(48e6 / (64 * 78), 1e-9);
    // 115200: ps 3, clk 4, div floor(104.17) = 104; 2953 < 14629 keeps it; even -> 52: 0xCC03; 48e6/(8*52) = 115384.6
    expect(encodeCh341Baud(115200, 0x27)).to.deep.include({ wIndex: 0xcc03, actual: 48e6 / 416 });
    // 2400: ps 1, clk 256, div 78 (78.125), 61 < 426; even -> 39: (217 = 0xD9)<<8 | 1 = 0xD901
    expect(encodeCh341Baud(2400, 0x27).wIndex).to.equal(0xd901);
    // 19200: ps 2, div floor(78.125) = 78 -> 39 fact 0: 0xD902
    expect(encodeCh341Baud(19200, 0x27).wIndex).to.equal(0xd902);
    // 4800: ps 2, div 312 > 255 -> 156, clk 64, fact 0; 16x: 246 < 1702 -> 156: (100 = 0x64)<<8 | 2 = 0x6402
    expect(encodeCh341Baud(4800, 0x27).wIndex).to.equal(0x6402);
    // 38400: ps 3, div floor(312.5) = 312 > 255 -> 156 fact 0, clk 8: 0x6403
    expect(encodeCh341Baud(38400, 0x27).wIndex).to.equal(0x6403);
  });

  it('fact 1 stays when the divisor is odd; 0x80 is added above version 0x27', () => {
    // 921600: ps 3, clk 4, div floor(13.02) = 13 odd: (243 = 0xF3)<<8 | 1<<2 | 3 = 0xF307; 48e6/52 = 923076.9
    expect(encodeCh341Baud(921600, 0x27)).to.deep.include({ wIndex: 0xf307, fact: 1, div: 13, actual: 48e6 / 52 });
    expect(encodeCh341Baud(921600, 0x30).wIndex).to.equal(0xf387);
    expect(encodeCh341Baud(9600, 0x31).wIndex).to.equal(0xb282);
    expect(encodeCh341Baud(9600, 0x28).wIndex).to.equal(0xb282);
    // 1000: ps 1, clk 256, div 187 (187.5), 42 < 43 keeps it, odd: (69 = 0x45)<<8 | 4 | 1 = 0x4505
    expect(encodeCh341Baud(1000, 0x27)).to.deep.include({ wIndex: 0x4505, actual: 48e6 / (256 * 187) });
  });

  it('the ends: 3 M is div 2 at clk 8; below 46 clamps to 46 (div 255 at clk 4096)', () => {
    // 3e6: ps 3, div 4 < 9 -> 2, clk 8: (254 = 0xFE)<<8 | 3 = 0xFE03
    expect(encodeCh341Baud(3_000_000, 0x27)).to.deep.include({ wIndex: 0xfe03, actual: 3_000_000, clamped: false });
    expect(encodeCh341Baud(5_000_000, 0x27)).to.deep.include({ wIndex: 0xfe03, clamped: true });
    // 50: ps 0, div 468 -> 234 at clk 4096; 1 < 3 keeps it: (22 = 0x16)<<8 = 0x1600
    expect(encodeCh341Baud(50, 0x27).wIndex).to.equal(0x1600);
    // 46: div 509 -> 254; 2 >= 1 takes 255: 0x0100; 48e6/(4096*255) = 45.96
    expect(encodeCh341Baud(10, 0x27)).to.deep.include({ wIndex: 0x0100, div: 255, clamped: true, actual: 48e6 / (4096 * 255) });
  });

  it('LIMITED_PRESCALER forces fact 0 below ps 3', () => {
    // 1000 limited: div 187 -> 93 at clk 512; 129 >= 43 takes 94: (162 = 0xA2)<<8 | 1 = 0xA201; 48e6/(512*94) = 997.3
    expect(encodeCh341Baud(1000, 0x27, { limitedPrescaler: true })).to.deep.include({ wIndex: 0xa201, fact: 0, div: 94 });
    // ps 3 is unaffected.
    expect(encodeCh341Baud(921600, 0x27, { limitedPrescaler: true }).wIndex).to.equal(0xf307);
  });

  it('refuses what is no rate or no version, with a typed error', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => encodeCh341Baud(bad, 0x27), String(bad)).to.throw(Ch341BaudError, /positive integer/);
    expect(() => encodeCh341Baud(9600, 0x100)).to.throw(Ch341BaudError, /version/);
  });

  it('properties: the fields rebuild wIndex and actual; rates up to 120000 (divider >= 100) within 0.5%', () => {
    fc.assert(
      fc.property(fc.integer({ min: 46, max: 3_000_000 }), fc.integer({ min: 0, max: 0xff }), fc.boolean(), (baud, version, limited) => {
        const e = encodeCh341Baud(baud, version, { limitedPrescaler: limited });
        const ps = e.wIndex & 3;
        const fact = (e.wIndex >> 2) & 1;
        const div = 256 - (e.wIndex >> 8) || 256;
        expect(div).to.be.within(fact ? 9 : 2, 256);
        expect((e.wIndex & 0x80) !== 0).to.equal(version > 0x27);
        expect(e.actual).to.be.closeTo(48e6 / (2 ** (12 - 3 * ps - fact) * div), 1e-6);
        if (limited && ps < 3) expect(fact).to.equal(0);
        if (baud <= 120_000 && !limited) expect(Math.abs(e.actual - baud) / baud).to.be.at.most(0.005);
      }),
    );
  });
});
