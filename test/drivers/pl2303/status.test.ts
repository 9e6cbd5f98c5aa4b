// What the PL2303 reports without being asked: its input lines right after open (also after a
// rebind, when no line has changed since, and after a reopen, when they changed while closed), an overrun when a burst overflows the FIFO and stops,
// and the baud rate Linux's pl2303 reports back.
import { expect } from 'chai';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, type PortEvent } from '../../../src/serial/index.ts';
import { nullModem, UartPort } from '../../../mocks/index.ts';
import { createPl2303 } from '../../../mocks/pl2303/index.ts';
import { createPl2303Driver, pl2303AdapterOf, PL2303_ID_TABLE } from '../../../drivers/pl2303/index.ts';
import { pl2303Lab } from './lab.ts';

describe('PL2303 status after open, overrun bursts, reported baud rate', () => {
  it('a port opened after a rebind reports the far end’s raised lines, not zeros', async () => {
    const lab = await pl2303Lab();
    try {
      const { device, chip } = createPl2303('PL2303HX');
      const far = new UartPort({ name: 'far' });
      nullModem(chip.uart, far);
      far.setOutputs({ dtr: true, rts: true });
      await lab.plug(device);
      let port = lab.port();
      await port.open();
      expect(await port.getSignals()).to.deep.include({ cts: true, dsr: true, dcd: true });
      await port.close();
      // Rebind: a new port object, and no line changes since the last notification.
      await deregisterUsbSerialDrivers(lab.reg);
      const again = await registerUsbSerialDrivers([createPl2303Driver()], 'pl2303', PL2303_ID_TABLE, { usbBus: lab.usb.bus });
      await lab.usb.settled();
      port = again.ports()[0]!;
      await port.open();
      expect(await port.getSignals()).to.deep.include({ cts: true, dsr: true, dcd: true });
      expect(pl2303AdapterOf(port)?.settings?.baudRate).to.equal(9600);
      await port.close();
      await deregisterUsbSerialDrivers(again);
    } finally {
      await lab.close();
    }
  });

  it('a port reopened after the far end changed its lines while it was closed reports the present lines', async () => {
    const lab = await pl2303Lab();
    try {
      const { device, chip } = createPl2303('PL2303HX');
      const far = new UartPort({ name: 'far' });
      nullModem(chip.uart, far);
      far.setOutputs({ dtr: false, rts: true });
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      expect(await port.getSignals()).to.deep.include({ cts: true, dsr: false, dcd: false });
      await port.close();
      // Nobody polls the interrupt endpoint now; the far end changes its lines three times.
      far.setOutputs({ dtr: true, rts: false });
      far.setOutputs({ dtr: false, rts: true });
      far.setOutputs({ dtr: true, rts: false });
      expect(chip.pendingNotifications).to.equal(1);
      await port.open();
      expect(await port.getSignals()).to.deep.include({ cts: false, dsr: true, dcd: true });
    } finally {
      await lab.close();
    }
  });

  it('a burst that overflows the FIFO and stops is reported as an overrun', async () => {
    const lab = await pl2303Lab();
    try {
      const { device, chip } = createPl2303('PL2303HX');
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      const events: PortEvent[] = [];
      port.events.subscribe((e) => events.push(e));
      port.pauseReading();
      await new Promise((r) => setTimeout(r, 50));
      const size = chip.uart.rxFifoSize;
      chip.uart.injectRx(new Uint8Array(size + 10).fill(0x55)); // 10 bytes lost, then silence
      await new Promise((r) => setTimeout(r, 50));
      port.resumeReading();
      const deadline = Date.now() + 3000;
      while (!events.some((e) => e.type === 'line-error') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const errs = events.filter((e): e is Extract<PortEvent, { type: 'line-error' }> => e.type === 'line-error');
      expect(errs.map((e) => e.error.kind)).to.deep.equal(['overrun']);
    } finally {
      await lab.close();
    }
  });

  it('reports the rate its divisor encodes, as pl2303_encode_baud_rate does', async () => {
    const lab = await pl2303Lab();
    try {
      const { device } = createPl2303('PL2303HX');
      await lab.plug(device);
      const direct = await lab.port().open({ baudRate: 57600 });
      expect(direct.reportedBaudRate).to.equal(57600);
      const divisor = await lab.port().setSettings({ baudRate: 250_000 });
      expect(divisor.reportedBaudRate).to.equal(Math.floor(Math.floor(384_000_000 / 384) / 4)); // mantissa 384, exponent 1
      expect(divisor.reportedBaudRate).to.equal(Math.floor(divisor.actualBaudRate));
    } finally {
      await lab.close();
    }
  });
});
