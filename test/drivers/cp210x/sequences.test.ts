// The attach, open, settings, lines, break, purge and close sequences on the wire, byte for byte.
// The expected lines are written out from Linux's cp210x.c (cp210x_attach/cp2102_determine_quirks,
// cp210x_open, cp210x_set_termios, cp210x_set_flow_control, cp210x_tiocmset_port, cp210x_close),
// not from the driver's encoders.
import { expect } from 'chai';
import { SerialSettingsError, UnsupportedFeatureError } from '../../../src/serial/index.ts';
import { MockUsbDevice } from '../../../mocks/index.ts';
import { createCp210x, Cp210xChip, cp210xDeviceSpec, cp210xPartInfo, type Cp210xPart } from '../../../mocks/cp210x/index.ts';
import { controlLines, cp210xLab } from './lab.ts';

const PARTNUM = (i = 0) => `c0 ff 370b 000${i} 1`;
const FLOW_OFF = '00 00 00 00 00 00 00 00 80 00 00 00 80 00 00 00'; // power-on limits kept
const OPEN_9600 = [
  '41 00 0001 0000 0', // IFC_ENABLE(1)
  '41 1e 0000 0000 4 [80 25 00 00]', // SET_BAUDRATE 9600
  '41 03 0800 0000 0', // SET_LINE_CTL 8N1
  'c1 14 0000 0000 16', // GET_FLOW
  `41 13 0000 0000 16 [${FLOW_OFF}]`, // SET_FLOW: DTR and RTS inactive (not raised yet), no handshake
  '41 15 00ec 0000 0', // EMBED_EVENTS escape 0xEC
  '41 07 0303 0000 0', // SET_MHS: DTR and RTS on, both written (dtr_rts(1))
];
const CLOSE = ['41 07 0300 0000 0', '41 12 000f 0000 0', '41 00 0000 0000 0'];

const ATTACH: Record<string, { part: Cp210xPart; intf: number; lines: string[] }> = {
  'CP2102 (the wLength 2 counterfeit test)': { part: 'CP2102', intf: 0, lines: [PARTNUM(), 'c0 ff 370b 0000 2'] },
  CP2104: { part: 'CP2104', intf: 0, lines: [PARTNUM()] },
  'CP2105 interface 1 (GET_FW_VER)': { part: 'CP2105', intf: 1, lines: [PARTNUM(1), 'c0 ff 000e 0001 3'] },
  'CP2108 interface 3': { part: 'CP2108', intf: 3, lines: [PARTNUM(3), 'c0 ff 000e 0003 3'] },
  'CP2102N (GET_FW_VER_2N)': { part: 'CP2102N', intf: 0, lines: [PARTNUM(), 'c0 ff 0010 0000 3'] },
};

