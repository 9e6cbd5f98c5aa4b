// Type detection through the whole stack: emulated parts with the descriptors real ones report,
// plugged into the mock host, probed by the usb-serial registration of the pl2303 driver.
import { expect } from 'chai';
import { DriverModel } from '../../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers } from '../../../src/serial/index.ts';
import { UsbSubsystem, type HostBackend, type HostDevice } from '../../../src/usb/index.ts';
import { MockUsbHost } from '../../../mocks/index.ts';
import {
  createPl2303Driver,
  pl2303AdapterOf,
  PL2303_ID_TABLE,
  Pl2303EndpointError,
  UnsupportedPl2303Error,
} from '../../../drivers/pl2303/index.ts';
import { createPl2303, pl2303FromDescriptor, pl2303FromLsusb, pl2303DeviceSpec, type Pl2303Part } from '../../../mocks/pl2303/index.ts';
import { LSUSB_PL2303HX as PL2303HX_LSUSB } from '../../fixtures/lsusb.ts';
import { controlLines, pl2303Lab } from './lab.ts';


const HX_STATUS_PROBE = 'c0 01 8080 0000 1';
const GET_LINE = 'a1 21 0000 0000 7';

interface Case {
  part: Pl2303Part;
  type: string;
  /** The 0x8080 probe: answered, stalled, or not sent. */
  probe: 'answered' | 'stalled' | 'none';
  clone?: boolean;
}

const CASES: Case[] = [
  { part: 'PL2303H', type: 'H', probe: 'none' },
  { part: 'PL2303H-8', type: 'H', probe: 'none' },
  { part: 'PL2303HX', type: 'HX', probe: 'none' },
  { part: 'PL2303HXD', type: 'HXD', probe: 'none' },
  { part: 'PL2303HXD-clone', type: 'HXD', probe: 'none', clone: true },
  { part: 'PL2303TA', type: 'TA', probe: 'answered' },
  { part: 'PL2303TB', type: 'TB', probe: 'answered' },
  { part: 'PL2303GC', type: 'HXN', probe: 'none' },
  { part: 'PL2303GB', type: 'HXN', probe: 'none' },
  { part: 'PL2303GT', type: 'HXN', probe: 'stalled' },
  { part: 'PL2303GL', type: 'HXN', probe: 'none' },
  { part: 'PL2303GE', type: 'HXN', probe: 'stalled' },
  { part: 'PL2303GS', type: 'HXN', probe: 'none' },
];

