// The interrupt endpoint to port.events: modem-line changes, line errors applied to the next
// bulk data as typed LineErrors; and the output side: DTR/RTS, break, purge per type.
import { expect } from 'chai';
import { SerialSettingsError, type LineError, type PortEvent } from '../../../src/serial/index.ts';
import { nullModem, UartPort } from '../../../mocks/index.ts';
import { createPl2303, type Pl2303Part } from '../../../mocks/pl2303/index.ts';
import { collect, controlLines, nextEvent, pl2303Lab } from './lab.ts';
import { sleep } from '../../helpers/async.ts';

async function openWithFarEnd(part: Pl2303Part, options: Parameters<typeof createPl2303>[1] = {}) {
  const lab = await pl2303Lab();
  const emu = createPl2303(part, options);
  const far = new UartPort({ name: 'far', rxFifoSize: 4096 });
  nullModem(emu.chip.uart, far);
  await lab.plug(emu.device);
  const port = lab.port();
  const events: PortEvent[] = [];
  port.events.subscribe((e) => events.push(e));
  await port.open();
  await sleep(5); // the first notification (the lines as they are) arrives
  return { lab, ...emu, far, port, events };
}

describe('PL2303 modem lines and line errors reach port.events', () => {
  it('CTS, DSR, DCD and RI changes become modem events with what changed', async () => {
    const { lab, chip, far, port } = await openWithFarEnd('PL2303HX');
    try {
      expect(await port.getSignals()).to.deep.equal({ cts: false, dsr: false, ri: false, dcd: false });
      let e = nextEvent(port, 'modem');
      far.setOutputs({ rts: true });
      expect(await e).to.deep.include({ lines: { cts: true, dsr: false, ri: false, dcd: false }, changed: ['cts'] });
      e = nextEvent(port, 'modem');
      far.setOutputs({ dtr: true }); // DTR drives DSR and DCD through the null-modem cable
      expect((await e).changed).to.have.members(['dsr', 'dcd']);
      e = nextEvent(port, 'modem');
      chip.uart.setInputs({ ri: true });
      expect(await e).to.deep.include({ lines: { cts: true, dsr: true, ri: true, dcd: true }, changed: ['ri'] });
      expect(await port.getSignals()).to.deep.equal({ cts: true, dsr: true, ri: true, dcd: true });
      e = nextEvent(port, 'modem');
      far.setOutputs({ rts: false, dtr: false });
      chip.uart.setInputs({ ri: false });
      await e;
      await sleep(5);
      expect(await port.getSignals()).to.deep.equal({ cts: false, dsr: false, ri: false, dcd: false });
    } finally {
      await lab.close();
    }
  });

  it('an error byte starts its own data event, flagged at position 0; the bytes before it are clean', async () => {
    const { lab, chip, port, events } = await openWithFarEnd('PL2303HX');
    try {
      const cases: [LineError['kind'], number][] = [
        ['framing', 0x10],
        ['parity', 0x20],
        ['break', 0x04],
        ['overrun', 0x40],
      ];
      for (const [kind] of cases) {
        events.length = 0;
        const got = collect(port, 6);
        chip.uart.injectRx([0x41, 0x42, 0x43, 0x44, 0x45, 0x46], [{ offset: 3, kind }]);
        expect([...(await got)]).to.deep.equal([0x41, 0x42, 0x43, 0x44, 0x45, 0x46]);
        const data = events.filter((e): e is Extract<PortEvent, { type: 'data' }> => e.type === 'data');
        expect(data.map((d) => [...d.data])).to.deep.equal([[0x41, 0x42, 0x43], [0x44, 0x45, 0x46]]);
        expect(data[0].errors).to.deep.equal([]);
        expect(data[1].errors).to.deep.equal([{ kind, position: 0 }]);
        const le = events.filter((e) => e.type === 'line-error');
        expect(le).to.have.length(1);
        expect((le[0] as Extract<PortEvent, { type: 'line-error' }>).error).to.deep.equal({ kind, position: 0 });
      }
      expect(port.stats.lineErrors).to.equal(4);
    } finally {
      await lab.close();
    }
  });

  it('overrun with a framing error on one byte gives both; consecutive error bytes each get their own', async () => {
    const { lab, chip, port, events } = await openWithFarEnd('PL2303GC');
    try {
      const got = collect(port, 4);
      chip.uart.injectRx([1, 2, 3, 4], [
        { offset: 1, kind: 'overrun' },
        { offset: 1, kind: 'framing' },
        { offset: 2, kind: 'parity' },
      ]);
      await got;
      const errs = events.filter((e) => e.type === 'data').map((e) => (e as Extract<PortEvent, { type: 'data' }>).errors);
      expect(errs).to.deep.equal([[], [{ kind: 'overrun', position: 0 }, { kind: 'framing', position: 0 }], [{ kind: 'parity', position: 0 }]]);
    } finally {
      await lab.close();
    }
  });

  it('a break and a mismatched far end (wrong baud) come through as line errors', async () => {
    const { lab, far, port, events } = await openWithFarEnd('PL2303TB');
    try {
      let le = nextEvent(port, 'line-error');
      far.setOutputs({ brk: true });
      expect((await le).error.kind).to.equal('break');
      far.setOutputs({ brk: false });
      events.length = 0;
      far.setSettings({ baudRate: 19200 }); // we run 9600: the receiver sees garbage
      le = nextEvent(port, 'line-error');
      await far.write(Uint8Array.from({ length: 32 }, () => 0x00));
      expect(['framing', 'break', 'parity']).to.include((await le).error.kind);
    } finally {
      await lab.close();
    }
  });

  it('the Siemens quirk: status at offset 0 of the notification', async () => {
    const { lab, far, port } = await openWithFarEnd('PL2303HX', {
      descriptor: { idVendor: 0x11f5, idProduct: 0x0004 },
      chip: { statusIndex0: true },
    });
    try {
      const e = nextEvent(port, 'modem');
      far.setOutputs({ rts: true });
      expect((await e).lines.cts).to.equal(true);
    } finally {
      await lab.close();
    }
  });
});

