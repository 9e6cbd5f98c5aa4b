// The embedded-event stream to port.events: line errors as typed LineErrors at the byte they
// belong to, the escape byte as data, modem-status events as modem events; without event
// insertion (the counterfeit CP2102) raw bytes and no errors.
import { expect } from 'chai';
import type { LineError, PortEvent } from '../../../src/serial/index.ts';
import { nullModem, UartPort } from '../../../mocks/index.ts';
import { createCp210x, type Cp210xPart } from '../../../mocks/cp210x/index.ts';
import { collect, cp210xLab, nextEvent, tick } from './lab.ts';

async function openWithFarEnd(part: Cp210xPart, options: Parameters<typeof createCp210x>[1] = {}) {
  const lab = await cp210xLab();
  const emu = createCp210x(part, options);
  const far = new UartPort({ name: 'far', rxFifoSize: 4096 });
  nullModem(emu.chip.uart(0), far);
  await lab.plug(emu.device);
  const port = lab.port();
  const events: PortEvent[] = [];
  port.events.subscribe((e) => events.push(e));
  await port.open();
  return { lab, ...emu, far, port, events };
}

const dataEvents = (events: PortEvent[]) => events.filter((e): e is Extract<PortEvent, { type: 'data' }> => e.type === 'data');

describe('CP210x line errors and modem changes reach port.events', () => {
  it('framing, parity and break on a byte: a LineError at that byte; the bytes around it are clean', async () => {
    const { lab, chip, port, events } = await openWithFarEnd('CP2102');
    try {
      for (const kind of ['framing', 'parity', 'break'] as const) {
        events.length = 0;
        const got = collect(port, 6);
        chip.uart(0).injectRx([0x41, 0x42, 0x43, 0x44, 0x45, 0x46], [{ offset: 3, kind }]);
        expect([...(await got)]).to.deep.equal([0x41, 0x42, 0x43, 0x44, 0x45, 0x46]);
        const flat: { byte: number; errors: LineError['kind'][] }[] = [];
        for (const d of dataEvents(events)) d.data.forEach((b, i) => flat.push({ byte: b, errors: d.errors.filter((e) => e.position === i).map((e) => e.kind) }));
        expect(flat.map((f) => f.errors)).to.deep.equal([[], [], [], [kind], [], []]);
        const le = events.filter((e) => e.type === 'line-error');
        expect(le).to.have.length(1);
        expect((le[0] as Extract<PortEvent, { type: 'line-error' }>).error.kind).to.equal(kind);
      }
      expect(port.stats.lineErrors).to.equal(3);
    } finally {
      await lab.close();
    }
  });

  it('an overrun goes on the byte it came with, without an inserted NUL; break beats parity beats framing', async () => {
    const { lab, chip, port, events } = await openWithFarEnd('CP2104');
    try {
      const got = collect(port, 4);
      chip.uart(0).injectRx([1, 2, 3, 4], [
        { offset: 1, kind: 'overrun' },
        { offset: 2, kind: 'parity' },
        { offset: 2, kind: 'framing' },
        { offset: 3, kind: 'break' },
        { offset: 3, kind: 'parity' },
      ]);
      expect([...(await got)]).to.deep.equal([1, 2, 3, 4]);
      const errs: [number, string][] = [];
      let base = 0;
      for (const d of dataEvents(events)) {
        for (const e of d.errors) errs.push([base + e.position, e.kind]);
        base += d.data.length;
      }
      expect(errs).to.deep.equal([[1, 'overrun'], [2, 'parity'], [3, 'break']]);
      expect(port.stats.bytesRead).to.equal(4);
    } finally {
      await lab.close();
    }
  });

  it('0xEC data (the escape character) comes through as data, also split over transfers', async () => {
    const { lab, far, port, chip } = await openWithFarEnd('CP2102N');
    try {
      const data = Uint8Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? 0xec : i & 0xff));
      const got = collect(port, data.length);
      await far.write(data);
      expect([...(await got)]).to.deep.equal([...data]);
      expect(port.stats.lineErrors).to.equal(0);
      expect(chip.refusals).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });

  it('CTS, DSR, DCD and RI changes become modem events with what changed; getSignals reads GET_MDMSTS', async () => {
    const { lab, chip, far, port } = await openWithFarEnd('CP2102');
    try {
      expect(await port.getSignals()).to.deep.equal({ cts: false, dsr: false, ri: false, dcd: false });
      let e = nextEvent(port, 'modem');
      far.setOutputs({ rts: true });
      expect(await e).to.deep.include({ lines: { cts: true, dsr: false, ri: false, dcd: false }, changed: ['cts'] });
      e = nextEvent(port, 'modem');
      far.setOutputs({ dtr: true }); // DTR drives DSR and DCD through the null-modem cable
      expect((await e).changed).to.have.members(['dsr', 'dcd']);
      e = nextEvent(port, 'modem');
      chip.uart(0).setInputs({ ri: true });
      expect(await e).to.deep.include({ lines: { cts: true, dsr: true, ri: true, dcd: true }, changed: ['ri'] });
      expect(await port.getSignals()).to.deep.equal({ cts: true, dsr: true, ri: true, dcd: true });
    } finally {
      await lab.close();
    }
  });

  it('the first modem change after open is reported even when nothing read the lines before', async () => {
    const { lab, far, port } = await openWithFarEnd('CP2108');
    try {
      far.setOutputs({ dtr: true }); // DSR and DCD on: an MSR event with deltas
      const e = await nextEvent(port, 'modem');
      expect(e.changed).to.have.members(['dsr', 'dcd']);
      expect(e.lines).to.deep.equal({ cts: false, dsr: true, ri: false, dcd: true });
    } finally {
      await lab.close();
    }
  });

  it('a break and a far end at the wrong rate come through as line errors', async () => {
    const { lab, far, port, events } = await openWithFarEnd('CP2104');
    try {
      let le = nextEvent(port, 'line-error');
      far.setOutputs({ brk: true });
      expect((await le).error.kind).to.equal('break');
      far.setOutputs({ brk: false });
      events.length = 0;
      far.setSettings({ baudRate: 19200 });
      le = nextEvent(port, 'line-error');
      await far.write(Uint8Array.from({ length: 32 }, () => 0x00));
      expect(['framing', 'break', 'parity']).to.include((await le).error.kind);
    } finally {
      await lab.close();
    }
  });

  it('without event insertion (counterfeit CP2102): raw bytes, 0xEC as is, no errors, no modem events', async () => {
    const { lab, chip, far, port, events } = await openWithFarEnd('CP2102', { chip: { counterfeit: true } });
    try {
      const got = collect(port, 4);
      chip.uart(0).injectRx([0xec, 0x00, 0xec, 0x01], [{ offset: 1, kind: 'framing' }]);
      expect([...(await got)]).to.deep.equal([0xec, 0x00, 0xec, 0x01]);
      far.setOutputs({ rts: true });
      await tick(10);
      expect(events.filter((e) => e.type === 'line-error' || e.type === 'modem')).to.deep.equal([]);
      expect((await port.getSignals()).cts).to.equal(true);
    } finally {
      await lab.close();
    }
  });
});
