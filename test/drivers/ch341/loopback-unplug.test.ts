// Bulk data through the whole stack and an emulated CH340 with a loopback plug (10 MiB
// byte-exact), and surprise removal mid-read and mid-write: PortDisconnectedError, nothing pending.
import { expect } from 'chai';
import { PortDisconnectedError, type PortEvent } from '../../../src/serial/index.ts';
import { loopbackPlug, nullModem, UartPort } from '../../../mocks/index.ts';
import { createCh34x } from '../../../mocks/ch34x/index.ts';
import { ch341Lab, collect, tick } from './lab.ts';

/** A pattern that shows reordering, loss and duplication (not periodic in 256 or 32). */
function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await tick(2);
  }
}

describe('CH341 loopback and unplug', function () {
  this.timeout(60_000);

  it('10 MiB byte-exact through a CH340 with a loopback plug at 3 Mbaud', async () => {
    const lab = await ch341Lab();
    try {
      const { device, chip } = createCh34x('CH340', { device: { transferLog: { captureData: false, limit: 1000 } } });
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 3_000_000 });
      const data = pattern(10 * 1024 * 1024);
      const got = collect(port, data.length, 60_000);
      expect(await port.write(data)).to.equal(data.length);
      expect(firstDifference(await got, data), 'first differing byte').to.equal(-1);
      expect(port.stats.lineErrors).to.equal(0);
      expect(chip.uart.stats.overruns).to.equal(0);
      await port.close();
      expect(device.resources().pendingTransfers).to.equal(0);
    } finally {
      await lab.close();
    }
  });

  it('version 0x27 (rate written without the "send now" flag, as Linux does): short packets come back too', async () => {
    const lab = await ch341Lab();
    try {
      const { device, chip } = createCh34x('CH340-v27');
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      const data = pattern(4096);
      const got = collect(port, data.length);
      await port.write(data);
      expect(firstDifference(await got, data)).to.equal(-1);
      const short = collect(port, 5);
      await port.write(data.subarray(0, 5));
      expect(firstDifference(await short, data.subarray(0, 5))).to.equal(-1);
    } finally {
      await lab.close();
    }
  });

  it('unplug mid-read: the port reports the disconnect and nothing is left pending', async () => {
    const lab = await ch341Lab();
    const far = new UartPort({ name: 'far', pacing: true });
    try {
      const { device, chip } = createCh34x('CH340');
      nullModem(chip.uart, far);
      await lab.plug(device);
      const port = lab.port();
      const events: PortEvent[] = [];
      port.events.subscribe((e) => events.push(e));
      await port.open();
      void far.write(new Uint8Array(2000).fill(0x55));
      await collect(port, 20);
      expect(device.pendingOn(0x82)).to.be.at.least(3);
      expect(device.pendingOn(0x81)).to.equal(1);
      lab.host.unplug(device);
      expect(device.resources().pendingTransfers).to.equal(0);
      await tick(5);
      const disc = events.find((e) => e.type === 'disconnect') as Extract<PortEvent, { type: 'disconnect' }> | undefined;
      expect(disc?.error).to.be.instanceOf(PortDisconnectedError);
      expect(() => port.write(Uint8Array.of(1))).to.throw(PortDisconnectedError);
      await lab.host.flush();
      await lab.usb.settled();
      expect(lab.reg.adapters()).to.deep.equal([]);
      expect(device.resources()).to.deep.equal({ plugged: false, opened: false, claimedInterfaces: [], pendingTransfers: 0 });
    } finally {
      far.reset();
      await lab.close();
    }
  });

  it('unplug mid-write: PortDisconnectedError with the bytes that went out, nothing pending', async () => {
    const lab = await ch341Lab();
    try {
      const { device } = createCh34x('CH341', { chip: { uart: { pacing: true } } });
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 1_000_000 });
      const write = port.write(new Uint8Array(4 * 16384));
      write.catch(() => undefined);
      await until(() => port.stats.bytesWritten >= 16384);
      lab.host.unplug(device);
      const err = await write.catch((e: unknown) => e);
      expect(err).to.be.instanceOf(PortDisconnectedError);
      expect((err as PortDisconnectedError).bytesWritten).to.equal(16384);
      expect(device.resources().pendingTransfers).to.equal(0);
      await lab.host.flush();
      await lab.usb.settled();
      expect(lab.reg.adapters()).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });
});