describe('PL2303 output signals, break and purge', () => {
  it('DTR and RTS follow setSignals (SET_CONTROL), seen at the far end', async () => {
    const { lab, device, far, port } = await openWithFarEnd('PL2303HX');
    try {
      expect(far.inputs).to.deep.include({ cts: true, dsr: true, dcd: true }); // raised on open
      device.clearTransferLog();
      await port.setSignals({ dtr: false });
      expect(far.inputs).to.deep.include({ cts: true, dsr: false, dcd: false });
      await port.setSignals({ rts: false });
      expect(far.inputs).to.deep.include({ cts: false });
      await port.setSignals({ dtr: true, rts: true });
      expect(controlLines(device.transferLog)).to.deep.equal(['21 22 0002 0000 0', '21 22 0000 0000 0', '21 22 0003 0000 0']);
    } finally {
      await lab.close();
    }
  });

  for (const part of ['PL2303H', 'PL2303HX', 'PL2303HXD', 'PL2303TA', 'PL2303TB', 'PL2303GS'] as const) {
    it(`${part}: break on and off`, async () => {
      const { lab, device, chip, far, port } = await openWithFarEnd(part);
      try {
        device.clearTransferLog();
        await port.setSignals({ brk: true });
        expect(chip.controlLines.brk).to.equal(true);
        expect(far.rxLineBreak).to.equal(true);
        await port.setSignals({ brk: false });
        expect(far.rxLineBreak).to.equal(false);
        expect(controlLines(device.transferLog)).to.deep.equal(['21 23 ffff 0000 0', '21 23 0000 0000 0']);
        await port.setSignals({ brk: true });
        device.clearTransferLog();
        await port.close(); // a break left on is released at close
        expect(controlLines(device.transferLog)).to.deep.equal(['21 22 0000 0000 0', '21 23 0000 0000 0']);
      } finally {
        await lab.close();
      }
    });
  }

  it('the HXD clone cannot send a break: a clear error, nothing sent', async () => {
    const { lab, device, port } = await openWithFarEnd('PL2303HXD-clone');
    try {
      device.clearTransferLog();
      const err = await port.setSignals({ brk: true, dtr: false }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SerialSettingsError);
      expect((err as SerialSettingsError).setting).to.equal('signals');
      expect((err as Error).message).to.match(/HXD clone cannot send a break/);
      expect(controlLines(device.transferLog)).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });

  const PURGES: [Pl2303Part, string[], string[], string[]][] = [
    ['PL2303HX', ['40 01 0009 0000 0'], ['40 01 0008 0000 0'], ['40 01 0008 0000 0', '40 01 0009 0000 0']],
    ['PL2303TA', ['40 01 0009 0000 0'], ['40 01 0008 0000 0'], ['40 01 0008 0000 0', '40 01 0009 0000 0']],
    ['PL2303GC', ['40 80 0007 0002 0'], ['40 80 0007 0001 0'], ['40 80 0007 0003 0']],
  ];
  for (const [part, rx, tx, both] of PURGES) {
    it(`${part}: purge rx, tx and both`, async () => {
      const { lab, device, chip, port } = await openWithFarEnd(part);
      try {
        const before = { ...chip.stats.purges };
        device.clearTransferLog();
        await port.flush({ rx: true });
        expect(controlLines(device.transferLog)).to.deep.equal(rx);
        device.clearTransferLog();
        await port.flush({ tx: true });
        expect(controlLines(device.transferLog)).to.deep.equal(tx);
        device.clearTransferLog();
        await port.flush();
        expect(controlLines(device.transferLog)).to.deep.equal(both);
        expect(chip.stats.purges).to.deep.equal({ rx: before.rx + 2, tx: before.tx + 2 });
      } finally {
        await lab.close();
      }
    });
  }
});
