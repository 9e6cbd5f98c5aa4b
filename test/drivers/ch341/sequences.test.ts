// The CH341 probe, open, set_termios, modem-control, break and close sequences on the wire, byte
// for byte. Expected lines are written out from ch341.c (ch341_configure, ch341_detect_quirks,
// ch341_open, ch341_set_termios, ch341_set_handshake, ch341_break_ctl), with the rate words of
// the check table in next-features-facts.md §2 (9600 -> 0xb202, | 0x80 above version 0x27).
import { expect } from 'chai';
import { SerialSettingsError, UnsupportedFeatureError } from '../../../src/serial/index.ts';
import { Ch341EndpointError } from '../../../drivers/ch341/index.ts';
import { createCh34x, type Ch34xPart } from '../../../mocks/ch34x/index.ts';
import { ch341Lab, controlLines } from './lab.ts';

const VERSION = 'c0 5f 0000 0000 2';
const INIT = '40 a1 0000 0000 0';
const MCR_OFF = '40 a4 ffff 0000 0';
const MCR_ON = '40 a4 ff9f 0000 0'; // ~(DTR 0x20 | RTS 0x40)
const LCR_8N1 = '40 9a 2518 00c3 0';
const QUIRK_PROBE = 'c0 95 0005 0000 2';
const STATUS = 'c0 95 0706 0000 2';

interface Expect {
  probe: string[];
  open: string[];
}

const EXPECTED: Record<Ch34xPart, Expect> = {
  CH340: {
    probe: [VERSION, INIT, '40 9a 1312 b282 0', LCR_8N1, MCR_OFF, QUIRK_PROBE],
    open: ['40 9a 1312 b282 0', LCR_8N1, MCR_OFF, STATUS, MCR_ON],
  },
  CH341: {
    probe: [VERSION, INIT, '40 9a 1312 b282 0', LCR_8N1, MCR_OFF, QUIRK_PROBE],
    open: ['40 9a 1312 b282 0', LCR_8N1, MCR_OFF, STATUS, MCR_ON],
  },
  // Version 0x27: no "send now" flag, no LCR write.
  'CH340-v27': {
    probe: [VERSION, INIT, '40 9a 1312 b202 0', MCR_OFF, QUIRK_PROBE],
    open: ['40 9a 1312 b202 0', MCR_OFF, STATUS, MCR_ON],
  },
  // READ_REG 0x0005 stalls: LIMITED_PRESCALER, so 9600 is ps 2 fact 0 div 78 either way.
  'CH340-quirky': {
    probe: [VERSION, INIT, '40 9a 1312 b282 0', LCR_8N1, MCR_OFF, `${QUIRK_PROBE} STALL`],
    open: ['40 9a 1312 b282 0', LCR_8N1, MCR_OFF, STATUS, MCR_ON],
  },
};

