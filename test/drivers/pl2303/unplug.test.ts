// Surprise removal mid-read and mid-write, and unbinding an open port: a clear error, the port
// reports the disconnect, and no transfer is left pending on the device.
import { expect } from 'chai';
import { deregisterUsbSerialDrivers, PortDisconnectedError, type PortEvent } from '../../../src/serial/index.ts';
import { loopbackPlug, nullModem, UartPort } from '../../../mocks/index.ts';
import { createPl2303 } from '../../../mocks/pl2303/index.ts';
import { collect, pl2303Lab } from './lab.ts';
import { sleep, until } from '../../helpers/async.ts';

describe('PL2303 unplug and unbind', function () {
  this.timeout(10_000);

  it('unplug mid-read: the port reports the disconnect, nothing is left pending, a replug works', async () => {
    const lab = await pl2303Lab();
    // A far end trickling bytes at 9600 baud (paced), so reads are in flight and completing.
    const far = new UartPort({ name: 'far', pacing: true });
    try {
      const { device, chip } = createPl2303('PL2303HX');
      nullModem(chip.uart, far);
      await lab.plug(device);
      const port = lab.port();
      const events: PortEvent[] = [];
      port.events.subscribe((e) => events.push(e));
      await port.open();
      void far.write(new Uint8Array(2000).fill(0x55));
      await collect(port, 20);
      expect(device.pendingOn(0x83)).to.be.at.least(3); // 4 in flight, one may be resubmitting
      expect(device.pendingOn(0x81)).to.equal(1);

      lab.host.unplug(device);
      expect(device.resources().pendingTransfers).to.equal(0); // all rejected at once
      await sleep(5);
      const disc = events.find((e) => e.type === 'disconnect') as Extract<PortEvent, { type: 'disconnect' }> | undefined;
      expect(disc?.error).to.be.instanceOf(PortDisconnectedError);
      expect(port.gone).to.equal(true);
      expect(() => port.write(Uint8Array.of(1))).to.throw(PortDisconnectedError);
      await lab.host.flush();
      await lab.usb.settled();
      expect(lab.reg.adapters()).to.deep.equal([]);
      expect(device.resources()).to.deep.equal({ plugged: false, opened: false, claimedInterfaces: [], pendingTransfers: 0 });

      // The same dongle plugged again is a new adapter and port that work.
      far.wire?.detach();
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const again = lab.port();
      await again.open();
      const got = collect(again, 3);
      await again.write(Uint8Array.of(7, 8, 9));
      expect([...(await got)]).to.deep.equal([7, 8, 9]);
    } finally {
      far.reset(); // stop its paced transmitter
      await lab.close();
    }
  });

  it('unplug mid-write: PortDisconnectedError with the bytes that went out, nothing pending', async () => {
    const lab = await pl2303Lab();
    try {
      // Paced at 1 Mbaud with nothing wired: each 16 KiB chunk takes ~164 ms on the line.
      const { device } = createPl2303('PL2303HXD', { chip: { uart: { pacing: true } } });
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 1_000_000 });
      const write = port.write(new Uint8Array(4 * 16384));
      write.catch(() => undefined);
      await until(() => port.stats.bytesWritten >= 16384, 5000);
      lab.host.unplug(device);
      const err = await write.catch((e: unknown) => e);
      expect(err).to.be.instanceOf(PortDisconnectedError);
      expect((err as PortDisconnectedError).bytesWritten).to.equal(16384);
      expect((err as Error).message).to.match(/after 16384 bytes/);
      expect(device.resources().pendingTransfers).to.equal(0);
      await lab.host.flush();
      await lab.usb.settled();
      expect(lab.reg.adapters()).to.deep.equal([]);
      expect(device.resources().pendingTransfers).to.equal(0);
    } finally {
      await lab.close();
    }
  });

  it('unbinding an open port (deregistration) cancels its reads and gives the interface back', async () => {
    const lab = await pl2303Lab();
    try {
      const { device, chip } = createPl2303('PL2303GC');
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      expect(device.pendingOn(0x83)).to.equal(4);
      const disconnected = new Promise((r) => port.events.subscribe((e) => e.type === 'disconnect' && r(e)));
      await deregisterUsbSerialDrivers(lab.reg);
      await disconnected;
      expect(device.resources()).to.deep.equal({ plugged: true, opened: false, claimedInterfaces: [], pendingTransfers: 0 });
    } finally {
      await lab.close();
    }
  });
});
