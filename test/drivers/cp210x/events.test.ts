// The embedded-event parser against byte sequences built by hand from Linux's cp210x.c
// (`cp210x_process_char`, `cp210x_process_lsr`) and the escape scheme AN571 / Windows' LSRMST_INSERT use.
import { expect } from 'chai';
import fc from 'fast-check';
import { CP210X_LSR, Cp210xEventParser } from '../../../drivers/cp210x/events.ts';

describe('CP210x embedded events (escape 0xEC)', () => {
  it('plain bytes pass; ESC 0x00 is a literal 0xEC', () => {
    const p = new Cp210xEventParser();
    const r = p.parse(Uint8Array.of(0x41, 0xec, 0x00, 0x42));
    expect([...r.data]).to.deep.equal([0x41, 0xec, 0x42]);
    expect(r.flags).to.deep.equal(['none', 'none', 'none']);
  });

  it('ESC 0x01 LSR DATA flags the byte: break over parity over framing', () => {
    const p = new Cp210xEventParser();
    const r = p.parse(Uint8Array.of(0xec, 0x01, CP210X_LSR.FRAME, 0x55, 0xec, 0x01, CP210X_LSR.PARITY | CP210X_LSR.FRAME, 0x56, 0xec, 0x01, CP210X_LSR.BREAK | CP210X_LSR.PARITY, 0x00));
    expect([...r.data]).to.deep.equal([0x55, 0x56, 0x00]);
    expect(r.flags).to.deep.equal(['framing', 'parity', 'break']);
    expect(p.counts).to.deep.include({ frame: 1, parity: 1, brk: 1 });
  });

  it('an overrun inserts a NUL flagged overrun before the byte; ESC 0x02 carries status without data', () => {
    const p = new Cp210xEventParser();
    const r = p.parse(Uint8Array.of(0xec, 0x01, CP210X_LSR.OVERRUN, 0x61, 0xec, 0x02, CP210X_LSR.OVERRUN | CP210X_LSR.FRAME, 0x62));
    expect([...r.data]).to.deep.equal([0x00, 0x61, 0x00, 0x62]);
    expect(r.flags).to.deep.equal(['overrun', 'none', 'overrun', 'none']);
    expect(p.counts).to.deep.include({ overrun: 2, frame: 1 });
  });

  it('ESC 0x03 MSR is skipped; an unknown event code is counted and dropped; sequences may span packets', () => {
    const p = new Cp210xEventParser();
    expect([...p.parse(Uint8Array.of(0x31, 0xec)).data]).to.deep.equal([0x31]);
    expect([...p.parse(Uint8Array.of(0x03)).data]).to.deep.equal([]);
    const r = p.parse(Uint8Array.of(0xb0, 0x32, 0xec, 0x07, 0x33));
    expect([...r.data]).to.deep.equal([0x32, 0x33]);
    expect(r.modem).to.deep.equal([0xb0]); // the MSR byte, for the driver to report
    expect(p.counts).to.deep.include({ modemStatus: 1, unknownEvents: 1 });
  });

  it('property: escaping data (0xEC -> 0xEC 0x00) and parsing it in any split gives the data back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 5 }), (data, cuts) => {
        const stream: number[] = [];
        for (const b of data) b === 0xec ? stream.push(0xec, 0x00) : stream.push(b);
        const bytes = Uint8Array.from(stream);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const p = new Cp210xEventParser();
        const out: number[] = [];
        let at = 0;
        for (const c of [...points, bytes.length]) {
          out.push(...p.parse(bytes.subarray(at, c)).data);
          at = c;
        }
        expect(out).to.deep.equal([...data]);
      }),
    );
  });
});