describe('CP210x sequences on the wire', () => {
  for (const [name, exp] of Object.entries(ATTACH)) {
    it(`attach: ${name}`, async () => {
      const lab = await cp210xLab();
      try {
        const { device, chip } = createCp210x(exp.part);
        await lab.plug(device);
        const mine = controlLines(device.transferLog).filter((l) => l.split(' ')[3] === `000${exp.intf}` || l === 'c0 ff 370b 0000 2');
        expect(mine).to.deep.equal(exp.lines.filter((l) => exp.intf === 0 || l !== 'c0 ff 370b 0000 2'));
        expect(chip.refusals).to.deep.equal([]);
        expect(lab.reg.ports()).to.have.length(chip.ports.length);
        const info = lab.info(exp.intf);
        expect(info.interfaceNumber).to.equal(exp.intf);
        expect(info.noEventMode).to.equal(false);
      } finally {
        await lab.close();
      }
    });
  }

  it('CP2102: open at 9600 8N1 and close, byte for byte; reads start before DTR/RTS go up', async () => {
    const lab = await cp210xLab();
    try {
      const { device, chip } = createCp210x('CP2102');
      await lab.plug(device);
      device.clearTransferLog();
      const port = lab.port();
      const applied = await port.open();
      expect(applied).to.deep.include({ actualBaudRate: 9600, reportedBaudRate: 9600 });
      expect(controlLines(device.transferLog)).to.deep.equal(OPEN_9600);
      const log = device.transferLog;
      const firstBulk = log.findIndex((e) => e.kind === 'bulk-in');
      const mhs = log.findIndex((e) => e.kind === 'control-out' && e.setup?.bRequest === 0x07);
      expect(firstBulk).to.be.greaterThan(0);
      expect(firstBulk).to.be.lessThan(mhs);
      const p = chip.port(0);
      expect(p.enabled).to.equal(true);
      expect(p.escape).to.equal(0xec);
      expect(p.uart.outputs).to.deep.include({ dtr: true, rts: true });

      device.clearTransferLog();
      await port.close();
      expect(controlLines(device.transferLog)).to.deep.equal(CLOSE);
      expect(p.enabled).to.equal(false);
      expect(p.escape).to.equal(0);
      expect(p.purges).to.deep.equal({ tx: 1, rx: 1 });
      expect(device.resources().pendingTransfers).to.equal(0);
      expect(chip.refusals).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });

  it('settings: only what changed is sent; line control codes as AN571 lays them out', async () => {
    const lab = await cp210xLab();
    try {
      const { device, chip } = createCp210x('CP2104');
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      device.clearTransferLog();
      await port.setSettings({ baudRate: 115200 });
      expect(controlLines(device.transferLog)).to.deep.equal([]);

      await port.setSettings({ baudRate: 57600 });
      // CP2104 sends the divider's actual rate: 48 MHz / (2 * round(24e6 / 57600) = 417) = 57553.
      expect(controlLines(device.transferLog)).to.deep.equal(['41 1e 0000 0000 4 [d1 e0 00 00]']);
      device.clearTransferLog();
      await port.setSettings({ dataBits: 7, parity: 'even', stopBits: 2 });
      expect(controlLines(device.transferLog)).to.deep.equal(['41 03 0722 0000 0']);
      device.clearTransferLog();
      await port.setSettings({ dataBits: 5, parity: 'space', stopBits: 1.5 });
      expect(controlLines(device.transferLog)).to.deep.equal(['41 03 0541 0000 0']);
      device.clearTransferLog();
      await port.setSettings({ dataBits: 6, parity: 'mark', stopBits: 1 });
      expect(controlLines(device.transferLog)).to.deep.equal(['41 03 0630 0000 0']);
      device.clearTransferLog();
      await port.setSettings({ dataBits: 8, parity: 'odd' });
      expect(controlLines(device.transferLog)).to.deep.equal(['41 03 0810 0000 0']);
      expect(chip.port(0).lineSettings).to.deep.include({ dataBits: 8, parity: 'odd', stopBits: 1 });
      expect(chip.refusals).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });

  it('RTS/CTS: GET_FLOW + SET_FLOW with CTS handshake and RTS flow control; DTR/RTS then go through SET_FLOW, DTR alone through SET_MHS', async () => {
    const lab = await cp210xLab();
    try {
      const { device, chip } = createCp210x('CP2102N');
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      device.clearTransferLog();
      await port.setSettings({ flowControl: 'rts-cts' });
      // ulControlHandshake = DTR active (1) | CTS handshake (8); ulFlowReplace = RTS flow control (0x80).
      expect(controlLines(device.transferLog)).to.deep.equal(['c1 14 0000 0000 16', '41 13 0000 0000 16 [09 00 00 00 80 00 00 00 80 00 00 00 80 00 00 00]']);
      expect(chip.port(0).flow).to.deep.include({ ctsHandshake: true, rtsMode: 2, dtrMode: 1 });

      device.clearTransferLog();
      await port.setSignals({ rts: false });
      expect(controlLines(device.transferLog)).to.deep.equal(['c1 14 0000 0000 16', '41 13 0000 0000 16 [09 00 00 00 00 00 00 00 80 00 00 00 80 00 00 00]']);
      device.clearTransferLog();
      await port.setSignals({ dtr: false });
      expect(controlLines(device.transferLog)).to.deep.equal(['41 07 0100 0000 0']);
      device.clearTransferLog();
      await port.setSignals({ dtr: true, rts: true });
      expect(controlLines(device.transferLog)).to.deep.equal(['c1 14 0000 0000 16', '41 13 0000 0000 16 [09 00 00 00 80 00 00 00 80 00 00 00 80 00 00 00]']);

      device.clearTransferLog();
      await port.setSettings({ flowControl: 'none' });
      expect(controlLines(device.transferLog)).to.deep.equal(['c1 14 0000 0000 16', '41 13 0000 0000 16 [01 00 00 00 40 00 00 00 80 00 00 00 80 00 00 00]']);
      device.clearTransferLog();
      await port.setSignals({ rts: false });
      expect(controlLines(device.transferLog)).to.deep.equal(['41 07 0200 0000 0']);
      expect(chip.refusals).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });

  it('XON/XOFF: SET_CHARS first, then auto-transmit and auto-receive with both limits 128', async () => {
    const lab = await cp210xLab();
    try {
      const { device, chip } = createCp210x('CP2104');
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      device.clearTransferLog();
      await port.setSettings({ flowControl: 'xon-xoff', xon: 0x01, xoff: 0x02 });
      expect(controlLines(device.transferLog)).to.deep.equal([
        '41 19 0000 0000 6 [00 00 00 00 01 02]',
        'c1 14 0000 0000 16',
        '41 13 0000 0000 16 [01 00 00 00 43 00 00 00 80 00 00 00 80 00 00 00]',
      ]);
      expect(chip.port(0).chars[4]).to.equal(0x01);
      expect(chip.port(0).flow).to.deep.include({ autoTransmit: true, autoReceive: true, xonLimit: 128, xoffLimit: 128 });
      device.clearTransferLog();
      await port.setSettings({ xon: 0x11, xoff: 0x13 }); // characters changed: the flow sequence again
      expect(controlLines(device.transferLog)[0]).to.equal('41 19 0000 0000 6 [00 00 00 00 11 13]');
    } finally {
      await lab.close();
    }
  });

  it('break, purge, modem status and drain requests', async () => {
    const lab = await cp210xLab();
    try {
      const { device, chip } = createCp210x('CP2102');
      await lab.plug(device);
      const port = lab.port();
      await port.open();
      device.clearTransferLog();
      await port.setSignals({ brk: true });
      expect(chip.port(0).uart.outputs.brk).to.equal(true);
      await port.setSignals({ brk: false });
      await port.flush({ rx: true });
      await port.flush({ tx: true });
      chip.uart(0).setInputs({ cts: true, dcd: true });
      expect(await port.getSignals()).to.deep.equal({ cts: true, dsr: false, ri: false, dcd: true });
      await port.drain();
      expect(controlLines(device.transferLog)).to.deep.equal([
        '41 05 0001 0000 0',
        '41 05 0000 0000 0',
        '41 12 000a 0000 0',
        '41 12 0005 0000 0',
        'c1 08 0000 0000 1',
        'c1 10 0000 0000 19',
      ]);
      // A break still on at close is released before PURGE.
      await port.setSignals({ brk: true });
      device.clearTransferLog();
      await port.close();
      expect(controlLines(device.transferLog)).to.deep.equal([CLOSE[0], '41 05 0000 0000 0', CLOSE[1], CLOSE[2]]);
      expect(chip.port(0).uart.outputs.brk).to.equal(false);
    } finally {
      await lab.close();
    }
  });

  it('refuses what the part cannot do before sending anything', async () => {
    const lab = await cp210xLab();
    try {
      const { device } = createCp210x('CP2102');
      await lab.plug(device);
      const port = lab.port();
      device.clearTransferLog();
      let err = await port.open({ baudRate: 2_000_000 }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SerialSettingsError);
      expect((err as Error).message).to.match(/CP2102 on interface 0 runs 921600 baud when asked for 2000000/);
      err = await port.open({ flowControl: 'dtr-dsr' }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(UnsupportedFeatureError);
      expect(controlLines(device.transferLog)).to.deep.equal([]);
      expect(port.portState).to.equal('closed');
      expect(device.resources().pendingTransfers).to.equal(0);
    } finally {
      await lab.close();
    }
  });

  it('CP2101: 8 data bits, 1 stop bit, no mark/space only', async () => {
    const lab = await cp210xLab();
    try {
      const { device } = createCp210x('CP2101');
      await lab.plug(device);
      const port = lab.port();
      expect(await port.open({ dataBits: 7 }).catch((e: unknown) => e)).to.be.instanceOf(UnsupportedFeatureError);
      const err = await port.open({ stopBits: 2 }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SerialSettingsError);
      expect((err as SerialSettingsError).setting).to.equal('stopBits');
      expect(await port.open({ parity: 'mark' }).catch((e: unknown) => (e as SerialSettingsError).setting)).to.equal('parity');
      expect((await port.open({ parity: 'even' })).parity).to.equal('even');
    } finally {
      await lab.close();
    }
  });

  it('CP2105: the SCI (interface 1) cannot send a break; the ECI can', async () => {
    const lab = await cp210xLab();
    try {
      const { device } = createCp210x('CP2105');
      await lab.plug(device);
      const eci = lab.port(0);
      const sci = lab.port(1);
      await eci.open();
      await sci.open();
      expect(sci.capabilities?.break).to.equal(false);
      const err = await sci.setSignals({ brk: true }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(UnsupportedFeatureError);
      expect((err as Error).message).to.match(/CP2105 SCI on interface 1 cannot send a break/);
      await eci.setSignals({ brk: true });
      await eci.setSignals({ brk: false });
      // The SCI's rates: AN205 table from 2400 up.
      expect((await sci.setSettings({ baudRate: 1200 }).catch((e: unknown) => e))).to.be.instanceOf(SerialSettingsError);
    } finally {
      await lab.close();
    }
  });

  it('CP2102N with firmware 1.0.4 (erratum E104): no flow control', async () => {
    const lab = await cp210xLab();
    try {
      const chip = new Cp210xChip({ ...cp210xPartInfo('CP2102N'), firmware: [1, 0, 4] });
      const device = new MockUsbDevice(cp210xDeviceSpec('CP2102N'), chip);
      await lab.plug(device);
      expect(lab.info().firmware).to.deep.equal([1, 0, 4]);
      expect(lab.info().noFlowControl).to.equal(true);
      const port = lab.port();
      const err = await port.open({ flowControl: 'rts-cts' }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(UnsupportedFeatureError);
      expect((err as Error).message).to.match(/CP2102N QFN28 on interface 0 has no RTS\/CTS flow control; use 'none'/);
    } finally {
      await lab.close();
    }
  });

  it('a counterfeit CP2102 (GET_PARTNUM answers 1 of 2 bytes): no EMBED_EVENTS, raw data', async () => {
    const lab = await cp210xLab();
    try {
      const { device, chip } = createCp210x('CP2102', { chip: { counterfeit: true } });
      await lab.plug(device);
      expect(lab.info().noEventMode).to.equal(true);
      device.clearTransferLog();
      await lab.port().open();
      expect(controlLines(device.transferLog)).to.deep.equal(OPEN_9600.filter((l) => !l.startsWith('41 15')));
      expect(chip.refusals).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });
});
