// Unbinding an open port: the port reports the disconnect and no transfer is left pending on the
// device (the surprise-removal cases for every family are in ../unplug.test.ts).
import { expect } from 'chai';
import { deregisterUsbSerialDrivers } from '../../../src/serial/index.ts';
import { loopbackPlug } from '../../../mocks/index.ts';
import { createPl2303 } from '../../../mocks/pl2303/index.ts';
import { pl2303Lab } from './lab.ts';


describe('PL2303 unplug and unbind', function () {
  this.timeout(10_000);

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
