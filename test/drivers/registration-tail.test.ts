// The registration tail defineUsbSerialDriver gives every chip family (src/serial/generic/driver.ts):
// the default driver and its driver set, create() with options, register(usbBus), and an adapter
// accessor that knows the adapters of every driver of its family and of no other.
import { expect } from 'chai';
import { deregisterUsbSerialDrivers } from '../../src/serial/index.ts';
import { createStack } from '../../src/stack.ts';
import { MockUsbHost } from '../../mocks/index.ts';
import { createPl2303 } from '../../mocks/pl2303/index.ts';
import { cdcAcmAdapterOf, cdcAcmDriver, cdcAcmDriverSet, CDC_ACM_ID_TABLE } from '../../drivers/cdc-acm/index.ts';
import { ch341AdapterOf, ch341DriverSet } from '../../drivers/ch341/index.ts';
import { cp210xAdapterOf, cp210xDriverSet } from '../../drivers/cp210x/index.ts';
import { ftdiAdapterOf, ftdiDriver, ftdiDriverSet, FTDI_IDS } from '../../drivers/ftdi/index.ts';
import { createPl2303Driver, pl2303AdapterOf, pl2303Driver, pl2303DriverSet, PL2303_ID_TABLE, registerPl2303 } from '../../drivers/pl2303/index.ts';
import { chipLab, LAB_FAMILIES } from './chip-lab.ts';

describe('chip families: the registration tail', () => {
  it('each driver set is the default driver under its usb driver name and ID table, frozen', () => {
    expect(ftdiDriverSet).to.deep.include({ name: 'ftdi_sio', ids: FTDI_IDS });
    expect(ftdiDriverSet.specs).to.deep.equal([ftdiDriver]);
    expect(pl2303DriverSet).to.deep.include({ name: 'pl2303', ids: PL2303_ID_TABLE });
    expect(pl2303DriverSet.specs[0]).to.equal(pl2303Driver);
    expect(cdcAcmDriverSet).to.deep.include({ name: 'cdc_acm', ids: CDC_ACM_ID_TABLE });
    expect(cdcAcmDriverSet.specs[0]).to.equal(cdcAcmDriver);
    expect([cp210xDriverSet.name, ch341DriverSet.name]).to.deep.equal(['cp210x', 'ch341']);
    for (const set of [ftdiDriverSet, pl2303DriverSet, cp210xDriverSet, ch341DriverSet, cdcAcmDriverSet]) {
      expect(Object.isFrozen(set) && Object.isFrozen(set.specs), set.name).to.equal(true);
    }
    expect(createPl2303Driver({ readTransferSize: 1024 }), 'create() builds a new driver').to.not.equal(pl2303Driver);
  });

  it("the adapter accessor answers for a driver made by create() and for no other family's port", async () => {
    const lab = await chipLab(LAB_FAMILIES.pl2303, { driver: { readTransferSize: 1024 } });
    try {
      await lab.plug(createPl2303('PL2303HX').device);
      const port = lab.port();
      await port.open({ baudRate: 19200 });
      expect(pl2303AdapterOf(port)).to.include({ type: 'HX' });
      expect(pl2303AdapterOf(port)?.settings?.baudRate).to.equal(19200);
      expect(pl2303AdapterOf(port.serial)?.settings?.baudRate, 'an interface: its first port').to.equal(19200);
      for (const other of [ftdiAdapterOf, cp210xAdapterOf, ch341AdapterOf, cdcAcmAdapterOf]) expect(other(port)).to.equal(undefined);
    } finally {
      await lab.close();
    }
  });

  it('register(usbBus) registers the default driver set on that bus', async () => {
    const host = new MockUsbHost();
    const stack = await createStack({ host });
    try {
      const reg = await registerPl2303(stack.usb.bus);
      expect(reg.name).to.equal('pl2303');
      expect(reg.serialDrivers.map((d) => d.spec)).to.deep.equal([pl2303Driver]);
      host.plug(createPl2303('PL2303HX').device);
      await host.flush();
      await stack.settled();
      expect(reg.ports().map((p) => p.typeName)).to.deep.equal(['pl2303']);
      await deregisterUsbSerialDrivers(reg);
      expect(reg.state).to.equal('deregistered');
    } finally {
      host.unplugAll();
      await stack.close();
    }
  });
});
