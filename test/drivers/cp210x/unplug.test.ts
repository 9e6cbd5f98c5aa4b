// Unplug during a settings change, and unbinding an open CP2105: typed errors, the ports report
// the disconnect, no transfer is left pending (the surprise-removal cases for every family are in
// ../unplug.test.ts).
import { expect } from 'chai';
import { deregisterUsbSerialDrivers, PortDisconnectedError } from '../../../src/serial/index.ts';
import { loopbackPlug } from '../../../mocks/index.ts';
import { createCp210x } from '../../../mocks/cp210x/index.ts';
import { cp210xLab } from './lab.ts';


describe('CP210x unplug and unbind', function () {
  this.timeout(10_000);

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
