import { expect } from 'chai';
import fc from 'fast-check';
import {
  FTDI_LINE_STATUS as L,
  FTDI_MODEM_STATUS as M,
  FtdiPacketSizeError,
  parseFtdiBulkIn,
  parseFtdiLineStatus,
  parseFtdiModemStatus,
} from '../../../drivers/ftdi/status.ts';

const IDLE = 0x01; // modem byte: bit 0 is always 1
const TEMT = L.THRE | L.TEMT; // line byte of an idle transmitter

/** One packet: two status bytes and the data. */
function pkt(modem: number, line: number, ...data: number[]): number[] {
  return [modem, line, ...data];
}

/** Packs packets into a transfer; every packet but the last must be full-size, as the chip sends them. */
function transfer(size: number, ...packets: number[][]): Uint8Array {
  packets.slice(0, -1).forEach((p) => expect(p.length, 'test packet size').to.equal(size));
  return Uint8Array.from(packets.flat());
}

function fill(n: number, from = 0x41): number[] {
  return Array.from({ length: n }, (_, i) => (from + i) & 0xff);
}

describe('FTDI status: status bytes', () => {
  it('modem status: CTS bit 4, DSR 5, RI 6, DCD 7', () => {
    expect(parseFtdiModemStatus(0x01)).to.deep.equal({ raw: 1, cts: false, dsr: false, ri: false, dcd: false });
    expect(parseFtdiModemStatus(0x11)).to.include({ cts: true, dsr: false });
    expect(parseFtdiModemStatus(0x21)).to.include({ dsr: true, cts: false });
    expect(parseFtdiModemStatus(0x41)).to.include({ ri: true });
    expect(parseFtdiModemStatus(0x81)).to.include({ dcd: true, ri: false });
    expect(parseFtdiModemStatus(0xf1)).to.include({ cts: true, dsr: true, ri: true, dcd: true });
  });

  it('line status: DR, OE, PE, FE, BI, THRE, TEMT, FIFO in bits 0..7', () => {
    const names = ['dataReady', 'overrun', 'parity', 'framing', 'break', 'thre', 'temt', 'fifoError'] as const;
    names.forEach((name, bit) => {
      const s = parseFtdiLineStatus(1 << bit);
      for (const other of names) expect(s[other], `${name} vs ${other}`).to.equal(other === name);
    });
  });
});

