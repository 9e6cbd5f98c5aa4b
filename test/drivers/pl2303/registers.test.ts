import { expect } from 'chai';
import fc from 'fast-check';
import {
  applyRegisterMask,
  breakSetup,
  decodePl2303StatusByte,
  flowControlUpdate,
  getLineSetup,
  openSequence,
  parsePl2303Status,
  pl2303ReadFlag,
  Pl2303RequestError,
  Pl2303UnsupportedFeatureError,
  PL2303_REQUESTS,
  PL2303_STATUS_MSR_MASK,
  PL2303_STATUS_TRANSIENT_MASK,
  purgeSteps,
  rmwReadAddress,
  setControlSetup,
  setLineSetup,
  startupSequence,
  toWebUsbSetup,
  vendorReadSetup,
  vendorWriteSetup,
} from '../../../drivers/pl2303/registers.ts';
import { PL2303_TYPES } from '../../../drivers/pl2303/types.ts';

describe('PL2303 control requests', () => {
  it('uses 0xC0/0x01 and 0x40/0x01 for vendor requests, 0x81/0x80 on HXN', () => {
    expect(vendorReadSetup('HX', 0x8484)).to.deep.equal({
      bmRequestType: 0xc0,
      bRequest: 0x01,
      wValue: 0x8484,
      wIndex: 0,
      wLength: 1,
    });
    expect(vendorWriteSetup('HX', 0x0404, 1)).to.deep.equal({
      bmRequestType: 0x40,
      bRequest: 0x01,
      wValue: 0x0404,
      wIndex: 1,
      wLength: 0,
    });
    expect(vendorReadSetup('HXN', 0x0a)).to.include({ bmRequestType: 0xc0, bRequest: 0x81, wValue: 0x0a });
    expect(vendorWriteSetup('HXN', 0x07, 3)).to.include({ bmRequestType: 0x40, bRequest: 0x80, wValue: 7, wIndex: 3 });
    for (const t of ['H', 'HX', 'HXD', 'TA', 'TB'] as const) {
      expect(vendorReadSetup(t, 0).bRequest, t).to.equal(0x01);
      expect(vendorWriteSetup(t, 0, 0).bRequest, t).to.equal(0x01);
    }
  });

  it('uses the class requests SET_LINE, GET_LINE, SET_CONTROL and BREAK', () => {
    expect(setLineSetup()).to.deep.equal({ bmRequestType: 0x21, bRequest: 0x20, wValue: 0, wIndex: 0, wLength: 7 });
    expect(getLineSetup()).to.deep.equal({ bmRequestType: 0xa1, bRequest: 0x21, wValue: 0, wIndex: 0, wLength: 7 });
    expect(setControlSetup({ dtr: true, rts: false })).to.include({ bmRequestType: 0x21, bRequest: 0x22, wValue: 1 });
    expect(setControlSetup({ dtr: false, rts: true }).wValue).to.equal(2);
    expect(setControlSetup({ dtr: true, rts: true }).wValue).to.equal(3);
    expect(setControlSetup({ dtr: false, rts: false }).wValue).to.equal(0);
    expect(breakSetup(true)).to.include({ bmRequestType: 0x21, bRequest: 0x23, wValue: 0xffff });
    expect(breakSetup(false).wValue).to.equal(0);
    expect(PL2303_REQUESTS.getLine).to.deep.equal({ bmRequestType: 0xa1, bRequest: 0x21 });
  });

  it('translates setups to WebUSB parameters', () => {
    expect(toWebUsbSetup(vendorReadSetup('HX', 0x8080))).to.deep.equal({
      direction: 'in',
      params: { requestType: 'vendor', recipient: 'device', request: 1, value: 0x8080, index: 0 },
      length: 1,
    });
    expect(toWebUsbSetup(setLineSetup())).to.deep.equal({
      direction: 'out',
      params: { requestType: 'class', recipient: 'interface', request: 0x20, value: 0, index: 0 },
      length: 7,
    });
    expect(toWebUsbSetup(getLineSetup()).direction).to.equal('in');
  });

  it('refuses register numbers and values that are not 16-bit', () => {
    expect(() => vendorReadSetup('HX', 0x10000)).to.throw(Pl2303RequestError, /register 65536/);
    expect(() => vendorWriteSetup('HX', 0, -1)).to.throw(Pl2303RequestError, /value -1/);
    expect(() => vendorWriteSetup('HX', 1.5, 0)).to.throw(Pl2303RequestError);
  });
});

