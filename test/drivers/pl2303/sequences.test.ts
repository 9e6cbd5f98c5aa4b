// The start-up, open and close sequences on the wire, byte for byte, per type; line settings
// sent only when they change, read back with GET_LINE (the clone's cache instead).
import { expect } from 'chai';
import { SerialSettingsError } from '../../../src/serial/index.ts';
import { createPl2303, type Pl2303Part } from '../../../mocks/pl2303/index.ts';
import { controlLines, pl2303Lab } from './lab.ts';

// Written out from pl2303.c's pl2303_startup, not from registers.ts.
const STARTUP_HEAD = [
  'c0 01 8484 0000 1',
  '40 01 0404 0000 0',
  'c0 01 8484 0000 1',
  'c0 01 8383 0000 1',
  'c0 01 8484 0000 1',
  '40 01 0404 0001 0',
  'c0 01 8484 0000 1',
  'c0 01 8383 0000 1',
  '40 01 0000 0001 0',
  '40 01 0001 0000 0',
];
const SET_LINE_9600 = '21 20 0000 0000 7 [80 25 00 00 00 00 08]';
const GET_LINE = 'a1 21 0000 0000 7';
const DTR_RTS_ON = '21 22 0003 0000 0';
const DTR_RTS_OFF = '21 22 0000 0000 0';

interface Expect {
  startup: string[];
  open: string[];
}

const EXPECTED: Partial<Record<Pl2303Part, Expect>> = {
  PL2303H: {
    startup: [...STARTUP_HEAD, '40 01 0002 0024 0'],
    // Legacy: clear halts on bulk OUT 0x02 and bulk IN 0x83 (CLEAR_FEATURE ENDPOINT_HALT).
    open: ['02 01 0000 0002 0', '02 01 0000 0083 0', SET_LINE_9600, GET_LINE, 'c0 01 0080 0000 1', '40 01 0000 0001 0', DTR_RTS_ON],
  },
  PL2303HX: {
    startup: [...STARTUP_HEAD, '40 01 0002 0044 0'],
    open: ['40 01 0008 0000 0', '40 01 0009 0000 0', SET_LINE_9600, GET_LINE, 'c0 01 0080 0000 1', '40 01 0000 0001 0', DTR_RTS_ON],
  },
  PL2303HXD: {
    startup: [GET_LINE, ...STARTUP_HEAD, '40 01 0002 0044 0'],
    open: ['40 01 0008 0000 0', '40 01 0009 0000 0', SET_LINE_9600, GET_LINE, 'c0 01 0080 0000 1', '40 01 0000 0001 0', DTR_RTS_ON],
  },
  'PL2303HXD-clone': {
    startup: [`${GET_LINE} STALL`, ...STARTUP_HEAD, '40 01 0002 0044 0'],
    // No GET_LINE read-back: the clone stalls it, the driver uses what it sent.
    open: ['40 01 0008 0000 0', '40 01 0009 0000 0', SET_LINE_9600, 'c0 01 0080 0000 1', '40 01 0000 0001 0', DTR_RTS_ON],
  },
  PL2303TA: {
    startup: ['c0 01 8080 0000 1', ...STARTUP_HEAD, '40 01 0002 0044 0'],
    open: ['40 01 0008 0000 0', '40 01 0009 0000 0', SET_LINE_9600, GET_LINE, 'c0 01 0080 0000 1', '40 01 0000 0001 0', DTR_RTS_ON],
  },
  PL2303TB: {
    startup: ['c0 01 8080 0000 1', ...STARTUP_HEAD, '40 01 0002 0044 0'],
    open: ['40 01 0008 0000 0', '40 01 0009 0000 0', SET_LINE_9600, GET_LINE, 'c0 01 0080 0000 1', '40 01 0000 0001 0', DTR_RTS_ON],
  },
  PL2303GC: {
    startup: [], // HXN: no start-up sequence
    // HXN: reset both pipes (reg 7 = 3), its own read (0x81) and write (0x80), flow register 0x0a.
    open: ['40 80 0007 0003 0', SET_LINE_9600, GET_LINE, 'c0 81 000a 0000 1', '40 80 000a 001c 0', DTR_RTS_ON],
  },
  PL2303GT: {
    startup: ['c0 01 8080 0000 1 STALL'], // the probe that tells it from a TA
    open: ['40 80 0007 0003 0', SET_LINE_9600, GET_LINE, 'c0 81 000a 0000 1', '40 80 000a 001c 0', DTR_RTS_ON],
  },
};

