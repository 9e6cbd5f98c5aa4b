// The port operations other layers build on, on an emulated FT232R with a paced wire: discarding
// writes stops the bytes at once, drain waits for the transmitter, close can keep DTR/RTS up,
// the reported baud rate is ftdi_sio's, and pausing reading lets the chip's FIFO fill.
import { expect } from 'chai';
import { WriteAbortedError } from '../../../src/serial/index.ts';
import { UartPort, nullModem } from '../../../mocks/index.ts';
import { mockFt232r } from '../../../mocks/ftdi/index.ts';
import { sleep, until } from '../../helpers/async.ts';
import { pattern } from '../../helpers/bytes.ts';
import { ftdiLab, record, type FtdiLab } from './lab.ts';

describe('ftdi_sio: port operations (discard, drain, hupcl, reported rate, pause)', function () {
  this.timeout(10_000);
  let lab: FtdiLab;
  beforeEach(async () => (lab = await ftdiLab()));
  afterEach(() => lab.close());

  async function wired(baudRate: number) {
    const f = mockFt232r({ pacing: true });
    const far = new UartPort({ name: 'far', pacing: true, settings: { baudRate } });
    nullModem(f.uart(), far);
    // The far end reads everything at once, so its own FIFO never overruns.
    const got: number[] = [];
    far.onRx(() => got.push(...far.read(far.rxAvailable).data));
    const [port] = await lab.plug(f);
    await port!.open({ baudRate });
    return { f, far, got, port: port! };
  }

  it('discardWrites: the write rejects with WriteAbortedError and no further byte reaches the wire', async () => {
    const { got, port } = await wired(9600);
    const w = port.write(pattern(1024)).catch((e: unknown) => e);
    await until(() => got.length > 40, 3000, 'bytes on the wire');
    const reason = new Error('user abort');
    await port.discardWrites(reason);
    const atDiscard = got.length;
    const err = await w;
    expect(err).to.be.instanceOf(WriteAbortedError);
    expect((err as WriteAbortedError).cause).to.equal(reason);
    expect((err as WriteAbortedError).bytesWritten).to.be.below(1024);
    await sleep(300); // ~290 more characters' time at 9600 baud
    expect(got.length - atDiscard).to.be.at.most(1); // at most the character on the line
    expect(port.isOpen).to.equal(true);
    // The port goes on working.
    const before = got.length;
    await port.write(Uint8Array.of(1, 2, 3));
    await until(() => got.length >= before + 3, 2000, 'a later write arrives');
    expect(got.slice(-3)).to.deep.equal([1, 2, 3]);
  });

  it('drain resolves only once the chip has put every byte on the line (TEMT)', async () => {
    const { got, port } = await wired(19200);
    await port.write(pattern(600));
    expect(got.length).to.be.below(600); // the write resolves with up to a FIFO unsent
    await port.drain();
    expect(got.length).to.equal(600);
  });

  it("close({ hupcl: false }) keeps DTR and RTS up; the default close drops them", async () => {
    const { f, port } = await wired(115200);
    expect(f.uart().outputs.dtr).to.equal(true);
    await port.close({ hupcl: false });
    expect(f.uart().outputs.dtr).to.equal(true);
    expect(f.uart().outputs.rts).to.equal(true);
    await port.open({ baudRate: 115200 });
    await port.close();
    expect(f.uart().outputs.dtr).to.equal(false);
    expect(f.uart().outputs.rts).to.equal(false);
  });

  it('reports the requested rate as ftdi_sio does, and keeps the actual one', async () => {
    const { port } = await wired(9600);
    const s = await port.setSettings({ baudRate: 57600 });
    expect(s.reportedBaudRate).to.equal(57600);
    expect(s.actualBaudRate).to.not.equal(57600);
    expect(Math.abs(s.actualBaudRate - 57600) / 57600).to.be.below(0.03);
  });

  it('pauseReading stops IN transfers so the chip FIFO fills; resume delivers everything', async () => {
    const { f, far, port } = await wired(115200);
    const rec = record(port);
    port.pauseReading();
    await sleep(100); // reads in flight end at the next status packets
    const before = rec.received;
    await far.write(pattern(200));
    await sleep(150);
    expect(rec.received).to.equal(before);
    expect(f.device.pendingOn(0x81)).to.equal(0); // no bulk IN transfer submitted while paused
    port.resumeReading();
    await until(() => rec.received >= before + 200, 3000, 'data after resume');
  });
});
