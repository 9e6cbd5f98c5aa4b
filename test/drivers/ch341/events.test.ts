// Modem lines from the interrupt status packets (and READ_REG 0x0706 at open) to port.events and
// getModemLines, and the simulated break of the parts without a break register.
import { expect } from 'chai';
import { nullModem, UartPort } from '../../../mocks/index.ts';
import { createCh34x } from '../../../mocks/ch34x/index.ts';
import { CH341_SIMULATED_BREAK_MS, parseCh341InterruptStatus } from '../../../drivers/ch341/index.ts';
import { ch341Lab, controlLines, nextEvent } from './lab.ts';

describe('CH341 modem lines and break', () => {
  it('the lines at open come from READ_REG 0x0706; changes arrive as modem events', async () => {
    const lab = await ch341Lab();
    try {
      const { device, chip } = createCh34x('CH340');
      chip.uart.setInputs({ cts: true, dcd: true });
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      expect(await port.getSignals()).to.deep.equal({ cts: true, dsr: false, ri: false, dcd: true });

      let e = nextEvent(port, 'modem');
      chip.uart.setInputs({ dsr: true, cts: false });
      expect((await e).lines).to.deep.include({ cts: false, dsr: true, dcd: true, ri: false });
      e = nextEvent(port, 'modem');
      chip.uart.setInputs({ ri: true });
      expect((await e).lines).to.deep.include({ ri: true });
      expect(await port.getSignals()).to.deep.equal({ cts: false, dsr: true, ri: true, dcd: true });
      expect(chip.stats.interruptPackets).to.be.at.least(2);
    } finally {
      await lab.close();
    }
  });

  it('a null-modem cable: our DTR/RTS show as the far end DSR/DCD/CTS and back', async () => {
    const lab = await ch341Lab();
    const far = new UartPort({ name: 'far' });
    try {
      const { device, chip } = createCh34x('CH341');
      nullModem(chip.uart, far);
      far.setOutputs({ dtr: false, rts: false });
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      expect(await port.getSignals()).to.deep.equal({ cts: false, dsr: false, ri: false, dcd: false });
      expect(far.inputs).to.deep.include({ cts: true, dsr: true, dcd: true });
      const e = nextEvent(port, 'modem', 2000, (x) => x.lines.cts && x.lines.dsr);
      far.setOutputs({ dtr: true, rts: true });
      expect((await e).lines).to.deep.equal({ cts: true, dsr: true, ri: false, dcd: true });
      await port.setSignals({ rts: false });
      expect(far.inputs.cts).to.equal(false);
    } finally {
      await lab.close();
    }
  });

  it('short interrupt packets are ignored (fewer than 4 bytes)', async () => {
    expect(parseCh341InterruptStatus(Uint8Array.of(0x08, 0x00, 0xf0))).to.equal(undefined);
    expect(parseCh341InterruptStatus(Uint8Array.of(0x08, 0x04, 0xfe, 0xee))).to.deep.equal({ cts: true, dsr: false, ri: false, dcd: false, multipleChanges: true });
  });

  it('simulated break (no register 0x05): 46 baud 8N1, one NUL, the old rate and LCR restored after 11 bit times', async function () {
    this.timeout(5000);
    const lab = await ch341Lab();
    const far = new UartPort({ name: 'far' });
    try {
      const { device, chip } = createCh34x('CH340-quirky');
      nullModem(chip.uart, far);
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200, parity: 'odd' });
      // 46 baud: ps 0, fact 0, divisor 255 (LIMITED_PRESCALER forces fact 0 anyway).
      far.setSettings({ baudRate: 48e6 / (4096 * 255), parity: 'none', dataBits: 8, stopBits: 1 });
      device.clearTransferLog();
      const t0 = performance.now();
      await port.setSignals({ brk: true });
      expect(chip.lineSettings).to.deep.include({ parity: 'none', dataBits: 8 });
      expect(chip.lineSettings.baudRate).to.be.closeTo(45.955, 0.001);
      expect([...far.read().data]).to.deep.equal([0]);
      await port.setSignals({ brk: false });
      expect(performance.now() - t0).to.be.at.least(CH341_SIMULATED_BREAK_MS - 5);
      expect(controlLines(device.transferLog)).to.deep.equal(['40 9a 1312 0180 0', '40 9a 2518 00c3 0', '40 9a 1312 cc83 0', '40 9a 2518 00cb 0']);
      expect(device.transferLog.filter((x) => x.kind === 'bulk-out').map((x) => [...(x.data ?? [])])).to.deep.equal([[0]]);
      expect(chip.lineSettings).to.deep.include({ parity: 'odd', dataBits: 8 });
      expect(chip.lineSettings.baudRate).to.be.closeTo(48e6 / (16 * 26), 0.01);
    } finally {
      await lab.close();
    }
  });
});
