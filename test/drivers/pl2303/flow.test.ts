// Flow control per type: the register, mask and values on the wire (read-modify-write, with the
// right read address), what the emulated chip then does on the line, and the clear refusals.
import { expect } from 'chai';
import { SerialSettingsError } from '../../../src/serial/index.ts';
import { nullModem, UartPort } from '../../../mocks/index.ts';
import { createPl2303, type Pl2303Part } from '../../../mocks/pl2303/index.ts';
import { collect, controlLines, pl2303Lab } from './lab.ts';
import { sleep } from '../../helpers/async.ts';

interface FlowCase {
  part: Pl2303Part;
  /** [read, write] lines per mode; null where refused. */
  none: string[];
  rtsCts: string[];
  xonXoff: string[] | null;
}

const CASES: FlowCase[] = [
  // Register 0, mask 0xf0, read at 0x80; reg 0 holds 0x01 from start-up, which must survive.
  { part: 'PL2303H', none: ['c0 01 0080 0000 1', '40 01 0000 0001 0'], rtsCts: ['c0 01 0080 0000 1', '40 01 0000 0041 0'], xonXoff: null },
  { part: 'PL2303HX', none: ['c0 01 0080 0000 1', '40 01 0000 0001 0'], rtsCts: ['c0 01 0080 0000 1', '40 01 0000 0061 0'], xonXoff: ['c0 01 0080 0000 1', '40 01 0000 00c1 0'] },
  { part: 'PL2303HXD', none: ['c0 01 0080 0000 1', '40 01 0000 0001 0'], rtsCts: ['c0 01 0080 0000 1', '40 01 0000 0061 0'], xonXoff: ['c0 01 0080 0000 1', '40 01 0000 00c1 0'] },
  { part: 'PL2303TA', none: ['c0 01 0080 0000 1', '40 01 0000 0001 0'], rtsCts: ['c0 01 0080 0000 1', '40 01 0000 0061 0'], xonXoff: ['c0 01 0080 0000 1', '40 01 0000 00c1 0'] },
  { part: 'PL2303TB', none: ['c0 01 0080 0000 1', '40 01 0000 0001 0'], rtsCts: ['c0 01 0080 0000 1', '40 01 0000 0061 0'], xonXoff: ['c0 01 0080 0000 1', '40 01 0000 00c1 0'] },
  // HXN: register 0x0a, mask 0x1c, read at 0x0a itself with its own request; bits 0-1 and 5-7 kept.
  { part: 'PL2303GC', none: ['c0 81 000a 0000 1', '40 80 000a 00fe 0'], rtsCts: ['c0 81 000a 0000 1', '40 80 000a 00fa 0'], xonXoff: ['c0 81 000a 0000 1', '40 80 000a 00ee 0'] },
];