describe('PL2303 register sequences', () => {
  it('startup: the pl2303_startup reads and writes, reg 2 = 0x44', () => {
    const expected = [
      { op: 'read', reg: 0x8484 },
      { op: 'write', reg: 0x0404, value: 0 },
      { op: 'read', reg: 0x8484 },
      { op: 'read', reg: 0x8383 },
      { op: 'read', reg: 0x8484 },
      { op: 'write', reg: 0x0404, value: 1 },
      { op: 'read', reg: 0x8484 },
      { op: 'read', reg: 0x8383 },
      { op: 'write', reg: 0, value: 1 },
      { op: 'write', reg: 1, value: 0 },
      { op: 'write', reg: 2, value: 0x44 },
    ];
    for (const t of ['HX', 'HXD', 'TA', 'TB'] as const) expect(startupSequence(t), t).to.deep.equal(expected);
  });

  it('startup: legacy H writes reg 2 = 0x24; HXN has no startup sequence', () => {
    const h = startupSequence('H');
    expect(h).to.have.length(11);
    expect(h[10]).to.deep.equal({ op: 'write', reg: 2, value: 0x24 });
    expect(startupSequence('HXN')).to.deep.equal([]);
  });

  it('startup sequences are fresh copies (callers cannot corrupt them)', () => {
    const a = startupSequence('HX') as unknown[];
    a.length = 0;
    expect(startupSequence('HX')).to.have.length(11);
  });

  it('open: H clears halts, HXN resets both pipes, others write regs 8 and 9; then line, interrupt, bulk', () => {
    const tail = [{ op: 'set-line' }, { op: 'start-interrupt-in' }, { op: 'start-bulk-in' }];
    expect(openSequence('H')).to.deep.equal([
      { op: 'clear-halt', endpoint: 'bulk-out' },
      { op: 'clear-halt', endpoint: 'bulk-in' },
      ...tail,
    ]);
    expect(openSequence('HXN')).to.deep.equal([{ op: 'write', reg: 0x07, value: 0x03 }, ...tail]);
    for (const t of ['HX', 'HXD', 'TA', 'TB'] as const) {
      expect(openSequence(t), t).to.deep.equal([
        { op: 'write', reg: 8, value: 0 },
        { op: 'write', reg: 9, value: 0 },
        ...tail,
      ]);
    }
  });

  it('read-modify-write reads reg | 0x80 except on HXN', () => {
    expect(rmwReadAddress('HX', 0)).to.equal(0x80);
    expect(rmwReadAddress('H', 0)).to.equal(0x80);
    expect(rmwReadAddress('HXN', 0x0a)).to.equal(0x0a);
    expect(applyRegisterMask(0x0f, 0xf0, 0x60)).to.equal(0x6f);
    expect(applyRegisterMask(0xff, 0x1c, 0x18)).to.equal(0xfb);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (cur, mask, val) => {
        const out = applyRegisterMask(cur, mask, val);
        return (out & ~mask & 0xff) === (cur & ~mask & 0xff) && (out & mask) === (val & mask);
      }),
    );
  });

  it('flow control updates per type', () => {
    expect(flowControlUpdate('HX', 'rts-cts')).to.deep.equal({ readAddress: 0x80, writeReg: 0, mask: 0xf0, value: 0x60 });
    expect(flowControlUpdate('H', 'rts-cts').value).to.equal(0x40);
    expect(flowControlUpdate('TB', 'xon-xoff').value).to.equal(0xc0);
    expect(flowControlUpdate('HXD', 'none').value).to.equal(0);
    expect(flowControlUpdate('HXN', 'none')).to.deep.equal({ readAddress: 0x0a, writeReg: 0x0a, mask: 0x1c, value: 0x1c });
    expect(flowControlUpdate('HXN', 'rts-cts').value).to.equal(0x18);
    expect(flowControlUpdate('HXN', 'xon-xoff').value).to.equal(0x0c);
    expect(() => flowControlUpdate('H', 'xon-xoff')).to.throw(Pl2303UnsupportedFeatureError, /H does not support automatic XON\/XOFF/);
  });

  it('purge: regs 8 (write side) and 9 (read side); HXN one write of reg 7', () => {
    expect(purgeSteps('HX', { write: true, read: true })).to.deep.equal([
      { op: 'write', reg: 8, value: 0 },
      { op: 'write', reg: 9, value: 0 },
    ]);
    expect(purgeSteps('TA', { write: false, read: true })).to.deep.equal([{ op: 'write', reg: 9, value: 0 }]);
    expect(purgeSteps('HXN', { write: true, read: true })).to.deep.equal([{ op: 'write', reg: 7, value: 0x03 }]);
    expect(purgeSteps('HXN', { write: true, read: false })).to.deep.equal([{ op: 'write', reg: 7, value: 0x01 }]);
    expect(purgeSteps('HXN', { write: false, read: true })).to.deep.equal([{ op: 'write', reg: 7, value: 0x02 }]);
    for (const t of PL2303_TYPES) expect(purgeSteps(t, { write: false, read: false }), t).to.deep.equal([]);
  });
});

