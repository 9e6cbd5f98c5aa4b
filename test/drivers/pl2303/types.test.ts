import { expect } from 'chai';
import {
  detectPl2303Type,
  isPl2303Clone,
  isStallError,
  pl2303AutoXonXoff,
  pl2303TypeInfo,
  Pl2303StallError,
  PL2303_HX_STATUS_REG,
  PL2303_TYPES,
  PL2303_TYPE_INFO,
  UnsupportedPl2303Error,
  type Pl2303Descriptor,
} from '../../../drivers/pl2303/types.ts';
import { transferError } from '../../../src/usb/host.ts';

/** A readRegister that records its calls and answers or stalls. */
function probe(answer: 'answers' | 'stalls' | 'times-out' | 'disconnected') {
  const calls: number[] = [];
  const fn = async (reg: number): Promise<number> => {
    calls.push(reg);
    if (answer === 'answers') return 0x00;
    if (answer === 'stalls') throw new Pl2303StallError(`vendor read ${reg.toString(16)}`);
    if (answer === 'times-out') throw transferError('timeout', 'control transfer timed out');
    throw transferError('disconnected', 'device gone');
  };
  return { calls, fn };
}

// Descriptor sets as the real parts report them.
const desc = (bDeviceClass: number, bMaxPacketSize0: number, bcdUSB: number, bcdDevice: number): Pl2303Descriptor => ({
  bDeviceClass,
  bMaxPacketSize0,
  bcdUSB,
  bcdDevice,
});

