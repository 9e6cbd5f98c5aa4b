import { expect } from 'chai';
import fc from 'fast-check';
import { UartError, UartPort, bitsPerChar, loopbackPlug, nullModem, simulateLine, type LineSettings } from '../../mocks/index.ts';

const s8n1 = (baudRate: number): LineSettings => ({ baudRate, dataBits: 8, parity: 'none', stopBits: 1 });
const text = (s: string) => [...Buffer.from(s)];

describe('mocks/uart', () => {
  it('a loopback plug returns TX to RX and RTS->CTS, DTR->DSR+DCD', async () => {
    const port = new UartPort({ settings: { baudRate: 115200 } });
    const wire = loopbackPlug(port);
    let notified = 0;
    port.onRx(() => notified++);
    await port.write(text('hello'));
    expect(notified).to.be.greaterThan(0);
    const chunk = port.read();
    expect(Buffer.from(chunk.data).toString()).to.equal('hello');
    expect(chunk.errors).to.deep.equal([]);
    const changes: string[][] = [];
    port.onInputsChange((_i, changed) => changes.push(changed));
    port.setOutputs({ rts: true });
    expect(port.inputs).to.deep.equal({ cts: true, dsr: false, dcd: false, ri: false });
    port.setOutputs({ dtr: true });
    expect(port.inputs).to.deep.equal({ cts: true, dsr: true, dcd: true, ri: false });
    expect(changes).to.deep.equal([['cts'], ['dsr', 'dcd']]);
    expect(() => port.setInputs({ cts: false })).to.throw(UartError);
    port.setInputs({ ri: true }); // no wire drives RI
    wire.detach();
    expect(wire.attached).to.equal(false);
    expect(port.inputs).to.deep.equal({ cts: false, dsr: false, dcd: false, ri: true });
    await port.write([1, 2]);
    expect(port.rxAvailable).to.equal(0); // nothing connected: bytes go nowhere
  });

  it('a null-modem cable crosses TX/RX and the handshake lines each way', async () => {
    const a = new UartPort({ name: 'a' });
    const b = new UartPort({ name: 'b' });
    const wire = nullModem(a, b);
    await a.write(text('ping'));
    await b.write(text('pong'));
    expect(Buffer.from(b.read().data).toString()).to.equal('ping');
    expect(Buffer.from(a.read().data).toString()).to.equal('pong');
    a.setOutputs({ rts: true });
    expect(b.inputs.cts).to.equal(true);
    expect(a.inputs.cts).to.equal(false);
    b.setOutputs({ dtr: true });
    expect(a.inputs).to.deep.include({ dsr: true, dcd: true });
    expect(() => loopbackPlug(a)).to.throw(UartError, /already wired/);
    expect(() => nullModem(a, a)).to.throw(UartError);
    wire.detach();
    expect(a.inputs.dsr).to.equal(false);
    expect(b.inputs.cts).to.equal(false);
    loopbackPlug(a).detach(); // free again
  });

  it('matched settings deliver bytes intact (property, through the bit-level line)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom<LineSettings['dataBits']>(5, 6, 7, 8),
        fc.constantFrom<LineSettings['parity']>('none', 'odd', 'even', 'mark', 'space'),
        fc.constantFrom<LineSettings['stopBits']>(1, 1.5, 2),
        fc.double({ min: -0.03, max: 0.03, noNaN: true }),
        (data, dataBits, parity, stopBits, skew) => {
          const t: LineSettings = { baudRate: 9600, dataBits, parity, stopBits };
          const r: LineSettings = { ...t, baudRate: 9600 * (1 + skew) };
          const out = simulateLine(data, t, r);
          const mask = (1 << dataBits) - 1;
          expect([...out.bytes]).to.deep.equal([...data].map((b) => b & mask));
          expect([...out.flags].every((f) => f === 0)).to.equal(true);
        },
      ),
    );
  });

  it('a baud mismatch beyond a few percent gives framing errors and garbage', async () => {
    const a = new UartPort({ settings: s8n1(115200) });
    const b = new UartPort({ settings: s8n1(9600) });
    nullModem(a, b);
    await a.write(text('The quick brown fox'));
    const got = b.read();
    expect(Buffer.from(got.data).toString()).to.not.equal('The quick brown fox');
    expect(got.errors.some((e) => e.kind === 'framing')).to.equal(true);
    expect(b.stats.framingErrors).to.be.greaterThan(0);
    // The other way: a slow sender seen by a fast receiver.
    await b.write(text('U'));
    const back = a.read();
    expect(back.errors.length).to.be.greaterThan(0);
    // A mid-bit sampler tolerates about 5% over a 10-bit frame: 4% off is fine, 8% is not.
    const sample = [0x55, 0x0f, 0xf0, 0x00, 0xff, 0x81];
    const c = new UartPort({ settings: s8n1(9600) });
    const d = new UartPort({ settings: s8n1(9600 * 1.04) });
    nullModem(c, d);
    await c.write(sample);
    expect(d.read()).to.deep.equal({ data: Uint8Array.from(sample), errors: [] });
    d.setSettings({ baudRate: 9600 * 1.08 });
    await c.write(sample);
    const off = d.read();
    expect(off.errors.map((e) => e.kind)).to.include('framing');
    expect(off.data[0]).to.not.equal(0x55);
  });

  it('a data-bits or parity mismatch gives parity errors on the bytes it corrupts', async () => {
    const a = new UartPort({ settings: s8n1(9600) });
    const b = new UartPort({ settings: { baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 1 } });
    nullModem(a, b);
    // 8N1 0xC1: 7 data bits 0x41 (two ones: even parity bit 0), then bit 7 (1) is read as parity.
    await a.write([0xc1, 0x41]);
    const got = b.read();
    expect([...got.data]).to.deep.equal([0x41, 0x41]);
    expect(got.errors).to.deep.equal([{ offset: 0, kind: 'parity' }]);
    const c = new UartPort({ settings: { baudRate: 9600, dataBits: 8, parity: 'odd', stopBits: 1 } });
    const d = new UartPort({ settings: { baudRate: 9600, dataBits: 8, parity: 'even', stopBits: 1 } });
    nullModem(c, d);
    await c.write([1, 2, 3]);
    expect(d.read().errors.filter((e) => e.kind === 'parity').map((e) => e.offset)).to.deep.equal([0, 1, 2]);
  });

  it('delivers a break as a flagged NUL and shows the line held low; TX during break is lost', async () => {
    const a = new UartPort();
    const b = new UartPort();
    nullModem(a, b);
    a.setOutputs({ brk: true });
    expect(b.rxLineBreak).to.equal(true);
    await a.write([1, 2, 3]);
    a.setOutputs({ brk: false });
    expect(b.rxLineBreak).to.equal(false);
    const got = b.read();
    expect([...got.data]).to.deep.equal([0]);
    expect(got.errors).to.deep.equal([{ offset: 0, kind: 'break' }]);
    expect(b.stats.breaks).to.equal(1);
  });

  it('paces bytes at bits-per-char / baud when pacing is on', async () => {
    const a = new UartPort({ pacing: true, settings: s8n1(9600) });
    const b = new UartPort({ settings: s8n1(9600) });
    nullModem(a, b);
    expect(bitsPerChar(a.settings)).to.equal(10);
    const t0 = performance.now();
    const writing = a.write(new Uint8Array(48)); // 48 * 10 / 9600 = 50 ms
    await new Promise((r) => setTimeout(r, 15));
    const early = b.rxAvailable;
    expect(early).to.be.greaterThan(0);
    expect(early).to.be.lessThan(48);
    expect(a.txPending).to.equal(48);
    await writing;
    const took = performance.now() - t0;
    expect(took).to.be.at.least(45);
    expect(b.rxAvailable).to.equal(48);
    expect(a.txPending).to.equal(0);
  });

  it('without pacing, bytes cross at once but only as fast as the receiver drains (no loss)', async () => {
    const a = new UartPort();
    const b = new UartPort({ rxFifoSize: 16 });
    nullModem(a, b);
    const data = Uint8Array.from({ length: 100 }, (_, i) => i);
    let done = false;
    const writing = a.write(data).then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(b.rxAvailable).to.equal(16);
    expect(done).to.equal(false);
    const got: number[] = [];
    while (got.length < 100) {
      got.push(...b.read(7).data);
      await new Promise((r) => setImmediate(r));
    }
    await writing;
    expect(got).to.deep.equal([...data]);
    expect(b.stats.overruns).to.equal(0);
  });

  it('overruns a paced receiver that does not drain, flagging the next byte stored', async () => {
    const a = new UartPort({ pacing: true, settings: s8n1(1_000_000) });
    const b = new UartPort({ rxFifoSize: 8, settings: s8n1(1_000_000) });
    nullModem(a, b);
    await a.write(Uint8Array.from({ length: 20 }, (_, i) => i));
    expect(b.rxAvailable).to.equal(8);
    expect(b.stats.overruns).to.equal(12);
    expect([...b.read(3).data]).to.deep.equal([0, 1, 2]);
    await a.write([99]);
    const rest = b.read();
    expect([...rest.data]).to.deep.equal([3, 4, 5, 6, 7, 99]);
    expect(rest.errors).to.deep.equal([{ offset: 5, kind: 'overrun' }]);
  });

  it('an unpaced block after an overrun carries the overrun mark on its first byte, and wraps the FIFO intact', async () => {
    const a = new UartPort();
    const b = new UartPort({ rxFifoSize: 8 });
    nullModem(a, b);
    b.injectRx([1, 2, 3, 4, 5, 6, 7, 8, 9]); // one byte too many: overrun pending
    expect(b.stats.overruns).to.equal(1);
    expect([...b.read(5).data]).to.deep.equal([1, 2, 3, 4, 5]);
    const sent = Uint8Array.from([20, 21, 22, 23, 24]);
    const writing = a.write(sent);
    sent.fill(0); // the port took a copy
    await writing;
    const got = b.read();
    expect([...got.data]).to.deep.equal([6, 7, 8, 20, 21, 22, 23, 24]);
    expect(got.errors).to.deep.equal([{ offset: 3, kind: 'overrun' }]);
    expect(b.stats.rxBytes).to.equal(13);
  });

  it('takeClean moves clean bytes into a sink across the FIFO wrap, and refuses while a flagged byte is held', () => {
    const port = new UartPort({ rxFifoSize: 4 });
    const got: number[] = [];
    const sink = { pushClean: (bytes: Uint8Array, from: number, n: number) => got.push(...bytes.subarray(from, from + n)) };
    port.injectRx([1, 2, 3]);
    expect(port.takeClean(2, sink)).to.equal(2);
    port.injectRx([4, 5, 6]); // wraps
    expect(port.takeClean(10, sink)).to.equal(4);
    expect(got).to.deep.equal([1, 2, 3, 4, 5, 6]);
    port.injectRx([7, 8], [{ offset: 1, kind: 'parity' }]);
    expect(port.takeClean(10, sink)).to.equal(-1);
    const chunk = port.read();
    expect([...chunk.data]).to.deep.equal([7, 8]);
    expect(chunk.errors).to.deep.equal([{ offset: 1, kind: 'parity' }]);
    port.injectRx([9]);
    expect(port.takeClean(10, sink)).to.equal(1);
    expect(got.at(-1)).to.equal(9);
  });

  it('flushTx drops what is not yet sent; reset empties both FIFOs and drops the outputs', async () => {
    const a = new UartPort({ pacing: true, settings: s8n1(1200) });
    const b = new UartPort();
    nullModem(a, b);
    a.setOutputs({ dtr: true, rts: true });
    const writing = a.write(new Uint8Array(100)); // ~830 ms at 1200 baud
    await new Promise((r) => setTimeout(r, 20));
    a.flushTx();
    await writing; // resolves at once
    const got = b.rxAvailable;
    await new Promise((r) => setTimeout(r, 30));
    expect(b.rxAvailable).to.equal(got);
    expect(got).to.be.lessThan(100);
    b.reset();
    expect(b.rxAvailable).to.equal(0);
    a.reset();
    expect(b.inputs).to.deep.include({ cts: false, dsr: false, dcd: false });
  });

  it('injectRx plays the far end, with line errors', () => {
    const p = new UartPort();
    p.injectRx([0x41, 0x00, 0x42], [{ offset: 1, kind: 'break' }, { offset: 2, kind: 'framing' }]);
    expect(p.read()).to.deep.equal({
      data: Uint8Array.from([0x41, 0x00, 0x42]),
      errors: [
        { offset: 1, kind: 'break' },
        { offset: 2, kind: 'framing' },
      ],
    });
    expect(() => p.injectRx([1], [{ offset: 3, kind: 'parity' }])).to.throw(UartError);
  });

  it('refuses impossible settings', () => {
    expect(() => new UartPort({ settings: { dataBits: 9 as never } })).to.throw(UartError);
    const p = new UartPort();
    expect(() => p.setSettings({ baudRate: 0 })).to.throw(UartError);
    expect(() => p.setSettings({ stopBits: 3 as never })).to.throw(UartError);
    expect(() => new UartPort({ rxFifoSize: 0 })).to.throw(UartError);
  });
});
