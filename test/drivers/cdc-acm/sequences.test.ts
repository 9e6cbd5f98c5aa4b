// The CDC-ACM requests on the wire, byte for byte (written out from cdc-acm.c: acm_probe's
// SET_LINE_CODING 9600 8N1, acm_tty_set_termios sending the line coding only when it changed,
// acm_port_dtr_rts, acm_tty_break_ctl), the data interface claimed through the usb layer, the
// quirk and new_id binds, and the typed refusal of break without bmCapabilities bit 2.
import { expect } from 'chai';
import { deregisterUsbSerialDrivers, UnsupportedFeatureError } from '../../../src/serial/index.ts';
import { createCdcAcm } from '../../../mocks/cdc-acm/index.ts';
import { AcmDescriptorError } from '../../../drivers/cdc-acm/index.ts';
import { acmLab, controlLines } from './lab.ts';

const GET_CONFIG_HEAD = '80 06 0200 0000 9';
const LINE_9600 = '21 20 0000 0000 7 [80 25 00 00 00 00 08]';
const DTR_RTS_ON = '21 22 0003 0000 0';
const DTR_RTS_OFF = '21 22 0000 0000 0';

/** The lines after enumeration: from the driver's configuration read on. */
const fromDriver = (lines: string[]) => lines.slice(lines.indexOf(GET_CONFIG_HEAD));

describe('CDC-ACM sequences on the wire', () => {
  it('Arduino Uno: probe claims the data interface and sets 9600 8N1; open raises DTR/RTS; close drops them', async () => {
    const lab = await acmLab();
    try {
      const { device, chip } = createCdcAcm('uno');
      await lab.plug(device);
      const info = lab.info();
      expect(info.fn).to.deep.include({ controlInterface: 0, dataInterface: 1, foundBy: 'union', combined: false });
      expect(info.capabilities).to.equal(0x06);
      const probe = fromDriver(controlLines(device.transferLog));
      expect(probe[0]).to.equal(GET_CONFIG_HEAD);
      expect(probe[1]).to.match(/^80 06 0200 0000 \d+$/);
      expect(probe.slice(2)).to.deep.equal([LINE_9600]);
      expect(device.resources().claimedInterfaces).to.deep.equal([0, 1]);
      expect(lab.reg.ports()).to.have.length(1);

      device.clearTransferLog();
      const port = lab.port();
      const applied = await port.open(); // 9600 8N1: what probe sent, so no SET_LINE_CODING
      expect(applied.actualBaudRate).to.equal(9600);
      expect(controlLines(device.transferLog)).to.deep.equal([DTR_RTS_ON]);
      expect(chip.controlLines).to.deep.equal({ dtr: true, rts: true, brk: false });

      device.clearTransferLog();
      await port.setSettings({ baudRate: 115200 });
      await port.setSettings({ baudRate: 115200 });
      await port.setSettings({ baudRate: 115200, dataBits: 7, parity: 'even', stopBits: 2 });
      await port.setSettings({ parity: 'mark', stopBits: 1.5, dataBits: 5 });
      expect(controlLines(device.transferLog)).to.deep.equal([
        '21 20 0000 0000 7 [00 c2 01 00 00 00 08]',
        '21 20 0000 0000 7 [00 c2 01 00 02 02 07]',
        '21 20 0000 0000 7 [00 c2 01 00 01 03 05]',
      ]);
      expect(chip.lineSettings).to.deep.equal({ baudRate: 115200, dataBits: 5, parity: 'mark', stopBits: 1.5 });

      device.clearTransferLog();
      await port.setSignals({ dtr: false });
      await port.setSignals({ brk: true });
      expect(chip.controlLines).to.deep.equal({ dtr: false, rts: true, brk: true });
      await port.setSignals({ brk: false });
      await port.close();
      expect(controlLines(device.transferLog)).to.deep.equal(['21 22 0002 0000 0', '21 23 ffff 0000 0', '21 23 0000 0000 0', DTR_RTS_OFF]);
      expect(device.resources().pendingTransfers).to.equal(0);
      expect(chip.refusals).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });

  it('Pico: binds interfaces 0 and 1 under the IAD, leaves the reset interface free; break is refused (caps 0x02)', async () => {
    const lab = await acmLab();
    try {
      const { device, chip } = createCdcAcm('pico');
      await lab.plug(device);
      const info = lab.info();
      expect(info.fn.association).to.deep.include({ firstInterface: 0, interfaceCount: 2 });
      expect(device.resources().claimedInterfaces).to.deep.equal([0, 1]);
      const port = lab.port();
      await port.open();
      expect(port.capabilities?.break).to.equal(false);
      device.clearTransferLog();
      const err = await port.setSignals({ brk: true }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(UnsupportedFeatureError);
      expect((err as Error).message).to.match(/cannot send a break/);
      expect(controlLines(device.transferLog)).to.deep.equal([]);
      expect(chip.stats.breaks).to.equal(0);
    } finally {
      await lab.close();
    }
  });

  it('no union descriptor: the NO_UNION_NORMAL quirk entry binds interfaces 0 and 1', async () => {
    const lab = await acmLab();
    try {
      const { device } = createCdcAcm('no-union');
      await lab.plug(device);
      expect(lab.info().fn.foundBy).to.equal('quirk');
      expect(lab.info().quirks).to.deep.equal(['NO_UNION_NORMAL']);
      expect(device.resources().claimedInterfaces).to.deep.equal([0, 1]);
      expect(lab.reg.ports()).to.have.length(1);
    } finally {
      await lab.close();
    }
  });

  it('new_id: a bare ID cannot bind a device without class descriptors; the 5-field form borrows NO_UNION_NORMAL', async () => {
    const lab = await acmLab();
    try {
      const { device } = createCdcAcm('no-union', { descriptor: { idVendor: 0x1209, idProduct: 0x7a03 } });
      await lab.plug(device);
      expect(lab.reg.adapters()).to.deep.equal([]);
      const attrs = lab.usb.model.attrs;
      const bare = await attrs.write('bus/usb-serial/drivers/cdc_acm/new_id', '1209 7a03');
      expect(bare.ok).to.equal(true);
      await lab.usb.settled();
      expect(lab.reg.adapters()).to.deep.equal([]);
      expect(lab.probeErrors.map((e) => e.error)).to.satisfy((es: unknown[]) => es.some((e) => e instanceof AcmDescriptorError));
      expect(device.resources().claimedInterfaces).to.deep.equal([]);

      await attrs.write('bus/usb-serial/drivers/cdc_acm/remove_id', '1209 7a03');
      const borrowed = await attrs.write('bus/usb-serial/drivers/cdc_acm/new_id', '1209 7a03 02 22b8 7000');
      expect(borrowed.ok).to.equal(true);
      await lab.usb.settled();
      expect(lab.info().quirks).to.deep.equal(['NO_UNION_NORMAL']);
      expect(device.resources().claimedInterfaces).to.deep.equal([0, 1]);
    } finally {
      await lab.close();
    }
  });

  it('unbinding the driver gives both interfaces back', async () => {
    const lab = await acmLab();
    try {
      const { device } = createCdcAcm('uno');
      await lab.plug(device);
      await lab.port().open();
      await deregisterUsbSerialDrivers(lab.reg);
      expect(device.resources()).to.deep.equal({ plugged: true, opened: false, claimedInterfaces: [], pendingTransfers: 0 });
    } finally {
      await lab.close();
    }
  });
});
