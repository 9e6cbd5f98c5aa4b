// A PL2303 and an FTDI port joined by a null-modem cable, both drivers registered on one USB
// subsystem: data both ways at matching settings, the control lines crossing over, and
// garbage (line errors) when the two sides disagree on the rate.
//
// The FTDI side (its driver and emulation) is another module of this project; it is loaded by
// path at run time so this file type-checks and skips, saying why, where it is not present.
import { createRequire } from 'node:module';
import { expect } from 'chai';
import { registerUsbSerialDrivers, type UsbSerialPort, type UsbSerialRegistration } from '../../../src/serial/index.ts';
import type { UsbBus } from '../../../src/usb/index.ts';
import { nullModem, type MockUsbDevice, type UartPort } from '../../../mocks/index.ts';
import { createPl2303 } from '../../../mocks/pl2303/index.ts';
import { collect, nextEvent, pl2303Lab, type Pl2303Lab } from './lab.ts';
import { sleep } from '../../helpers/async.ts';

interface FtdiModules {
  registerFtdi(usbBus: UsbBus): Promise<UsbSerialRegistration>;
  mockFtdi(chip: string, opts?: object): { device: MockUsbDevice; uart(index?: number): UartPort };
}

async function loadFtdi(): Promise<FtdiModules | string> {
  const driverPath = '../../../drivers/ftdi/index.ts';
  const mockPath = '../../../mocks/ftdi/index.ts';
  try {
    // require, not import(): under mocha + tsx a dynamic import() loads a second copy of src/,
    // whose usb-serial bus would clash with this file's.
    const load = createRequire(import.meta.url);
    const d = load(driverPath) as Partial<FtdiModules>;
    const m = load(mockPath) as Partial<FtdiModules>;
    if (typeof d.registerFtdi !== 'function' || typeof m.mockFtdi !== 'function') return 'the FTDI modules lack registerFtdi/mockFtdi';
    return { registerFtdi: d.registerFtdi, mockFtdi: m.mockFtdi };
  } catch (err) {
    return `the FTDI driver or emulation is not available (${(err as Error).message.split('\n')[0]})`;
  }
}

describe('PL2303 <-> FTDI over a null-modem cable', function () {
  this.timeout(10_000);
  let ftdi: FtdiModules;
  let lab: Pl2303Lab;
  let pl: UsbSerialPort;
  let ft: UsbSerialPort;
  let ftReg: UsbSerialRegistration;

  before(async function () {
    const loaded = await loadFtdi();
    if (typeof loaded === 'string') {
      console.log(`      (skipped: ${loaded})`);
      this.skip();
    }
    ftdi = loaded as FtdiModules;
  });

  beforeEach(async () => {
    lab = await pl2303Lab();
    ftReg = await ftdi.registerFtdi(lab.usb.bus);
    const p = createPl2303('PL2303TA');
    const f = ftdi.mockFtdi('FT232R', { serialNumber: 'NULLMODEM' });
    nullModem(p.chip.uart, f.uart(0));
    await lab.plug(p.device, '1-1');
    await lab.plug(f.device, '1-2');
    pl = lab.port();
    const ftPort = ftReg.ports()[0];
    if (!ftPort) throw new Error('the FTDI port did not bind');
    ft = ftPort;
  });

  afterEach(async () => {
    await ft?.close().catch(() => undefined);
    await lab?.close();
  });

  it('carries data both ways at 115200 8N1 and at 74880 7E1', async () => {
    for (const s of [
      { baudRate: 115200 },
      { baudRate: 74880, dataBits: 7 as const, parity: 'even' as const },
    ]) {
      if (pl.isOpen) await pl.setSettings(s);
      else await pl.open(s);
      if (ft.isOpen) await ft.setSettings(s);
      else await ft.open(s);
      const mask = s.dataBits === 7 ? 0x7f : 0xff;
      const a = Uint8Array.from({ length: 3000 }, (_, i) => (i * 13) & mask);
      const b = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7 + 1) & mask);
      const toFt = collect(ft, a.length, 5000);
      const toPl = collect(pl, b.length, 5000);
      await Promise.all([pl.write(a), ft.write(b)]);
      expect([...(await toFt)]).to.deep.equal([...a]);
      expect([...(await toPl)]).to.deep.equal([...b]);
    }
  });

  it('crosses the control lines: our RTS is their CTS, our DTR their DSR/DCD', async () => {
    await pl.open();
    await ft.open();
    await sleep(20);
    let e = nextEvent(ft, 'modem', 2000, (m) => m.changed.includes('cts'));
    await pl.setSignals({ rts: false });
    expect((await e).lines.cts).to.equal(false);
    e = nextEvent(pl, 'modem', 2000, (m) => m.changed.includes('dsr'));
    await ft.setSignals({ dtr: false });
    expect((await e).lines).to.deep.include({ dsr: false, dcd: false });
  });

  it('a rate mismatch shows up as line errors on the PL2303 side', async () => {
    await pl.open({ baudRate: 9600 });
    await ft.open({ baudRate: 57600 });
    const le = nextEvent(pl, 'line-error', 3000);
    await ft.write(new Uint8Array(64));
    expect(['framing', 'break', 'parity']).to.include((await le).error.kind);
  });
});
