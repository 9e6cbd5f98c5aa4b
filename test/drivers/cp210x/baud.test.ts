// encodeCp210xBaud against values worked out by hand from Linux's rules (cp210x.c
// `cp210x_change_speed`, `cp210x_get_actual_rate`, `cp210x_an205_table1`, `cp210x_init_max_speed`).
import { expect } from 'chai';
import fc from 'fast-check';
import {
  CP210X_AN205_TABLE,
  CP210X_BAUD_RANGES,
  Cp210xBaudError,
  encodeCp210xBaud,
} from '../../../drivers/cp210x/baud.ts';
import { CP210X_BAUD_PARTS, CP210X_PARTNUM, cp210xBaudPart, cp210xPartFromPartnum } from '../../../drivers/cp210x/parts.ts';

describe('CP210x baud encoding (encodeCp210xBaud)', () => {
  it('actual-rate parts: div = round(48e6 / (2 * prescale * rate)), actual = floor(48e6 / (2 * prescale * div))', () => {
    const cases: [Parameters<typeof encodeCp210xBaud>[0], number, number][] = [
      // 48e6/(2*1*115200) = 208.33 -> div 208; 48e6/416 = 115384.6 -> 115384
      ['CP2104', 115200, 115384],
      // 48e6/1843200 = 26.04 -> 26; 48e6/52 = 923076.9 -> 923076
      ['CP2104', 921600, 923076],
      // 48e6/19200 = 2500 exactly; 48e6/5000 = 9600
      ['CP2104', 9600, 9600],
      // 48e6/500000 = 96; 48e6/192 = 250000
      ['CP2104', 250000, 250000],
      // prescale 4 at <= 365: 48e6/2400 = 20000; 48e6/160000 = 300
      ['CP2104', 300, 300],
      // 365 still prescale 4: 48e6/2920 = 16438.36 -> 16438; 48e6/131504 = 365.007 -> 365
      ['CP2104', 365, 365],
      // 366 prescale 1: 48e6/732 = 65573.8 -> 65574; 48e6/131148 = 365.998 -> 365
      ['CP2104', 366, 365],
      // 48e6/3e6 = 16; 48e6/32 = 1.5e6
      ['CP2102N', 1_500_000, 1_500_000],
      // 48e6/6e6 = 8; 48e6/16 = 3e6
      ['CP2102N', 3_000_000, 3_000_000],
      ['CP2105-ECI', 115200, 115384],
    ];
    for (const [part, baud, rate] of cases) {
      expect(encodeCp210xBaud(part, baud), `${part} ${baud}`).to.deep.equal({ value: rate, actual: rate, clamped: false });
    }
  });

  it('table parts below 1 M: the AN205 rate whose range holds the request', () => {
    const cases: [Parameters<typeof encodeCp210xBaud>[0], number, number][] = [
      ['CP2102', 115200, 115200],
      ['CP2102', 100000, 115200], // 77609..117028 -> 115200
      ['CP2102', 74880, 76800], // 64112..77608 -> 76800
      ['CP2102', 4803, 4800], // top of 4001..4803
      ['CP2102', 4804, 7200], // bottom of 4804..7207
      ['CP2103', 9612, 9600],
      ['CP2103', 9613, 14400],
      ['CP2108', 600000, 576000], // 567139..670254 -> 576000
      ['unknown', 670255, 921600], // above the last bound
      ['CP2105-SCI', 57600, 57600],
      ['CP2101', 921600, 921600],
    ];
    for (const [part, baud, rate] of cases) {
      expect(encodeCp210xBaud(part, baud), `${part} ${baud}`).to.deep.equal({ value: rate, actual: rate, clamped: false });
    }
  });

  it('clamps to the port range as Linux does; at or above 1 M a table part gets the rate as is', () => {
    // CP2102 tops out at 1 M, which its AN205 table runs as 921600 (670255..1053257).
    expect(encodeCp210xBaud('CP2102', 2_000_000)).to.deep.equal({ value: 1_000_000, actual: 921_600, clamped: true });
    expect(encodeCp210xBaud('CP2102', 1)).to.deep.equal({ value: 300, actual: 300, clamped: true });
    // CP2105's SCI starts at 2400 and ends at 921600.
    expect(encodeCp210xBaud('CP2105-SCI', 1200)).to.deep.equal({ value: 2400, actual: 2400, clamped: true });
    expect(encodeCp210xBaud('CP2105-SCI', 1_000_000)).to.deep.equal({ value: 921_600, actual: 921_600, clamped: true });
    // CP2104 ends at 2 M: 48e6/4e6 = 12, 48e6/24 = 2e6.
    expect(encodeCp210xBaud('CP2104', 3_000_000)).to.deep.equal({ value: 2_000_000, actual: 2_000_000, clamped: true });
    // CP2101 ends at 921600.
    expect(encodeCp210xBaud('CP2101', 1_000_000)).to.deep.equal({ value: 921_600, actual: 921_600, clamped: true });
    // CP2108 at 1234567: sent as is; the 48 MHz divider: 48e6/2469134 = 19.44 -> 19, 48e6/38 = 1263157.9 -> 1263157.
    expect(encodeCp210xBaud('CP2108', 1_234_567)).to.deep.equal({ value: 1_234_567, actual: 1_263_157, clamped: false });
    expect(encodeCp210xBaud('unknown', 5_000_000)).to.deep.equal({ value: 2_000_000, actual: 2_000_000, clamped: true });
  });

  it('refuses what is no rate with a typed error naming it', () => {
    for (const bad of [0, -9600, 9600.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => encodeCp210xBaud('CP2102', bad), String(bad)).to.throw(Cp210xBaudError, /positive integer/);
    }
    expect(() => encodeCp210xBaud('CP9999' as never, 9600)).to.throw(Cp210xBaudError, /unknown CP210x part/);
  });

  it('properties: value within the range; actual-rate parts send what they run, within 0.5% from 366 to 240000 baud (divider >= 100)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CP210X_BAUD_PARTS), fc.integer({ min: 1, max: 20_000_000 }), (part, baud) => {
        const r = CP210X_BAUD_RANGES[part];
        const e = encodeCp210xBaud(part, baud);
        const c = Math.min(r.max, Math.max(r.min, baud));
        expect(e.clamped).to.equal(c !== baud);
        expect(e.value).to.be.at.least(r.min - 1).and.at.most(r.max);
        if (r.actualRate) {
          expect(e.value).to.equal(e.actual);
          if (c > 365 && c <= 240_000) expect(Math.abs(e.actual - c) / c).to.be.at.most(0.005);
        } else if (c < 1_000_000) {
          expect(CP210X_AN205_TABLE.some(([, rate]) => rate === e.value) || e.value === 921_600).to.equal(true);
        }
      }),
    );
  });
});

describe('CP210x part detection', () => {
  it('maps GET_PARTNUM bytes to families, ports and per-interface baud models', () => {
    expect(cp210xPartFromPartnum(CP210X_PARTNUM.CP2102)).to.deep.include({ family: 'CP2102', ports: 1 });
    expect(cp210xPartFromPartnum(0x05)).to.deep.include({ family: 'CP2105', ports: 2 });
    expect(cp210xPartFromPartnum(0x08)).to.deep.include({ family: 'CP2108', ports: 4 });
    expect(cp210xPartFromPartnum(0x21)).to.deep.include({ family: 'CP2102N', variant: 'QFN24' });
    expect(cp210xPartFromPartnum(0x77).family).to.equal('unknown');
    expect(cp210xBaudPart('CP2105', 0)).to.equal('CP2105-ECI');
    expect(cp210xBaudPart('CP2105', 1)).to.equal('CP2105-SCI');
    expect(cp210xBaudPart('CP2108', 3)).to.equal('CP2108');
  });
});
