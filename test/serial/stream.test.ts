// The Node Duplex over a usb-serial port, on the emulated loopchip with a loopback plug.
import { expect } from 'chai';
import { once } from 'node:events';
import { PortDisconnectedError, SerialSettingsError } from '../../src/serial/index.ts';
import { openSerialStream, SerialStream, type StreamLineError } from '../../src/serial/stream.ts';
import { sleep, until } from '../helpers/async.ts';
import { pattern } from '../helpers/bytes.ts';
import { loopLab, type LoopLab } from './fixtures/lab.ts';

async function readExactly(stream: SerialStream, n: number, ms = 5000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  const end = Date.now() + ms;
  while (got < n) {
    const c = stream.read() as Buffer | null;
    if (c) {
      chunks.push(c);
      got += c.length;
      continue;
    }
    if (Date.now() > end) throw new Error(`read ${got} of ${n} bytes before timing out`);
    const ac = new AbortController();
    await Promise.race([once(stream, 'readable', { signal: ac.signal }).catch(() => undefined), sleep(20)]);
    ac.abort();
  }
  return Buffer.concat(chunks);
}

describe('serial: Node stream (SerialStream)', () => {
  let lab: LoopLab;
  beforeEach(async () => {
    lab = await loopLab();
  });
  afterEach(async () => {
    await lab.close();
  });

  it('writes and reads back 1 MiB byte-exact over a loopback plug', async () => {
    const { port } = await lab.plug();
    const stream = await openSerialStream(port, { baudRate: 3_000_000 });
    expect(stream.settings).to.deep.include({ baudRate: 3_000_000, actualBaudRate: 3_000_000 });
    const data = pattern(1 << 20);
    const got: Buffer[] = [];
    let n = 0;
    stream.on('data', (c: Buffer) => {
      got.push(c);
      n += c.length;
    });
    const finished = new Promise<void>((r) => stream.write(data, () => r()));
    await finished;
    await until(() => n >= data.length, 10_000, 'the echo');
    expect(Buffer.concat(got).equals(Buffer.from(data))).to.equal(true);
    expect(stream.bytesWritten).to.equal(data.length);
    expect(stream.bytesRead).to.equal(data.length);
    await stream.close();
    expect(port.portState).to.equal('closed');
  });

  it('backpressure: a full readable buffer stops reading from the chip, and nothing is lost', async () => {
    const { port, chip, device } = await lab.plug();
    const stream = await openSerialStream(port, { baudRate: 1_000_000 }, { highWaterMark: 4096, writableHighWaterMark: 4096 });
    const data = pattern(256 * 1024);
    let accepted = true;
    let writeDone = false;
    stream.write(data, () => (writeDone = true));
    accepted = stream.write(Buffer.alloc(1, 0xaa));
    expect(accepted, 'write() says stop once its buffer is over the mark').to.equal(false);
    // Nobody reads: the readable fills, the port pauses, the chip's FIFO fills, the OUT transfer waits.
    await until(() => chip.uart.rxAvailable === chip.uart.rxFifoSize, 3000, 'the chip FIFO to fill');
    await until(() => device.pendingOn(0x81) === 0, 3000, 'IN transfers in flight to end (none resubmitted while paused)');
    expect(writeDone).to.equal(false);
    const buffered = stream.readableLength;
    // Paused reading bounds memory: the mark, plus what the transfers already in flight carried.
    expect(buffered).to.be.greaterThan(0).and.at.most(4096 + 4 * 16 * 64 * 2);
    await sleep(100);
    expect(stream.readableLength).to.equal(buffered);
    // Reading resumes the flow; every byte arrives in order.
    const back = await readExactly(stream, data.length + 1);
    expect(back.subarray(0, data.length).equals(Buffer.from(data))).to.equal(true);
    expect(back[data.length]).to.equal(0xaa);
    expect(writeDone).to.equal(true);
    expect(chip.uart.stats.overruns).to.equal(0);
    await stream.close();
  });

  it('drain resolves once the chip has taken every byte; flush discards what the chip holds', async () => {
    const { port, chip } = await lab.plug();
    const stream = await openSerialStream(port, { baudRate: 3_000_000 });
    stream.write(pattern(20_000));
    await stream.drain();
    expect(port.stats.bytesWritten).to.equal(20_000);
    await readExactly(stream, 20_000);
    // Bytes waiting in the chip, with no IN transfer to carry them (reading paused, and the
    // transfers in flight ended by the chip's latency timer), are what flush({rx}) discards.
    port.pauseReading();
    await sleep(80);
    chip.uart.injectRx(pattern(100, 3));
    expect(chip.uart.rxAvailable).to.equal(100);
    await stream.flush({ rx: true });
    expect(chip.uart.rxAvailable).to.equal(0);
    port.resumeReading();
    await sleep(50);
    expect(stream.readableLength, 'nothing of the discarded bytes arrives').to.equal(0);
    await stream.flush();
    expect(chip.requests).to.include.members(['PURGE 1', 'PURGE 3']);
    stream.destroy();
    await once(stream, 'close');
  });

  it('signals: DTR/RTS out, CTS/DSR/DCD back through the loopback plug, with modem events', async () => {
    const { port } = await lab.plug();
    const stream = await openSerialStream(port, { baudRate: 115200 });
    expect(await stream.getSignals(), 'DTR and RTS are raised at open').to.deep.equal({ cts: true, dsr: true, ri: false, dcd: true });
    const changes: string[][] = [];
    stream.on('modem', (_lines, changed) => changes.push(changed));
    await stream.setSignals({ rts: false });
    await until(() => changes.length > 0, 1000, 'a modem event');
    expect(changes[0]).to.deep.equal(['cts']);
    expect(await stream.getSignals()).to.deep.include({ cts: false, dsr: true });
    await stream.setSignals({ dtr: false });
    expect(await stream.getSignals()).to.deep.equal({ cts: false, dsr: false, ri: false, dcd: false });
    await stream.close();
  });

  it('line errors come as typed events at their exact stream offset', async () => {
    const { port, chip } = await lab.plug();
    const stream = await openSerialStream(port, { baudRate: 115200 });
    const errors: StreamLineError[] = [];
    stream.on('line-error', (e) => errors.push(e));
    stream.write(pattern(100));
    const first = await readExactly(stream, 100);
    expect(first.length).to.equal(100);
    chip.uart.injectRx([1, 2, 3, 4, 5], [{ offset: 2, kind: 'parity' }, { offset: 4, kind: 'framing' }]);
    await readExactly(stream, 5);
    expect(errors).to.deep.equal([
      { kind: 'parity', position: 2, offset: 102 },
      { kind: 'framing', position: 4, offset: 104 },
    ]);
    // A break on the line (our own TX held low, looped back) is a break error on a 0x00 byte.
    await stream.setSignals({ brk: true });
    const brk = await readExactly(stream, 1);
    expect(brk[0]).to.equal(0);
    expect(errors[2]).to.deep.include({ kind: 'break', offset: 105 });
    await stream.setSignals({ brk: false });
    await stream.close();
  });

  it('unplug mid-write: the write reports how many bytes went out, the stream errors and closes, nothing leaks', async () => {
    const { port, device } = await lab.plug();
    const stream = await openSerialStream(port, { baudRate: 3_000_000 }, { highWaterMark: 32 * 1024 });
    const events: string[] = [];
    stream.on('disconnect', () => events.push('disconnect'));
    stream.on('error', (e) => events.push(`error ${e.name}`));
    stream.on('close', () => events.push('close'));
    // Nobody reads: about the readable mark goes out and comes back, then the write waits.
    let writeErr: unknown;
    stream.write(pattern(256 * 1024), (err) => (writeErr = err));
    await until(() => port.stats.bytesWritten >= 32 * 1024, 3000, 'part of the write to go out');
    await sleep(30);
    await lab.unplug(device);
    await until(() => events.includes('close'), 2000, 'close');
    expect(events).to.deep.equal(['disconnect', 'error PortDisconnectedError', 'close']);
    expect(writeErr).to.be.instanceOf(PortDisconnectedError);
    const sent = (writeErr as PortDisconnectedError).bytesWritten;
    expect(sent).to.be.greaterThan(0).and.below(256 * 1024);
    expect(sent).to.equal(port.stats.bytesWritten);
    expect(stream.bytesWritten).to.equal(sent);
    expect((writeErr as Error).message).to.match(/disconnected after \d+ bytes/);
    expect(port.portState).to.equal('closed');
    expect(device.resources()).to.deep.include({ plugged: false, pendingTransfers: 0 });
    // Writing to the dead stream fails at once instead of hanging.
    const late = await new Promise((r) => stream.write(Buffer.from('x'), r));
    expect(late).to.be.instanceOf(Error);
  });

  it('destroy closes the port at once, even with a write held by flow control; close() does not hang', async () => {
    const { port, chip, device } = await lab.plug();
    const stream = await openSerialStream(port, { baudRate: 115200, flowControl: 'rts-cts' });
    await stream.setSignals({ rts: false }); // CTS low through the plug: the chip holds TX
    let writeErr: unknown = 'pending';
    stream.write(pattern(1000), (err) => (writeErr = err));
    await sleep(50);
    expect(writeErr).to.equal('pending');
    const t0 = Date.now();
    await stream.close({ drainTimeoutMs: 100 });
    expect(Date.now() - t0).to.be.below(1000);
    expect(port.portState).to.equal('closed');
    expect(chip.uart.outputs).to.deep.include({ dtr: false, rts: false });
    expect(writeErr).to.not.equal('pending');
    expect(device.resources().pendingTransfers).to.equal(0);
    // The port opens again cleanly afterwards.
    const again = await openSerialStream(port, { baudRate: 9600 });
    again.destroy();
    await once(again, 'close');
    expect(port.portState).to.equal('closed');
  });

  it('bad settings: typed errors, the port stays closed, no transfer left behind', async () => {
    const { port, device, chip } = await lab.plug();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ baudRate: 5_000_000 }, 'baudRate', /cannot run at 5000000 baud/],
      [{ baudRate: 9600, parity: 'mark' }, 'parity', /no mark parity/],
      [{ baudRate: 9600, stopBits: 1.5 }, 'stopBits', /1\.5 stop bits/],
      [{ baudRate: 9600, dataBits: 9 }, 'dataBits', /data bits 9/],
      [{ baudRate: -1 }, 'baudRate', /not a positive number/],
      [{ baudRate: 9600, flowControl: 'xon-xoff' }, 'flowControl', /no xon-xoff flow control/],
    ];
    for (const [settings, setting, message] of cases) {
      const before = chip.requests.length;
      const err = await openSerialStream(port, settings).catch((e: unknown) => e);
      expect(err, JSON.stringify(settings)).to.be.instanceOf(SerialSettingsError);
      expect((err as SerialSettingsError).setting).to.equal(setting);
      expect((err as Error).message).to.match(message);
      expect(port.portState).to.equal('closed');
      expect(chip.requests.slice(before).filter((r) => r.startsWith('SET_BAUD')), 'nothing half-applied').to.deep.equal([]);
    }
    expect(device.resources().pendingTransfers).to.equal(0);
    // A good open after all that works.
    const ok = await openSerialStream(port, { baudRate: 57600 });
    expect(ok.settings!.actualBaudRate).to.be.closeTo(57600, 57600 * 0.03);
    await ok.close();
  });

  it('a second stream on an open port is refused (the port is exclusive)', async () => {
    const { port } = await lab.plug();
    const a = await openSerialStream(port, { baudRate: 9600 });
    const err = await openSerialStream(port, { baudRate: 9600 }).catch((e: unknown) => e);
    expect((err as Error).name).to.equal('PortStateError');
    // The refused one did not disturb the first.
    a.write(Buffer.from('still here'));
    expect((await readExactly(a, 10)).toString()).to.equal('still here');
    await a.close();
  });

  it('hupcl: false keeps DTR and RTS up when the stream closes the port; the default drops them', async () => {
    const { port, chip } = await lab.plug();
    const keep = await openSerialStream(port, { baudRate: 9600 }, { hupcl: false });
    await keep.close();
    expect(port.portState).to.equal('closed');
    expect(chip.uart.outputs).to.include({ dtr: true, rts: true });
    const drop = await openSerialStream(port, { baudRate: 9600 });
    await drop.close();
    expect(chip.uart.outputs).to.include({ dtr: false, rts: false });
  });
});
