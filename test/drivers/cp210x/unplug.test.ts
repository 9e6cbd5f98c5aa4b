// Surprise removal mid-read and mid-write, and unbinding an open port: a clear error, the port
// reports the disconnect, and no transfer is left pending on the device.
import { expect } from 'chai';
import { deregisterUsbSerialDrivers, PortDisconnectedError, type PortEvent } from '../../../src/serial/index.ts';
import { loopbackPlug, nullModem, UartPort } from '../../../mocks/index.ts';
import { createCp210x } from '../../../mocks/cp210x/index.ts';
import { collect, cp210xLab, tick } from './lab.ts';

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await tick(2);
  }
}

describe('CP210x unplug and unbind', function () {
  this.timeout(10_000);

  it('unplug mid-read: the port reports the disconnect, nothing is left pending, a replug works', async () => {
    const lab = await cp210xLab();
    const far = new UartPort({ name: 'far', pacing: true });
    try {
      const { device, chip } = createCp210x('CP2102');
      nullModem(chip.uart(0), far);
      await lab.plug(device);
      const port = lab.port();
      const events: PortEvent[] = [];
      port.events.subscribe((e) => events.push(e));
      await port.open();
      void far.write(new Uint8Array(2000).fill(0x55));
      await collect(port, 20);
      expect(device.pendingOn(0x81)).to.be.at.least(3);

      lab.host.unplug(device);
      expect(device.resources().pendingTransfers).to.equal(0);
      await tick(5);
      const disc = events.find((e) => e.type === 'disconnect') as Extract<PortEvent, { type: 'disconnect' }> | undefined;
      expect(disc?.error).to.be.instanceOf(PortDisconnectedError);
      expect(port.gone).to.equal(true);
      expect(() => port.write(Uint8Array.of(1))).to.throw(PortDisconnectedError);
      await lab.host.flush();
      await lab.usb.settled();
      expect(lab.reg.adapters()).to.deep.equal([]);
      expect(device.resources()).to.deep.equal({ plugged: false, opened: false, claimedInterfaces: [], pendingTransfers: 0 });

      far.wire?.detach();
      loopbackPlug(chip.uart(0));
      await lab.plug(device);
      const again = lab.port();
      await again.open();
      const got = collect(again, 3);
      await again.write(Uint8Array.of(7, 0xec, 9));
      expect([...(await got)]).to.deep.equal([7, 0xec, 9]);
    } finally {
      far.reset();
      await lab.close();
    }
  });

  it('unplug mid-write: PortDisconnectedError with the bytes that went out, nothing pending', async () => {
    const lab = await cp210xLab();
    try {
      // Paced at 921600 with nothing wired: each 16 KiB chunk takes ~178 ms on the line.
      const { device } = createCp210x('CP2104', { chip: { uart: { pacing: true } } });
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 921_600 });
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

  it('unplug during open and during a settings change: typed errors, nothing pending', async () => {
    const lab = await cp210xLab();
    try {
      const { device } = createCp210x('CP2102N');
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      const change = port.setSettings({ baudRate: 115200, flowControl: 'rts-cts' });
      lab.host.unplug(device);
      const err = await change.catch((e: unknown) => e);
      expect(err).to.be.instanceOf(PortDisconnectedError);
      await lab.host.flush();
      await lab.usb.settled();
      expect(device.resources().pendingTransfers).to.equal(0);
      await port.close(); // closing a gone port is quiet
    } finally {
      await lab.close();
    }
  });

  it('unbinding an open CP2105 (deregistration) cancels both ports\' reads and gives the interfaces back', async () => {
    const lab = await cp210xLab();
    try {
      const { device, chip } = createCp210x('CP2105');
      loopbackPlug(chip.uart(0));
      loopbackPlug(chip.uart(1));
      await lab.plug(device);
      await lab.port(0).open();
      await lab.port(1).open();
      expect(device.pendingOn(0x81)).to.equal(4);
      expect(device.pendingOn(0x82)).to.equal(4);
      const disconnected = Promise.all([0, 1].map((n) => new Promise((r) => lab.port(n).events.subscribe((e) => e.type === 'disconnect' && r(e)))));
      await deregisterUsbSerialDrivers(lab.reg);
      await disconnected;
      expect(device.resources()).to.deep.equal({ plugged: true, opened: false, claimedInterfaces: [], pendingTransfers: 0 });
    } finally {
      await lab.close();
    }
  });
});
