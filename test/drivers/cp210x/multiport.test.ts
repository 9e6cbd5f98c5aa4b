// Multi-port parts: one port per interface, each request on its own interface number, data kept
// apart. CP2105's two ports cabled to each other, CP2108's four each with a loopback plug.
import { expect } from 'chai';
import { loopbackPlug, nullModem } from '../../../mocks/index.ts';
import { createCp210x } from '../../../mocks/cp210x/index.ts';
import { collect, controlLines, cp210xLab, nextEvent } from './lab.ts';

describe('CP210x multi-port parts', function () {
  this.timeout(20_000);

  it('CP2105: ECI and SCI are two ports; a null-modem between them carries data and lines both ways', async () => {
    const lab = await cp210xLab();
    try {
      const { device, chip } = createCp210x('CP2105');
      nullModem(chip.uart(0), chip.uart(1));
      await lab.plug(device);
      expect(lab.reg.ports()).to.have.length(2);
      const [eci, sci] = [lab.port(0), lab.port(1)];
      expect(lab.info(0).baudPart).to.equal('CP2105-ECI');
      expect(lab.info(1).baudPart).to.equal('CP2105-SCI');
      device.clearTransferLog();
      await eci.open({ baudRate: 115200 });
      await sci.open({ baudRate: 115200 });
      const lines = controlLines(device.transferLog);
      const eciLines = lines.slice(0, 7);
      const sciLines = lines.slice(7);
      expect(eciLines.every((l) => l.split(' ')[3] === '0000')).to.equal(true);
      expect(sciLines.every((l) => l.split(' ')[3] === '0001')).to.equal(true);
      // The ECI sends the divider's rate, the SCI the AN205 table's.
      expect(eciLines[1]).to.equal('41 1e 0000 0000 4 [b8 c2 01 00]'); // 115384 = 0x1c2b8
      expect(sciLines[1]).to.equal('41 1e 0000 0001 4 [00 c2 01 00]'); // 115200
      const a = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
      const b = Uint8Array.from({ length: 3000 }, (_, i) => (i * 13 + 1) & 0xff);
      const gotB = collect(sci, a.length);
      const gotA = collect(eci, b.length);
      await Promise.all([eci.write(a), sci.write(b)]);
      expect([...(await gotB)]).to.deep.equal([...a]);
      expect([...(await gotA)]).to.deep.equal([...b]);
      // Lines cross: SCI drops RTS, the ECI sees CTS drop.
      const e = nextEvent(eci, 'modem');
      await sci.setSignals({ rts: false });
      expect((await e).changed).to.include('cts');
      expect(chip.refusals).to.deep.equal([]);
    } finally {
      await lab.close();
    }
  });

  it('CP2108: four ports with loopback plugs, all at once, at different rates', async () => {
    const lab = await cp210xLab();
    try {
      const { device, chip } = createCp210x('CP2108');
      for (let i = 0; i < 4; i++) loopbackPlug(chip.uart(i));
      await lab.plug(device);
      expect(lab.reg.ports()).to.have.length(4);
      const rates = [9600, 115200, 460800, 921600];
      const ports = rates.map((_, i) => lab.port(i));
      for (let i = 0; i < 4; i++) await ports[i]!.open({ baudRate: rates[i] });
      const data = ports.map((_, i) => Uint8Array.from({ length: 20_000 }, (_, k) => (k * (i + 3) + i) & 0xff));
      const got = ports.map((p, i) => collect(p, data[i]!.length));
      await Promise.all(ports.map((p, i) => p.write(data[i]!)));
      for (let i = 0; i < 4; i++) expect([...(await got[i]!)], `port ${i}`).to.deep.equal([...data[i]!]);
      rates.forEach((r, i) => expect(chip.port(i).lineSettings.baudRate).to.equal(r));
      for (const p of ports) await p.close();
      expect(chip.ports.map((p) => p.enabled)).to.deep.equal([false, false, false, false]);
      expect(device.resources().pendingTransfers).to.equal(0);
    } finally {
      await lab.close();
    }
  });
});
