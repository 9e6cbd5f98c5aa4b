// SERIAL_STATE notifications (10 bytes, reassembled from the Uno's 8-byte packets) to modem
// events and line errors; CTS always asserted as Linux reports it. The stock Uno firmware sends
// none (mocks/cdc-acm/boards.ts), so these tests give the Uno's function a firmware that does
// (`serialState: true`); the last test is the stock board.
import { expect } from 'chai';
import { loopbackPlug, nullModem, UartPort } from '../../../mocks/index.ts';
import { createCdcAcm } from '../../../mocks/cdc-acm/index.ts';
import { AcmNotificationAssembler } from '../../../drivers/cdc-acm/index.ts';
import type { PortEvent } from '../../../src/serial/index.ts';
import { acmLab, collect, nextEvent, tick } from './lab.ts';

describe('CDC-ACM notifications reach port.events', () => {
  it('DCD/DSR and ring from SERIAL_STATE; CTS always asserted', async () => {
    const lab = await acmLab();
    const far = new UartPort({ name: 'far' });
    try {
      const { device, chip } = createCdcAcm('uno', { chip: { serialState: true } });
      nullModem(chip.uart, far);
      far.setOutputs({ dtr: false, rts: false });
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      await tick(10);
      expect(await port.getSignals()).to.deep.equal({ cts: true, dsr: false, ri: false, dcd: false });
      let e = nextEvent(port, 'modem', 2000, (x) => x.lines.dsr);
      far.setOutputs({ dtr: true }); // drives our DSR and DCD through the cable
      expect((await e).lines).to.deep.equal({ cts: true, dsr: true, ri: false, dcd: true });
      e = nextEvent(port, 'modem', 2000, (x) => x.lines.ri);
      chip.uart.setInputs({ ri: true });
      expect((await e).lines.ri).to.equal(true);
      far.setOutputs({ rts: true }); // CTS is not in the class: nothing changes
      expect((await port.getSignals()).cts).to.equal(true);
    } finally {
      await lab.close();
    }
  });

  it('a break from the far end becomes a NUL flagged break; a parity error a line error', async () => {
    const lab = await acmLab();
    const far = new UartPort({ name: 'far' });
    try {
      const { device, chip } = createCdcAcm('uno', { chip: { serialState: true } });
      nullModem(chip.uart, far);
      await lab.plug(device);
      const port = lab.port();
      const events: PortEvent[] = [];
      port.events.subscribe((x) => events.push(x));
      await port.open({ baudRate: 115200 });
      far.setSettings({ baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 });
      const brk = nextEvent(port, 'line-error', 2000, (x) => x.error.kind === 'break');
      far.setOutputs({ brk: true });
      await tick(5);
      far.setOutputs({ brk: false });
      const b = await brk;
      expect([...b.data]).to.deep.equal([0]);

      // The far end at the other parity: the function reports the parity error.
      await port.setSettings({ baudRate: 115200, parity: 'even' });
      far.setSettings({ baudRate: 115200, dataBits: 8, parity: 'odd', stopBits: 1 });
      const bad = nextEvent(port, 'line-error', 2000, (x) => x.error.kind === 'framing' || x.error.kind === 'parity');
      await far.write(Uint8Array.of(0x01, 0x7f, 0x03));
      expect((await bad).data.length).to.equal(0);
      expect(port.stats.lineErrors).to.be.at.least(2);
    } finally {
      await lab.close();
    }
  });

  it('the stock Uno reports no lines: DSR/DCD/RI read 0 and CTS 1 whatever the far end raises, as Linux reads it', async () => {
    const lab = await acmLab();
    const far = new UartPort({ name: 'far' });
    try {
      const { device, chip } = createCdcAcm('uno');
      nullModem(chip.uart, far);
      far.setOutputs({ dtr: true, rts: true });
      await lab.plug(device);
      const port = lab.port();
      const events: PortEvent[] = [];
      port.events.subscribe((x) => events.push(x));
      await port.open({ baudRate: 115200 });
      far.setOutputs({ dtr: false, rts: false });
      far.setOutputs({ dtr: true, rts: true });
      far.setSettings({ baudRate: 115200, dataBits: 8, parity: 'odd', stopBits: 1 });
      await far.write(Uint8Array.of(0x01, 0x7f)); // wrong parity: the 16U2 passes the bytes on, reports nothing
      await tick(30);
      expect(await port.getSignals()).to.deep.equal({ cts: true, dsr: false, ri: false, dcd: false });
      expect(chip.stats.notifications).to.equal(0);
      expect(events.filter((x) => x.type === 'modem' || x.type === 'line-error')).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });

  it('reassembles notifications split across packets; other notifications and wLength other than 2 are ignored', () => {
    const a = new AcmNotificationAssembler();
    const note = Uint8Array.of(0xa1, 0x20, 0, 0, 0, 0, 2, 0, 0x03, 0x00);
    expect(a.push(note.subarray(0, 8))).to.deep.equal([]);
    const [n] = a.push(note.subarray(8));
    expect(n?.serialState).to.deep.include({ dcd: true, dsr: true, brk: false });
    const [odd] = a.push(Uint8Array.of(0xa1, 0x20, 0, 0, 0, 0, 3, 0, 1, 2, 3));
    expect(odd?.serialState).to.equal(undefined);
    expect(a.pending).to.equal(0);
  });
});

describe('CDC-ACM data', function () {
  this.timeout(60_000);

  it('10 MiB byte-exact through an Uno with a loopback plug', async () => {
    const lab = await acmLab();
    try {
      const { device, chip } = createCdcAcm('uno', { device: { transferLog: { captureData: false, limit: 1000 } } });
      loopbackPlug(chip.uart);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 2_000_000 });
      const data = new Uint8Array(10 * 1024 * 1024);
      let x = 0x9e3779b9;
      for (let i = 0; i < data.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        data[i] = x & 0xff;
      }
      const got = collect(port, data.length, 60_000);
      expect(await port.write(data)).to.equal(data.length);
      const back = await got;
      let diff = -1;
      for (let i = 0; i < data.length; i++) if (back[i] !== data[i]) { diff = i; break; }
      expect(diff, 'first differing byte').to.equal(-1);
      expect(port.stats.lineErrors).to.equal(0);
      await port.close();
      expect(device.resources().pendingTransfers).to.equal(0);
    } finally {
      await lab.close();
    }
  });
});
