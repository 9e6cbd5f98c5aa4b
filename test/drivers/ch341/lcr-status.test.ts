// The CH341 line control byte and the status packets, against Linux's ch341.c constants
// (CH341_LCR_*, CH341_BIT_*, `ch341_update_status`).
import { expect } from 'chai';
import fc from 'fast-check';
import { decodeCh341Lcr, encodeCh341Lcr, Ch341LcrError, type Ch341Framing } from '../../../drivers/ch341/lcr.ts';
import { encodeCh341ModemControl, parseCh341InterruptStatus } from '../../../drivers/ch341/status.ts';

describe('CH341 LCR', () => {
  it('8N1 is 0xC3; parity none/odd/even/mark/space adds 0/0x08/0x18/0x28/0x38; 2 stop bits 0x04; CS5 is 0', () => {
    expect(encodeCh341Lcr({ dataBits: 8, parity: 'none', stopBits: 1 })).to.equal(0xc3);
    const p = (parity: Ch341Framing['parity']) => encodeCh341Lcr({ dataBits: 8, parity, stopBits: 1 }) & 0x38;
    expect([p('none'), p('odd'), p('even'), p('mark'), p('space')]).to.deep.equal([0, 0x08, 0x18, 0x28, 0x38]);
    expect(encodeCh341Lcr({ dataBits: 5, parity: 'none', stopBits: 2 })).to.equal(0xc4);
    expect(encodeCh341Lcr({ dataBits: 7, parity: 'even', stopBits: 1 })).to.equal(0xda);
    expect(() => encodeCh341Lcr({ dataBits: 9 as 8, parity: 'none', stopBits: 1 })).to.throw(Ch341LcrError, /5-8 data bits/);
    expect(() => encodeCh341Lcr({ dataBits: 8, parity: 'none', stopBits: 1.5 as 1 })).to.throw(Ch341LcrError, /stop bits/);
  });

  it('property: decode(encode(f)) = f', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(5, 6, 7, 8),
        fc.constantFrom('none', 'odd', 'even', 'mark', 'space'),
        fc.constantFrom(1, 2),
        (dataBits, parity, stopBits) => {
          const f = { dataBits, parity, stopBits } as Ch341Framing;
          expect(decodeCh341Lcr(encodeCh341Lcr(f))).to.deep.equal({ ...f, rx: true, tx: true });
        },
      ),
    );
  });
});

describe('CH341 status and modem control', () => {
  it('interrupt packets: byte 2 inverted CTS/DSR/RI/DCD, byte 1 bit 2 several changes; short ones ignored', () => {
    // The usual idle packet 08 00 ff ee: nothing asserted.
    expect(parseCh341InterruptStatus(Uint8Array.of(0x08, 0x00, 0xff, 0xee))).to.deep.equal({ cts: false, dsr: false, ri: false, dcd: false, multipleChanges: false });
    // 0xf6 = ~0x09: CTS and DCD asserted.
    expect(parseCh341InterruptStatus(Uint8Array.of(0x08, 0x04, 0xf6, 0xee))).to.deep.equal({ cts: true, dsr: false, ri: false, dcd: true, multipleChanges: true });
    expect(parseCh341InterruptStatus(Uint8Array.of(0x08, 0x00, 0xf0))).to.equal(undefined);
  });

  it('MODEM_CTRL carries ~(DTR 0x20 | RTS 0x40)', () => {
    expect(encodeCh341ModemControl(true, true)).to.equal(0xff9f);
    expect(encodeCh341ModemControl(true, false)).to.equal(0xffdf);
    expect(encodeCh341ModemControl(false, false)).to.equal(0xffff);
  });
});