describe('PL2303 sequences on the wire', () => {
  for (const [part, exp] of Object.entries(EXPECTED) as [Pl2303Part, Expect][]) {
    it(`${part}: start-up, open and close`, async () => {
      const lab = await pl2303Lab();
      try {
        const { device, chip } = createPl2303(part);
        await lab.plug(device);
        expect(controlLines(device.transferLog)).to.deep.equal(exp.startup);
        expect(chip.refusals.filter((r) => !(r.wValue === 0x8080 || r.bRequest === 0x21))).to.deep.equal([]);

        device.clearTransferLog();
        const port = lab.port();
        const applied = await port.open();
        expect(applied.actualBaudRate).to.equal(9600);
        expect(controlLines(device.transferLog)).to.deep.equal(exp.open);
        // The interrupt endpoint is read before the bulk endpoint, both before DTR/RTS go up.
        const log = device.transferLog;
        const firstInt = log.findIndex((e) => e.kind === 'interrupt-in');
        const firstBulk = log.findIndex((e) => e.kind === 'bulk-in');
        const dtr = log.findIndex((e) => e.kind === 'control-out' && e.setup?.bRequest === 0x22);
        expect(firstInt).to.be.greaterThan(0);
        expect(firstInt).to.be.lessThan(firstBulk);
        expect(firstBulk).to.be.lessThan(dtr);
        expect(log.filter((e) => e.kind === 'bulk-in' && e.end === undefined)).to.have.length(4); // maxTransfersInFlight
        expect(chip.controlLines).to.deep.equal({ dtr: true, rts: true, brk: false });

        device.clearTransferLog();
        await port.close();
        expect(controlLines(device.transferLog)).to.deep.equal([DTR_RTS_OFF]);
        expect(device.resources().pendingTransfers).to.equal(0);
        expect(device.resources().claimedInterfaces).to.deep.equal([0]);
      } finally {
        await lab.close();
      }
    });
  }

  it('sends SET_LINE only when the 7 bytes change; the flow register only when the mode changes', async () => {
    const lab = await pl2303Lab();
    try {
      const { device, chip } = createPl2303('PL2303HX');
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 115200 });
      device.clearTransferLog();

      await port.setSettings({ baudRate: 115200 });
      expect(controlLines(device.transferLog)).to.deep.equal([]); // unchanged: nothing sent

      await port.setSettings({ baudRate: 57600, parity: 'even', dataBits: 7, stopBits: 2 });
      expect(controlLines(device.transferLog)).to.deep.equal(['21 20 0000 0000 7 [00 e1 00 00 02 02 07]', GET_LINE]);
      expect(chip.lineSettings).to.deep.equal({ baudRate: 57600, dataBits: 7, parity: 'even', stopBits: 2 });

      device.clearTransferLog();
      await port.setSettings({ flowControl: 'rts-cts' });
      expect(controlLines(device.transferLog)).to.deep.equal(['c0 01 0080 0000 1', '40 01 0000 0061 0']);
    } finally {
      await lab.close();
    }
  });

  it('the clone keeps its line settings in the driver (GET_LINE never sent after attach)', async () => {
    const lab = await pl2303Lab();
    try {
      const { device, chip } = createPl2303('PL2303HXD-clone');
      await lab.plug(device);
      const port = lab.port();
      await port.open({ baudRate: 250000 });
      await port.setSettings({ baudRate: 250000 }); // unchanged: skipped
      await port.setSettings({ baudRate: 230400, stopBits: 1.5, dataBits: 5 });
      const lines = controlLines(device.transferLog);
      expect(lines.filter((l) => l.startsWith(GET_LINE))).to.deep.equal([`${GET_LINE} STALL`]); // the attach-time check only
      expect(lines.filter((l) => l.startsWith('21 20'))).to.have.length(2);
      expect(chip.lineSettings).to.deep.equal({ baudRate: 230400, dataBits: 5, parity: 'none', stopBits: 1.5 });
    } finally {
      await lab.close();
    }
  });

  it('refuses settings the chip cannot do before sending anything', async () => {
    const lab = await pl2303Lab();
    try {
      const { device } = createPl2303('PL2303HX');
      await lab.plug(device);
      const port = lab.port();
      device.clearTransferLog();
      const err = await port.open({ baudRate: 12_000_000 }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SerialSettingsError);
      expect((err as SerialSettingsError).setting).to.equal('baudRate');
      expect((err as Error).message).to.match(/HX: cannot set 12000000 baud: no rate within 3% \(maximum 6000000\)/);
      expect(controlLines(device.transferLog)).to.deep.equal([]);
      expect(port.portState).to.equal('closed');
      expect(device.resources().pendingTransfers).to.equal(0);
    } finally {
      await lab.close();
    }
  });
});