describe('FTDI status: bulk IN parsing', () => {
  it('a status-only packet gives no data and the modem lines', () => {
    const r = parseFtdiBulkIn(Uint8Array.of(IDLE | M.CTS | M.DSR, TEMT), 64);
    expect(r.payload).to.have.length(0);
    expect(r.modem).to.include({ cts: true, dsr: true, ri: false, dcd: false });
    expect(r.line).to.include({ temt: true, thre: true });
    expect(r).to.include({ packets: 1, malformed: 0 });
    expect(r.errors).to.deep.equal([]);
  });

  it('an empty transfer has no status at all', () => {
    const r = parseFtdiBulkIn(new Uint8Array(0), 64);
    expect(r.modem).to.equal(undefined);
    expect(r.line).to.equal(undefined);
    expect(r.packets).to.equal(0);
  });

  for (const size of [64, 512]) {
    it(`concatenates data across ${size}-byte packets with a short final chunk`, () => {
      const a = fill(size - 2, 0x00);
      const b = fill(size - 2, 0x80);
      const c = fill(5, 0x10);
      const r = parseFtdiBulkIn(transfer(size, pkt(IDLE, TEMT, ...a), pkt(IDLE, TEMT, ...b), pkt(IDLE | M.DCD, 0x60, ...c)), size);
      expect([...r.payload]).to.deep.equal([...a, ...b, ...c]);
      expect(r.packets).to.equal(3);
      expect(r.modem?.dcd).to.equal(true); // the latest packet's status wins
    });

    it(`mixes status-only and data packets at ${size} bytes (status-only only as the last chunk)`, () => {
      const a = fill(size - 2);
      const r = parseFtdiBulkIn(transfer(size, pkt(IDLE, TEMT, ...a), pkt(IDLE | M.RI, TEMT)), size);
      expect([...r.payload]).to.deep.equal(a);
      expect(r.modem?.ri).to.equal(true);
      expect(r.packets).to.equal(2);
    });
  }

  it('reads a 512-byte packet as one packet, not eight of 64', () => {
    // With the wrong size the data would lose bytes 62..63, 126..127, ... as fake status.
    const data = fill(510);
    const raw = transfer(512, pkt(IDLE, TEMT, ...data));
    expect([...parseFtdiBulkIn(raw, 512).payload]).to.deep.equal(data);
    expect(parseFtdiBulkIn(raw, 64).payload).to.have.length(510 - 7 * 2);
  });

  it('treats a max packet size of 0 as 64 and refuses nonsense sizes', () => {
    const raw = transfer(64, pkt(IDLE, TEMT, ...fill(62)), pkt(IDLE, TEMT, 1));
    expect(parseFtdiBulkIn(raw, 0).payload).to.have.length(63);
    for (const bad of [-64, 63.5, Number.NaN]) {
      expect(() => parseFtdiBulkIn(raw, bad)).to.throw(FtdiPacketSizeError, /max packet size/);
    }
  });

  it('takes a max packet size of 1 or 2 as Linux does: every chunk malformed or status only, no data, no error', () => {
    const raw = Uint8Array.from([...pkt(IDLE | M.CTS, TEMT), ...pkt(IDLE, TEMT), IDLE]);
    const two = parseFtdiBulkIn(raw, 2);
    expect(two).to.include({ packets: 2, malformed: 1 });
    expect(two.payload).to.have.length(0);
    expect(two.modemChanges.map((c) => c.modem.cts)).to.deep.equal([true, false]);
    const one = parseFtdiBulkIn(raw, 1);
    expect(one).to.include({ packets: 0, malformed: raw.length });
    expect(one.payload).to.have.length(0);
  });

  it('skips a final chunk too short for the status bytes', () => {
    const raw = Uint8Array.from([...pkt(IDLE, TEMT, ...fill(62)), IDLE]);
    const r = parseFtdiBulkIn(raw, 64);
    expect(r).to.include({ packets: 1, malformed: 1 });
    expect(r.payload).to.have.length(62);
  });
});