describe('PL2303 flow control per type', () => {
  for (const c of CASES) {
    it(`${c.part}: register writes for none / rts-cts / xon-xoff, and the chip honours them`, async () => {
      const lab = await pl2303Lab();
      try {
        const { device, chip } = createPl2303(c.part);
        await lab.plug(device);
        if (c.part === 'PL2303GC') chip.registers.set(0x0a, 0xe2 | 0x1c); // bits outside the mask must survive
        const port = lab.port();
        const far = new UartPort({ name: 'far', rxFifoSize: 4096 });
        nullModem(chip.uart, far);

        device.clearTransferLog();
        await port.open({ flowControl: 'rts-cts' });
        expect(controlLines(device.transferLog).slice(-3, -1)).to.deep.equal(c.rtsCts);
        expect(chip.flowControl).to.equal('rts-cts');

        // The far end holds RTS low: our CTS is low, the chip keeps the bytes.
        const msg = Uint8Array.from({ length: 100 }, (_, i) => i);
        let done = false;
        const write = port.write(msg).then(() => (done = true));
        await sleep(20);
        expect(far.rxAvailable).to.equal(0);
        expect(chip.txHeld).to.equal(true);
        expect(done).to.equal(false);
        far.setOutputs({ rts: true });
        await write;
        await sleep(5);
        expect([...far.read().data]).to.deep.equal([...msg]);

        device.clearTransferLog();
        await port.setSettings({ flowControl: 'none' });
        expect(controlLines(device.transferLog)).to.deep.equal(c.none);
        far.setOutputs({ rts: false });
        await port.write(msg); // CTS low no longer matters
        await sleep(5);
        expect(far.read().data.length).to.equal(100);

        device.clearTransferLog();
        const xo = await port.setSettings({ flowControl: 'xon-xoff' }).catch((e: unknown) => e);
        if (c.xonXoff === null) {
          expect(xo).to.be.instanceOf(SerialSettingsError);
          expect((xo as SerialSettingsError).setting).to.equal('flowControl');
          expect((xo as Error).message).to.match(/no automatic XON\/XOFF/);
          expect(controlLines(device.transferLog)).to.deep.equal([]);
          return;
        }
        if (xo instanceof Error) throw xo;
        expect(controlLines(device.transferLog)).to.deep.equal(c.xonXoff);
        expect(chip.flowControl).to.equal('xon-xoff');
        // XOFF from the far end stops the chip's transmitter; XON restarts it.
        const xoff = collect(port, 1);
        await far.write([0x13]);
        expect([...(await xoff)]).to.deep.equal([0x13]);
        let sent = false;
        const held = port.write(msg).then(() => (sent = true));
        await sleep(20);
        expect(chip.txHeld).to.equal(true);
        expect(sent).to.equal(false);
        const xon = collect(port, 1);
        await far.write([0x11]);
        await xon;
        await held;
        await sleep(5);
        expect(far.read().data.length).to.equal(100);
      } finally {
        await lab.close();
      }
    });
  }

  it('refuses DTR/DSR flow control and XON/XOFF with other characters, clearly and before sending', async () => {
    const lab = await pl2303Lab();
    try {
      const { device } = createPl2303('PL2303HX');
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      device.clearTransferLog();
      const dtr = await port.setSettings({ flowControl: 'dtr-dsr' }).catch((e: unknown) => e);
      expect(dtr).to.be.instanceOf(SerialSettingsError);
      expect((dtr as SerialSettingsError).setting).to.equal('flowControl');
      expect((dtr as Error).message).to.match(/no DTR\/DSR flow control/);
      const chars = await port.setSettings({ flowControl: 'xon-xoff', xon: 0x12 }).catch((e: unknown) => e);
      expect(chars).to.be.instanceOf(SerialSettingsError);
      expect((chars as SerialSettingsError).setting).to.equal('xon');
      expect((chars as Error).message).to.match(/only with XON 0x11 and XOFF 0x13/);
      expect(controlLines(device.transferLog)).to.deep.equal([]);
      expect(port.settings?.flowControl).to.equal('none');
    } finally {
      await lab.close();
    }
  });

  it('RTS/CTS on the receive side: the chip drops RTS while its FIFO is nearly full', async () => {
    const lab = await pl2303Lab();
    try {
      const { device, chip } = createPl2303('PL2303HX');
      await lab.plug(device);
      const far = new UartPort({ name: 'far' });
      nullModem(chip.uart, far);
      const port = lab.port();
      await port.open({ flowControl: 'rts-cts' });
      expect(far.inputs.cts).to.equal(true);
      port.pauseReading(); // the host stops reading: the reads in flight fill up, then the FIFO
      const n = 4 * 4096 + 2 * chip.uart.rxFifoSize;
      const got = collect(port, n);
      void far.write(new Uint8Array(n)); // unpaced: waits for room, nothing lost
      await sleep(20);
      expect(far.inputs.cts).to.equal(false); // our RTS, their CTS
      port.resumeReading();
      await got;
      await sleep(5);
      expect(far.inputs.cts).to.equal(true);
    } finally {
      await lab.close();
    }
  });
});