describe('PL2303 type detection', () => {
  it('legacy H by communications device class, whatever the rest says', async () => {
    const p = probe('answers');
    const d = await detectPl2303Type(desc(0x02, 0x40, 0x200, 0x300), p.fn);
    expect(d.type).to.equal('H');
    expect(d.quirks).to.deep.equal({ legacy: true, noBreakGetLine: false });
    expect(p.calls).to.deep.equal([]);
  });

  it('legacy H by an 8-byte control endpoint (class 0x00 and 0xff variants)', async () => {
    for (const cls of [0x00, 0xff]) {
      const d = await detectPl2303Type(desc(cls, 8, 0x110, 0x202), probe('answers').fn);
      expect(d.type).to.equal('H');
      expect(d.quirks.legacy).to.equal(true);
    }
  });

  it('HX on USB 1.1 (and the "1.0.1" some parts report) unless bcdDevice is 0x400', async () => {
    for (const bcdUSB of [0x110, 0x101]) {
      for (const bcdDevice of [0x300, 0x202, 0x100]) {
        const p = probe('answers');
        const d = await detectPl2303Type(desc(0x00, 0x40, bcdUSB, bcdDevice), p.fn);
        expect(d.type, `bcdUSB ${bcdUSB.toString(16)} bcdDevice ${bcdDevice.toString(16)}`).to.equal('HX');
        expect(d.quirks.legacy).to.equal(false);
        expect(p.calls).to.deep.equal([]);
      }
    }
  });

  it('HXD on USB 1.1 with bcdDevice 0x400', async () => {
    for (const bcdUSB of [0x110, 0x101]) {
      const d = await detectPl2303Type(desc(0x00, 0x40, bcdUSB, 0x400), probe('answers').fn);
      expect(d.type).to.equal('HXD');
    }
  });

  it('TA vs HXN at bcdDevice 0x300, by whether register 0x8080 answers', async () => {
    const ok = probe('answers');
    expect((await detectPl2303Type(desc(0x00, 0x40, 0x200, 0x300), ok.fn)).type).to.equal('TA');
    expect(ok.calls).to.deep.equal([PL2303_HX_STATUS_REG]);
    expect(PL2303_HX_STATUS_REG).to.equal(0x8080);

    const stall = probe('stalls');
    expect((await detectPl2303Type(desc(0x00, 0x40, 0x200, 0x300), stall.fn)).type).to.equal('HXN');
    expect(stall.calls).to.deep.equal([0x8080]);
  });

  it('TB vs HXN at bcdDevice 0x500, by whether register 0x8080 answers', async () => {
    expect((await detectPl2303Type(desc(0x00, 0x40, 0x200, 0x500), probe('answers').fn)).type).to.equal('TB');
    expect((await detectPl2303Type(desc(0x00, 0x40, 0x200, 0x500), probe('stalls').fn)).type).to.equal('HXN');
  });

  it('a probe that times out counts as no answer (as in Linux); a disconnect propagates', async () => {
    expect((await detectPl2303Type(desc(0x00, 0x40, 0x200, 0x300), probe('times-out').fn)).type).to.equal('HXN');
    let caught: unknown;
    try {
      await detectPl2303Type(desc(0x00, 0x40, 0x200, 0x500), probe('disconnected').fn);
    } catch (e) {
      caught = e;
    }
    expect((caught as Error)?.name).to.equal('NotFoundError');
  });

  it('HXN (G series) for every listed bcdDevice, without probing', async () => {
    for (const bcdDevice of [0x100, 0x105, 0x305, 0x400, 0x405, 0x505, 0x600, 0x605, 0x700, 0x705, 0x905, 0x1005]) {
      const p = probe('answers');
      const d = await detectPl2303Type(desc(0x00, 0x40, 0x200, bcdDevice), p.fn);
      expect(d.type, `bcdDevice 0x${bcdDevice.toString(16)}`).to.equal('HXN');
      expect(d.quirks).to.deep.equal({ legacy: false, noBreakGetLine: false });
      expect(p.calls).to.deep.equal([]);
    }
  });

  it('refuses unknown combinations, naming the values in hex', async () => {
    const unknown = [
      desc(0x00, 0x40, 0x200, 0x800),
      desc(0x00, 0x40, 0x200, 0x0200),
      desc(0x00, 0x40, 0x200, 0x1000),
      desc(0x00, 0x40, 0x300, 0x300),
      desc(0x00, 0x40, 0x100, 0x300),
      desc(0xff, 0x40, 0x210, 0x400),
    ];
    for (const d of unknown) {
      const p = probe('answers');
      let caught: unknown;
      try {
        await detectPl2303Type(d, p.fn);
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(UnsupportedPl2303Error);
      const err = caught as UnsupportedPl2303Error;
      expect(err.message).to.include(`bcdUSB 0x${d.bcdUSB.toString(16).padStart(4, '0')}`);
      expect(err.message).to.include(`bcdDevice 0x${d.bcdDevice.toString(16).padStart(4, '0')}`);
      expect(err.descriptor).to.deep.equal(d);
      expect(p.calls).to.deep.equal([]);
    }
  });
});

describe('PL2303 HXD clone check', () => {
  it('a GET_LINE that stalls marks a clone', async () => {
    expect(await isPl2303Clone(async () => Promise.reject(new Pl2303StallError('GET_LINE')))).to.equal(true);
    // Any error carrying status 'stall' counts too (a backend's own stall error).
    expect(await isPl2303Clone(async () => Promise.reject(Object.assign(new Error('x'), { status: 'stall' })))).to.equal(
      true,
    );
  });

  it('a GET_LINE that answers, or fails otherwise, is a genuine chip; a disconnect propagates', async () => {
    expect(await isPl2303Clone(async () => Uint8Array.of(0x80, 0x25, 0, 0, 0, 0, 8))).to.equal(false);
    expect(await isPl2303Clone(async () => Promise.reject(transferError('timeout', 't')))).to.equal(false);
    let caught: unknown;
    try {
      await isPl2303Clone(async () => Promise.reject(transferError('disconnected', 'gone')));
    } catch (e) {
      caught = e;
    }
    expect((caught as Error)?.name).to.equal('NotFoundError');
  });

  it('isStallError recognises only stalls', () => {
    expect(isStallError(new Pl2303StallError('x'))).to.equal(true);
    expect(isStallError(new Error('x'))).to.equal(false);
    expect(isStallError(null)).to.equal(false);
  });
});

describe('PL2303 type table', () => {
  it('has every type with the maximum rates pl2303.c gives', () => {
    expect(PL2303_TYPES).to.have.members(Object.keys(PL2303_TYPE_INFO));
    const max = Object.fromEntries(PL2303_TYPES.map((t) => [t, pl2303TypeInfo(t).maxBaud]));
    expect(max).to.deep.equal({ H: 1228800, HX: 6000000, HXD: 12000000, TA: 6000000, TB: 12000000, HXN: 12000000 });
  });

  it('marks divisor layout and request set per type', () => {
    for (const t of PL2303_TYPES) {
      const i = pl2303TypeInfo(t);
      expect(i.altDivisors, t).to.equal(t === 'TA' || t === 'TB');
      expect(i.noDivisors, t).to.equal(t === 'HXN');
      expect(i.hxnRequests, t).to.equal(t === 'HXN');
      expect(i.legacy, t).to.equal(t === 'H');
      expect(i.autoXonXoff, t).to.equal(t !== 'H');
      expect(i.breakSupported, t).to.equal(true);
    }
    expect(pl2303TypeInfo('HXN').linuxName).to.equal('G');
  });

  it('gives the flow-control register, mask and values', () => {
    expect(pl2303TypeInfo('H').flowControl).to.deep.equal({ reg: 0, mask: 0xf0, none: 0, rtsCts: 0x40, xonXoff: null });
    for (const t of ['HX', 'HXD', 'TA', 'TB'] as const) {
      expect(pl2303TypeInfo(t).flowControl).to.deep.equal({ reg: 0, mask: 0xf0, none: 0, rtsCts: 0x60, xonXoff: 0xc0 });
    }
    expect(pl2303TypeInfo('HXN').flowControl).to.deep.equal({
      reg: 0x0a,
      mask: 0x1c,
      none: 0x1c,
      rtsCts: 0x18,
      xonXoff: 0x0c,
    });
  });

  it('gives the purge registers', () => {
    expect(pl2303TypeInfo('HX').purge).to.deep.equal({ kind: 'registers', writeReg: 8, readReg: 9 });
    expect(pl2303TypeInfo('HXN').purge).to.deep.equal({ kind: 'hxn-reset', reg: 7, writeBit: 0x01, readBit: 0x02 });
  });

  it('gives the lowest divisor rate: 384e6/(511*4^7) standard, 384e6/(2047*2^15) alternate', () => {
    expect(pl2303TypeInfo('HX').minBaud).to.be.closeTo(45.866, 0.001);
    expect(pl2303TypeInfo('TA').minBaud).to.be.closeTo(5.7248, 0.0001);
    expect(pl2303TypeInfo('HXN').minBaud).to.equal(1);
  });

  it('enables automatic XON/XOFF only with 0x11/0x13, without IXANY, and not on H', () => {
    expect(pl2303AutoXonXoff('HX', { startChar: 0x11, stopChar: 0x13 })).to.equal(true);
    expect(pl2303AutoXonXoff('HXN', { startChar: 0x11, stopChar: 0x13 })).to.equal(true);
    expect(pl2303AutoXonXoff('H', { startChar: 0x11, stopChar: 0x13 })).to.equal(false);
    expect(pl2303AutoXonXoff('HX', { startChar: 0x11, stopChar: 0x13, ixany: true })).to.equal(false);
    expect(pl2303AutoXonXoff('HX', { startChar: 0x01, stopChar: 0x13 })).to.equal(false);
  });

  it('refuses an unknown type name', () => {
    expect(() => pl2303TypeInfo('XX' as never)).to.throw(TypeError, /unknown PL2303 type 'XX'/);
  });
});
