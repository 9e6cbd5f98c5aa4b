// Byte-exact loopback through the whole stack (port.write -> driver -> bulk OUT -> emulated chip
// -> UART -> loopback plug -> UART -> bulk IN packets -> driver -> port events), pacing off.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { loopbackPlug } from '../../../mocks/index.ts';
import { mockFt232h, mockFt232r, mockFt4232h, mockSio, type MockFtdi } from '../../../mocks/ftdi/index.ts';
import type { UsbSerialPort } from '../../../src/serial/index.ts';
import { until } from '../../helpers/async.ts';
import { pattern } from '../../helpers/bytes.ts';
import { ftdiLab, record, type FtdiLab } from './lab.ts';

const MiB = 1 << 20;
const lean = { device: { transferLog: { limit: 64, captureData: false } } };

async function loop(port: UsbSerialPort, data: Uint8Array, ms: number): Promise<{ ms: number }> {
  const rec = record(port);
  const t0 = performance.now();
  const written = await port.write(data);
  expect(written).to.equal(data.length);
  await until(() => rec.received >= data.length, ms, `${data.length} bytes back`);
  const took = performance.now() - t0;
  expect(rec.received).to.equal(data.length);
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  expect(sha(rec.bytes())).to.equal(sha(data));
  expect(rec.ofType('line-error')).to.deep.equal([]);
  rec.stop();
  return { ms: took };
}

describe('ftdi_sio: byte-exact loopback through the whole stack', function () {
  this.timeout(30_000);
  let lab: FtdiLab;
  beforeEach(async () => (lab = await ftdiLab()));
  afterEach(() => lab.close());

  async function plugLooped(f: MockFtdi): Promise<UsbSerialPort[]> {
    for (let i = 0; i < f.chip.channels.length; i++) loopbackPlug(f.uart(i));
    return lab.plug(f);
  }

  it('10 MiB on an FT232H (512-byte packets), with several reads in flight and none left after', async () => {
    const f = mockFt232h(lean);
    const [port] = await plugLooped(f);
    await port!.open({ baudRate: 12_000_000 });
    const { ms } = await loop(port!, pattern(10 * MiB, 42), 20_000);
    expect(ms).to.be.below(20_000);
    expect(f.channel().stats.bytesToHost).to.equal(10 * MiB);
    expect(f.channel().overruns).to.equal(0);
    await port!.close();
    expect(f.device.pendingTransfers).to.equal(0);
  });

  it('1 MiB on an FT232R (64-byte packets: 62 data bytes each)', async () => {
    const f = mockFt232r(lean);
    const [port] = await plugLooped(f);
    await port!.open({ baudRate: 3_000_000 });
    await loop(port!, pattern(MiB, 3), 10_000);
    // Every packet but the last of a burst is full: the header is 2 of every 64 bytes.
    expect(f.channel().stats.packetsIn).to.be.at.least(Math.ceil(MiB / 62));
    await port!.close();
  });

  it('256 KiB on the SIO (a header byte in every OUT packet)', async () => {
    const f = mockSio(lean);
    const [port] = await plugLooped(f);
    await port!.open({ baudRate: 115200 });
    await loop(port!, pattern(256 * 1024, 5), 10_000);
    expect(f.channel().stats.bytesFromHost).to.equal(256 * 1024);
    await port!.close();
  });

  it('FT4232H: 1 MiB on each of the 4 ports at once', async () => {
    const f = mockFt4232h(lean);
    const ports = await plugLooped(f);
    for (const p of ports) await p.open({ baudRate: 3_000_000 });
    await Promise.all(ports.map((p, i) => loop(p, pattern(MiB, 100 + i), 15_000)));
    for (const p of ports) await p.close();
  });
});