describe('PL2303 detection through the whole stack', () => {
  for (const c of CASES) {
    it(`${c.part} is ${c.type}${c.clone ? ' (clone: no break, cached line settings)' : ''}`, async () => {
      const lab = await pl2303Lab();
      try {
        const { device } = createPl2303(c.part);
        await lab.plug(device);
        const info = lab.info();
        expect(info.type).to.equal(c.type);
        expect(info.quirks.legacy).to.equal(c.type === 'H');
        expect(info.quirks.noBreakGetLine).to.equal(c.clone === true);
        expect(lab.reg.ports()).to.have.length(1);
        const lines = controlLines(device.transferLog);
        const probe = lines.filter((l) => l.startsWith(HX_STATUS_PROBE));
        if (c.probe === 'none') expect(probe).to.deep.equal([]);
        else expect(probe).to.deep.equal([c.probe === 'stalled' ? `${HX_STATUS_PROBE} STALL` : HX_STATUS_PROBE]);
        // The clone check (GET_LINE) runs for HXD only, before the start-up sequence.
        const getLines = lines.filter((l) => l.startsWith(GET_LINE));
        if (c.type === 'HXD') expect(getLines).to.deep.equal([c.clone ? `${GET_LINE} STALL` : GET_LINE]);
        else expect(getLines).to.deep.equal([]);
      } finally {
        await lab.close();
      }
    });
  }

  it('every bcdDevice pl2303.c lists as HXN on USB 2.0 (G series), without a probe', async () => {
    const lab = await pl2303Lab();
    try {
      const bcds = [0x100, 0x105, 0x305, 0x400, 0x405, 0x505, 0x600, 0x605, 0x700, 0x705, 0x905, 0x1005];
      for (const [i, bcd] of bcds.entries()) {
        const { device } = pl2303FromDescriptor(pl2303DeviceSpec('PL2303GC', { bcdDevice: bcd, serialNumber: `G${i}` }));
        await lab.plug(device);
        expect(lab.info(i).type, `bcdDevice 0x${bcd.toString(16)}`).to.equal('HXN');
        expect(controlLines(device.transferLog).filter((l) => l.startsWith(HX_STATUS_PROBE))).to.deep.equal([]);
      }
    } finally {
      await lab.close();
    }
  });

  it('an OEM ID (ATEN 0557:2008) with an HX inside, and a Siemens cable with the status at offset 0', async () => {
    const lab = await pl2303Lab();
    try {
      const aten = createPl2303('PL2303HX', { descriptor: { idVendor: 0x0557, idProduct: 0x2008 } });
      await lab.plug(aten.device);
      expect(lab.info(0).type).to.equal('HX');
      const siemens = createPl2303('PL2303HX', { descriptor: { idVendor: 0x11f5, idProduct: 0x0003 }, chip: { statusIndex0: true } });
      await lab.plug(siemens.device);
      expect(lab.info(1).statusIndex).to.equal(0);
      expect(lab.info(0).statusIndex).to.equal(8);
    } finally {
      await lab.close();
    }
  });

  it('binds an unknown OEM ID written to new_id, with the type detected as usual', async () => {
    const lab = await pl2303Lab();
    try {
      const { device } = createPl2303('PL2303TB', { descriptor: { idVendor: 0x1234, idProduct: 0x5678 } });
      await lab.plug(device);
      expect(lab.reg.adapters()).to.deep.equal([]); // not in the table
      const r = await lab.usb.model.attrs.write('bus/usb-serial/drivers/pl2303/new_id', '1234 5678');
      expect(r.ok, JSON.stringify(r)).to.equal(true);
      await lab.usb.settled();
      expect(lab.info().type).to.equal('TB');
      expect(lab.reg.ports()).to.have.length(1);
    } finally {
      await lab.close();
    }
  });

  it('without a raw descriptor from the backend (WebUSB), reads GET_DESCRIPTOR for bMaxPacketSize0', async () => {
    // A backend like WebUSB: the same mock host, its devices handed out without deviceDescriptor.
    const host = new MockUsbHost();
    const bare = new WeakMap<HostDevice, HostDevice>();
    const strip = (d: HostDevice): HostDevice => {
      let b = bare.get(d);
      if (!b) {
        b = { key: d.key, usb: d.usb, location: d.location, kernelDriver: d.kernelDriver, maxTransfersInFlight: d.maxTransfersInFlight };
        bare.set(d, b);
      }
      return b;
    };
    const backend: HostBackend = {
      name: 'webusb-like',
      getDevices: async () => (await host.getDevices()).map(strip),
      watch: (listener) => host.watch((e) => listener({ type: e.type, device: strip(e.device) })),
      close: () => host.close(),
    };
    const usb = new UsbSubsystem({ model: new DriverModel() });
    await usb.attachBackend(backend);
    const reg = await registerUsbSerialDrivers([createPl2303Driver()], 'pl2303', PL2303_ID_TABLE, { usbBus: usb.bus });
    try {
      const { device } = createPl2303('PL2303H-8'); // only bMaxPacketSize0 (8) says legacy H
      host.plug(device);
      await host.flush();
      await usb.settled();
      expect(controlLines(device.transferLog)[0]).to.equal('80 06 0100 0000 18'); // GET_DESCRIPTOR(device)
      expect(pl2303AdapterOf(reg.adapters()[0])?.type).to.equal('H');
    } finally {
      await deregisterUsbSerialDrivers(reg);
      host.unplugAll();
      await usb.stop();
    }
  });

  it('builds a part from lsusb -v text and detects it', async () => {
    const lab = await pl2303Lab();
    try {
      const { device, chip } = pl2303FromLsusb(PL2303HX_LSUSB);
      expect(chip.type).to.equal('HX');
      await lab.plug(device);
      expect(lab.info().type).to.equal('HX');
      expect(lab.info().endpoints.interruptIn.address).to.equal(0x81);
      expect(lab.info().endpoints.bulkOut.address).to.equal(0x02);
      expect(lab.info().endpoints.bulkIn.address).to.equal(0x83);
    } finally {
      await lab.close();
    }
  });

  it('refuses unknown combinations clearly and leaves the interface unbound', async () => {
    const lab = await pl2303Lab();
    try {
      // bcdUSB 2.00 with a bcdDevice no PL2303 reports: the chip model needs a type, the driver refuses.
      const { device } = pl2303FromDescriptor(pl2303DeviceSpec('PL2303TA', { bcdDevice: 0x0800 }), { type: 'TA' });
      await lab.plug(device);
      expect(lab.reg.adapters()).to.deep.equal([]);
      expect(lab.probeErrors).to.have.length(1);
      const err = lab.probeErrors[0].error as UnsupportedPl2303Error;
      expect(err).to.be.instanceOf(UnsupportedPl2303Error);
      expect(err.message).to.match(/bcdUSB 0x0200 with bcdDevice 0x0800/);
      expect(device.resources().pendingTransfers).to.equal(0);
    } finally {
      await lab.close();
    }
  });

  it('refuses an interface without its interrupt endpoint, naming it', async () => {
    const lab = await pl2303Lab();
    try {
      const spec = pl2303DeviceSpec('PL2303HX');
      const noInt = {
        ...spec,
        configurations: [{ interfaces: [{ endpoints: [{ bEndpointAddress: 0x02, type: 'bulk' as const }, { bEndpointAddress: 0x83, type: 'bulk' as const }] }] }],
      };
      const { device } = pl2303FromDescriptor(noInt, { type: 'HX' });
      await lab.plug(device);
      expect(lab.reg.adapters()).to.deep.equal([]);
      expect(lab.probeErrors).to.have.length(1);
      expect(lab.probeErrors[0].error).to.be.instanceOf(Pl2303EndpointError);
      expect(String(lab.probeErrors[0].error)).to.match(/required interrupt IN endpoint missing/);
      expect(controlLines(device.transferLog)).to.deep.equal([]); // nothing was sent to it
    } finally {
      await lab.close();
    }
  });
});