describe('PL2303 interrupt status', () => {
  const notification = (status: number) => Uint8Array.of(0xa1, 0x20, 0, 0, 0, 0, 0x02, 0, status, 0);

  it('reads each bit at offset 8', () => {
    const bits: [number, string, string][] = [
      [0x01, 'modem', 'dcd'],
      [0x02, 'modem', 'dsr'],
      [0x04, 'errors', 'break'],
      [0x08, 'modem', 'ring'],
      [0x10, 'errors', 'framing'],
      [0x20, 'errors', 'parity'],
      [0x40, 'errors', 'overrun'],
      [0x80, 'modem', 'cts'],
    ];
    for (const [bit, group, name] of bits) {
      const s = parsePl2303Status(notification(bit))!;
      expect(s.raw).to.equal(bit);
      const all = { ...s.modem, ...s.errors } as Record<string, boolean>;
      for (const [k, v] of Object.entries(all)) expect(v, `${name} bit: ${k}`).to.equal(k === name);
      expect(Object.keys(group === 'modem' ? s.modem : s.errors)).to.include(name);
    }
  });

  it('masks: modem lines 0x8b, transient errors 0x74', () => {
    expect(PL2303_STATUS_MSR_MASK).to.equal(0x01 | 0x02 | 0x08 | 0x80);
    expect(PL2303_STATUS_TRANSIENT_MASK).to.equal(0x04 | 0x10 | 0x20 | 0x40);
  });

  it('ignores notifications too short for the status byte; index 0 for the Siemens quirk', () => {
    expect(parsePl2303Status(Uint8Array.of(0xa1, 0, 0, 0, 0, 0, 0, 0))).to.equal(null);
    expect(parsePl2303Status(Uint8Array.of(0x81), { statusIndex: 0 })!.modem.cts).to.equal(true);
    expect(parsePl2303Status(new Uint8Array(0), { statusIndex: 0 })).to.equal(null);
  });

  it('decodes any byte consistently with its bits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), (b) => {
        const s = decodePl2303StatusByte(b);
        const back =
          (s.modem.dcd ? 1 : 0) |
          (s.modem.dsr ? 2 : 0) |
          (s.errors.break ? 4 : 0) |
          (s.modem.ring ? 8 : 0) |
          (s.errors.framing ? 0x10 : 0) |
          (s.errors.parity ? 0x20 : 0) |
          (s.errors.overrun ? 0x40 : 0) |
          (s.modem.cts ? 0x80 : 0);
        return back === b && s.raw === b;
      }),
    );
  });

  it('flags the next bulk read: break over parity over framing', () => {
    expect(pl2303ReadFlag(0x04 | 0x20 | 0x10)).to.equal('break');
    expect(pl2303ReadFlag(0x20 | 0x10)).to.equal('parity');
    expect(pl2303ReadFlag(0x10)).to.equal('framing');
    expect(pl2303ReadFlag(0x40 | 0x80 | 0x01)).to.equal(null);
  });
});
