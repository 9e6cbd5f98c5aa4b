// Closing an open CDC-ACM port cancels the reads on both interfaces (the surprise-removal cases
// for every family are in ../unplug.test.ts).
import { expect } from 'chai';
import { createCdcAcm } from '../../../mocks/cdc-acm/index.ts';
import { acmLab } from './lab.ts';


describe('CDC-ACM unplug', function () {
  this.timeout(10_000);

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
