// Surprise removal of a CDC-ACM board mid-read and mid-write: PortDisconnectedError, both
// interfaces given back, nothing pending.
import { expect } from 'chai';
import { PortDisconnectedError, type PortEvent } from '../../../src/serial/index.ts';
import { nullModem, UartPort } from '../../../mocks/index.ts';
import { createCdcAcm } from '../../../mocks/cdc-acm/index.ts';
import { acmLab, collect, tick } from './lab.ts';

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await tick(2);
  }
}

describe('CDC-ACM unplug', function () {
  this.timeout(10_000);

  it('unplug mid-read: the port reports the disconnect and nothing is left pending', async () => {
    const lab = await acmLab();
    const far = new UartPort({ name: 'far', pacing: true });
    try {
      const { device, chip } = createCdcAcm('pico');
      nullModem(chip.uart, far);
      await lab.plug(device);
      const port = lab.port();
      const events: PortEvent[] = [];
      port.events.subscribe((e) => events.push(e));
      await port.open();
      void far.write(new Uint8Array(2000).fill(0x55));
      await collect(port, 20);
      expect(device.pendingOn(0x82)).to.be.at.least(1);
      expect(device.pendingOn(0x81)).to.equal(1);
      lab.host.unplug(device);
      expect(device.resources().pendingTransfers).to.equal(0);
      await tick(5);
      const disc = events.find((e) => e.type === 'disconnect') as Extract<PortEvent, { type: 'disconnect' }> | undefined;
      expect(disc?.error).to.be.instanceOf(PortDisconnectedError);
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
    const lab = await acmLab();
    try {
      const { device } = createCdcAcm('uno', { chip: { uart: { pacing: true } } });
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

  it('closing an open port cancels the reads on both interfaces', async () => {
    const lab = await acmLab();
    try {
      const { device } = createCdcAcm('uno');
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      expect(device.pendingOn(0x83)).to.be.at.least(1);
      await port.close();
      expect(device.resources().pendingTransfers).to.equal(0);
      expect(device.resources().claimedInterfaces).to.deep.equal([0, 1]);
    } finally {
      await lab.close();
    }
  });
});