describe('CH341 sequences on the wire', () => {
  for (const [part, exp] of Object.entries(EXPECTED) as [Ch34xPart, Expect][]) {
    it(`${part}: probe, open and close`, async () => {
      const lab = await ch341Lab();
      try {
        const { device, chip } = createCh34x(part);
        await lab.plug(device);
        expect(controlLines(device.transferLog)).to.deep.equal(exp.probe);
        const info = lab.info();
        expect(info.version).to.equal(chip.version);
        expect(info.quirks).to.deep.equal({ limitedPrescaler: chip.part.quirky, simulateBreak: chip.part.quirky });

        device.clearTransferLog();
        const port = lab.port();
        const applied = await port.open();
        expect(applied.actualBaudRate).to.be.closeTo(9615.38, 0.01);
        expect(applied.reportedBaudRate).to.equal(9600);
        expect(controlLines(device.transferLog)).to.deep.equal(exp.open);
        const log = device.transferLog;
        const firstInt = log.findIndex((e) => e.kind === 'interrupt-in');
        const firstBulk = log.findIndex((e) => e.kind === 'bulk-in');
        expect(firstInt).to.be.greaterThan(0);
        expect(firstInt).to.be.lessThan(firstBulk);
        expect(chip.controlLines).to.deep.equal({ dtr: true, rts: true, brk: false });
        expect(chip.lineSettings.baudRate).to.be.closeTo(9615.38, 0.01);
        expect(chip.refusals.filter((r) => r.wValue !== 0x0005)).to.deep.equal([]);

        device.clearTransferLog();
        await port.close();
        expect(controlLines(device.transferLog)).to.deep.equal([MCR_OFF]);
        expect(chip.controlLines).to.deep.equal({ dtr: false, rts: false, brk: false });
        expect(device.resources().pendingTransfers).to.equal(0);
      } finally {
        await lab.close();
      }
    });
  }

  it('set_termios sends nothing when nothing changed; otherwise rate, LCR, then MODEM_CTRL', async () => {
    const lab = await ch341Lab();
    try {
      const { device, chip } = createCh34x('CH340');
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      device.clearTransferLog();
      await port.setSettings({ baudRate: 115200 });
      expect(controlLines(device.transferLog)).to.deep.equal([]);

      // 115200: 0xcc03 | 0x80; 7E2: RX|TX 0xc0, even 0x18, 2 stop 0x04, 7 bits 0x02 = 0xde.
      await port.setSettings({ baudRate: 115200, dataBits: 7, parity: 'even', stopBits: 2 });
      expect(controlLines(device.transferLog)).to.deep.equal(['40 9a 1312 cc83 0', '40 9a 2518 00de 0', MCR_ON]);
      expect(chip.lineSettings).to.deep.include({ dataBits: 7, parity: 'even', stopBits: 2 });

      device.clearTransferLog();
      // mark 0x28, space 0x38, odd 0x08; 5 bits = 0; 2400 = 0xd901.
      await port.setSettings({ baudRate: 2400, dataBits: 5, parity: 'mark', stopBits: 1 });
      await port.setSettings({ parity: 'space' });
      await port.setSettings({ parity: 'odd', dataBits: 6 });
      expect(controlLines(device.transferLog)).to.deep.equal([
        '40 9a 1312 d981 0',
        '40 9a 2518 00e8 0',
        MCR_ON,
        '40 9a 1312 d981 0',
        '40 9a 2518 00f8 0',
        MCR_ON,
        '40 9a 1312 d981 0',
        '40 9a 2518 00c9 0',
        MCR_ON,
      ]);
      // 2400 is ps 1, fact 0, divisor 39: 48 MHz / (512 * 39).
      expect(chip.lineSettings).to.deep.equal({ baudRate: 48e6 / (512 * 39), dataBits: 6, parity: 'odd', stopBits: 1 });
    } finally {
      await lab.close();
    }
  });

  it('DTR and RTS go out active-low through MODEM_CTRL', async () => {
    const lab = await ch341Lab();
    try {
      const { device, chip } = createCh34x('CH341');
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      device.clearTransferLog();
      await port.setSignals({ dtr: false });
      expect(chip.controlLines).to.deep.include({ dtr: false, rts: true });
      await port.setSignals({ rts: false });
      await port.setSignals({ dtr: true });
      expect(controlLines(device.transferLog)).to.deep.equal(['40 a4 ffbf 0000 0', '40 a4 ffff 0000 0', '40 a4 ffdf 0000 0']);
      expect(chip.controlLines).to.deep.include({ dtr: true, rts: false });
    } finally {
      await lab.close();
    }
  });

  it('break: READ_REG 0x1805, then reg 0x05 bit 0 and LCR TX-enable cleared or set', async () => {
    const lab = await ch341Lab();
    try {
      const { device, chip } = createCh34x('CH340');
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      device.clearTransferLog();
      await port.setSignals({ brk: true });
      expect(chip.controlLines.brk).to.equal(true);
      await port.setSignals({ brk: false });
      expect(chip.controlLines.brk).to.equal(false);
      expect(controlLines(device.transferLog)).to.deep.equal(['c0 95 1805 0000 2', '40 9a 1805 8300 0', 'c0 95 1805 0000 2', '40 9a 1805 c301 0']);
    } finally {
      await lab.close();
    }
  });

  it('refuses what the chip cannot do before any request, with typed errors', async () => {
    const lab = await ch341Lab();
    try {
      const { device } = createCh34x('CH340');
      await lab.plug(device);
      const port = lab.port();
      device.clearTransferLog();
      for (const [bad, setting] of [
        [{ baudRate: 2_500_000 }, 'baudRate'],
        [{ baudRate: 10_000_000 }, 'baudRate'],
        [{ baudRate: 20 }, 'baudRate'],
        [{ stopBits: 1.5 }, 'stopBits'],
      ] as const) {
        const err = await port.open(bad).catch((e: unknown) => e);
        expect(err, JSON.stringify(bad)).to.be.instanceOf(SerialSettingsError);
        expect((err as SerialSettingsError).setting).to.equal(setting);
      }
      const flow = await port.open({ flowControl: 'rts-cts' }).catch((e: unknown) => e);
      expect(flow).to.be.instanceOf(UnsupportedFeatureError);
      expect((flow as Error).message).to.match(/CH341 \(version 0x31\) has no RTS\/CTS flow control/);
      expect(controlLines(device.transferLog)).to.deep.equal([]);
      expect(port.portState).to.equal('closed');
      expect(device.resources().pendingTransfers).to.equal(0);
    } finally {
      await lab.close();
    }
  });

  it('an interface without the CH341 endpoints is refused at probe with a typed error', async () => {
    const lab = await ch341Lab();
    try {
      const { device } = createCh34x('CH340', {
        descriptor: {
          configurations: [{ interfaces: [{ bInterfaceClass: 0xff, endpoints: [{ bEndpointAddress: 0x82, type: 'bulk', wMaxPacketSize: 32 }] }] }],
        },
      });
      await lab.plug(device);
      expect(lab.reg.adapters()).to.deep.equal([]);
      expect(lab.probeErrors[0]?.error).to.be.instanceOf(Ch341EndpointError);
      expect(controlLines(device.transferLog)).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });
});