describe('FTDI status: line errors', () => {
  it('parity applies to every byte of its packet, at its payload position', () => {
    const r = parseFtdiBulkIn(transfer(64, pkt(IDLE, TEMT, ...fill(62)), pkt(IDLE, TEMT | L.PARITY, 1, 2, 3)), 64);
    expect(r.errors).to.deep.equal([{ kind: 'parity', position: 62, length: 3 }]);
  });

  it('framing likewise, and parity wins over framing', () => {
    let r = parseFtdiBulkIn(Uint8Array.from(pkt(IDLE, L.FRAMING, 9, 9)), 64);
    expect(r.errors).to.deep.equal([{ kind: 'framing', position: 0, length: 2 }]);
    r = parseFtdiBulkIn(Uint8Array.from(pkt(IDLE, L.FRAMING | L.PARITY, 9, 9)), 64);
    expect(r.errors).to.deep.equal([{ kind: 'parity', position: 0, length: 2 }]);
  });

  it('break takes the last byte when it is NUL; parity or framing keeps the rest', () => {
    let r = parseFtdiBulkIn(Uint8Array.from(pkt(IDLE, L.BREAK | L.FRAMING, 0x41, 0x00)), 64);
    expect(r.errors).to.deep.equal([
      { kind: 'framing', position: 0, length: 1 },
      { kind: 'break', position: 1, length: 1 },
    ]);
    r = parseFtdiBulkIn(Uint8Array.from(pkt(IDLE, L.BREAK | L.PARITY | L.FRAMING, 0x00)), 64);
    expect(r.errors).to.deep.equal([{ kind: 'break', position: 0, length: 1 }]);
  });

  it('ignores the break bit when the last byte is not NUL (as Linux does)', () => {
    let r = parseFtdiBulkIn(Uint8Array.from(pkt(IDLE, L.BREAK, 0x41)), 64);
    expect(r.errors).to.deep.equal([]);
    r = parseFtdiBulkIn(Uint8Array.from(pkt(IDLE, L.BREAK | L.PARITY, 0x41)), 64);
    expect(r.errors).to.deep.equal([{ kind: 'parity', position: 0, length: 1 }]);
  });

  it('reports overrun before the packet data, covering no byte', () => {
    const r = parseFtdiBulkIn(transfer(64, pkt(IDLE, TEMT, ...fill(62)), pkt(IDLE, L.OVERRUN | L.PARITY, 7)), 64);
    expect(r.errors).to.deep.equal([
      { kind: 'overrun', position: 62, length: 0 },
      { kind: 'parity', position: 62, length: 1 },
    ]);
  });

  it('reports nothing for errors on status-only packets', () => {
    const r = parseFtdiBulkIn(Uint8Array.from(pkt(IDLE, L.BREAK | L.OVERRUN | L.PARITY | L.FRAMING)), 64);
    expect(r.errors).to.deep.equal([]);
    expect(r.line).to.include({ break: true, overrun: true });
  });

  it('keeps errors of several packets apart, at 512-byte packets too', () => {
    const size = 512;
    const r = parseFtdiBulkIn(
      transfer(size, pkt(IDLE, L.FRAMING, ...fill(510)), pkt(IDLE, TEMT, ...fill(510)), pkt(IDLE, L.BREAK, 0x20, 0x00)),
      size,
    );
    expect(r.errors).to.deep.equal([
      { kind: 'framing', position: 0, length: 510 },
      { kind: 'break', position: 1021, length: 1 },
    ]);
    expect(r.payload[1021]).to.equal(0);
  });

  it('every error lies inside the payload and in order (property)', () => {
    const packet = fc.record({
      modem: fc.integer({ min: 0, max: 255 }),
      line: fc.integer({ min: 0, max: 255 }),
      data: fc.uint8Array({ maxLength: 62 }),
    });
    fc.assert(
      fc.property(fc.array(packet, { maxLength: 8 }), (packets) => {
        // Only the last chunk may be short; pad the others to full 64-byte packets.
        const parts = packets.map((p, i) => {
          const data = i < packets.length - 1 ? [...p.data, ...new Array<number>(62 - p.data.length).fill(0x55)] : [...p.data];
          return pkt(p.modem, p.line, ...data);
        });
        const r = parseFtdiBulkIn(Uint8Array.from(parts.flat()), 64);
        expect(r.payload.length).to.equal(parts.reduce((n, p) => n + p.length - 2, 0));
        let last = 0;
        for (const e of r.errors) {
          expect(e.position).to.be.at.least(last);
          expect(e.position + e.length).to.be.at.most(r.payload.length);
          if (e.kind === 'break') expect(r.payload[e.position]).to.equal(0);
          last = e.position;
        }
        if (packets.length) expect(r.modem?.raw).to.equal(packets.at(-1)!.modem);
      }),
    );
  });
});

describe('FTDI status: modem changes within a transfer', () => {
  it('lists the first status and every change, at the payload index where its packet starts', () => {
    const t = transfer(
      64,
      pkt(IDLE, TEMT, ...fill(62)),
      pkt(IDLE | M.CTS, TEMT, ...fill(62)),
      pkt(IDLE | M.CTS | 0x02, TEMT, ...fill(62)), // reserved bits change: not a line change
      pkt(IDLE, TEMT, 0x41),
    );
    const r = parseFtdiBulkIn(t, 64);
    expect(r.modemChanges.map((c) => [c.position, c.modem.cts])).to.deep.equal([
      [0, false],
      [62, true],
      [186, false],
    ]);
    expect(r.modem!.raw).to.equal(IDLE);
  });

  it('a status-only transfer gives one entry at position 0; the last packet\'s exact byte stays in `modem`', () => {
    const r = parseFtdiBulkIn(Uint8Array.from([IDLE | M.DSR | 0x02, TEMT]), 64);
    expect(r.modemChanges.map((c) => c.position)).to.deep.equal([0]);
    expect(r.modem!.raw).to.equal(IDLE | M.DSR | 0x02);
    expect(parseFtdiBulkIn(new Uint8Array(0), 64).modemChanges).to.deep.equal([]);
  });
});
