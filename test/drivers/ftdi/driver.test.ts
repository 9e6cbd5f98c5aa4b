// ftdi_sio through the whole stack (UsbSubsystem + MockUsbHost + registerUsbSerialDrivers +
// emulated chips): binding and chip detection, every request's bytes on the wire, settings and
// their refusal, signals, purge, the latency timer and special characters, line errors and
// modem changes reaching the port's user, multi-port chips, new_id.
import { expect } from 'chai';
import { SerialSettingsError, UsbSerial } from '../../../src/serial/index.ts';
import { UartPort, loopbackPlug, nullModem } from '../../../mocks/index.ts';
import {
  MOCK_FTDI_FACTORIES,
  mockFt232am,
  mockFt232bm,
  mockFt232h,
  mockFt232r,
  mockFt2232h,
  mockFt4232h,
  mockSio,
  type MockFtdi,
} from '../../../mocks/ftdi/index.ts';
import {
  FTDI_CHIPS,
  FTDI_IDS,
  FtdiPortError,
  FtdiUnsupportedError,
  UnsupportedFtdiChipError,
  encodeFtdiBaud,
  ftdiPort,
  ftdiSerialDriver,
  type FtdiChip,
} from '../../../drivers/ftdi/index.ts';
import { sleep, until } from '../../helpers/async.ts';
import { pattern } from '../../helpers/bytes.ts';
import { ftdiLab, record, vendorRequests, type FtdiLab } from './lab.ts';

const quiet = { device: { transferLog: { limit: 2000 } } };

/** [bRequest, wValue, wIndex] of the vendor requests logged since the last clear. */
function wire(f: MockFtdi): [number, number, number][] {
  return vendorRequests(f.device.transferLog).map((r) => [r.req, r.value, r.index]);
}

describe('ftdi_sio: binding and chip detection', () => {
  let lab: FtdiLab;
  beforeEach(async () => (lab = await ftdiLab()));
  afterEach(() => lab.close());

  it('binds every generation, one port per interface, with the channel Linux uses', async () => {
    let path = 1;
    for (const [chip, make] of Object.entries(MOCK_FTDI_FACTORIES) as [FtdiChip, () => MockFtdi][]) {
      const f = make();
      const ports = await lab.plug(f, `1-${path++}`);
      const info = FTDI_CHIPS[chip];
      expect(ports.length, chip).to.equal(info.channels);
      ports.forEach((p, i) => {
        const x = ftdiPort(p);
        expect(x.chip, chip).to.equal(chip);
        expect(x.channel, chip).to.equal(info.channelised ? i + 1 : 0);
        expect(x.maxPacketSize, chip).to.equal(info.maxPacketSize);
      });
    }
    expect(lab.reg.ports().length).to.equal(Object.values(FTDI_CHIPS).reduce((n, c) => n + c.channels, 0));
  });

  it('has the default IDs, the HP series, the FT232RL and the zeroed-PID counterfeits', async () => {
    const pids = FTDI_IDS.map((id) => id.product);
    expect(FTDI_IDS.every((id) => id.vendor === 0x0403)).to.equal(true);
    for (const pid of [0x6001, 0x6010, 0x6011, 0x6014, 0x6015, 0x6040, 0x6041, 0x6042, 0x6043, 0x6044, 0x6045, 0x6048, 0x8372, 0xfbfa, 0x0000]) {
      expect(pids, pid.toString(16)).to.include(pid);
    }
    const fake = mockFt232r({ idProduct: 0x0000 });
    expect((await lab.plug(fake)).length).to.equal(1);
    const rl = mockFt232r({ idProduct: 0xfbfa });
    expect((await lab.plug(rl)).length).to.equal(1);
  });

  it('refuses an unknown bcdDevice with a clear error instead of guessing', async () => {
    const f = mockFt232r({ bcdDevice: 0x0300 });
    expect(await lab.plug(f)).to.deep.equal([]);
    const intf = lab.usb.deviceFor(lab.host.attachmentOf(f.device)!)!.interfaces[0]!;
    expect(intf.driver).to.equal(null);
    const serial = new UsbSerial(intf, lab.reg.serialDrivers[0]!, null);
    const err = await Promise.resolve(ftdiSerialDriver.attach!(serial)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UnsupportedFtdiChipError);
    expect((err as Error).message).to.match(/bcdDevice 0x0300/);
  });

  it('tells an FT232BM without serial number (bcdDevice 0x200) from an FT232AM by its latency timer', async () => {
    const bm = mockFt232bm({ serialNumber: null });
    const am = mockFt232am({ serialNumber: null });
    const [pbm] = await lab.plug(bm);
    const [pam] = await lab.plug(am);
    expect(ftdiPort(pbm!).chip).to.equal('FT232BM');
    expect(ftdiPort(pam!).chip).to.equal('FT232AM');
    // The AM stalled the probe's GET_LATENCY_TIMER; that is how it was told apart.
    expect(am.chip.stalls.map((s) => s.request)).to.deep.equal(['GET_LATENCY_TIMER']);
  });

  it('new_id binds an OEM ID through the serial driver, and the port works', async () => {
    const f = mockFt232r({ idVendor: 0x1234, idProduct: 0x5678 });
    loopbackPlug(f.uart());
    expect(await lab.plug(f)).to.deep.equal([]);
    const r = await lab.usb.model.attrs.write('bus/usb-serial/drivers/ftdi_sio/new_id', '1234 5678');
    expect(r.ok).to.equal(true);
    await lab.usb.settled();
    const [port] = lab.portsOf(f);
    expect(port).to.not.equal(undefined);
    expect(ftdiPort(port!).chip).to.equal('FT232R');
    await port!.open({ baudRate: 115200 });
    const rec = record(port!);
    await port!.write(new Uint8Array([1, 2, 3, 4]));
    await until(() => rec.received >= 4, 3000);
    expect([...rec.bytes()]).to.deep.equal([1, 2, 3, 4]);
    await port!.close();
  });
});

describe('ftdi_sio: requests on the wire', () => {
  let lab: FtdiLab;
  beforeEach(async () => (lab = await ftdiLab()));
  afterEach(() => lab.close());

  it('port probe reads the latency timer and writes it back (not on the SIO)', async () => {
    const r = mockFt232r(quiet);
    await lab.plug(r);
    expect(vendorRequests(r.device.transferLog).map((x) => [x.req, x.dir, x.value, x.index, x.length])).to.deep.equal([
      [0x0a, 'in', 0, 0, 1],
      [0x09, 'out', 16, 0, 0],
    ]);
    const s = mockSio(quiet);
    await lab.plug(s);
    expect(wire(s)).to.deep.equal([]);
  });

  it("open sends Linux's sequence: RESET, SET_DATA, SET_BAUD_RATE, SET_FLOW_CTRL, then DTR and RTS up", async () => {
    const f = mockFt232r(quiet);
    const [port] = await lab.plug(f);
    f.device.clearTransferLog();
    const applied = await port!.open({ baudRate: 115200 });
    expect(wire(f)).to.deep.equal([
      [0x00, 0x0000, 0],
      [0x04, 0x0008, 0],
      [0x03, 0x001a, 0], // 3 MHz / 26 (BM: 115200 -> 0x001A)
      [0x02, 0x0000, 0],
      [0x01, 0x0303, 0],
    ]);
    expect(applied.actualBaudRate).to.equal(3_000_000 / 26);
    expect(f.uart().outputs).to.deep.equal({ dtr: true, rts: true, brk: false });
    f.device.clearTransferLog();
    await port!.close();
    // Linux's dtr_rts(0): flow control off, DTR and RTS down.
    expect(wire(f)).to.deep.equal([
      [0x02, 0x0000, 0],
      [0x01, 0x0300, 0],
    ]);
    expect(f.uart().outputs).to.deep.equal({ dtr: false, rts: false, brk: false });
  });

  it('on an H chip the baud divisor bits 16-17 share wIndex with the channel', async () => {
    const f = mockFt2232h(quiet);
    const [, b] = await lab.plug(f);
    f.device.clearTransferLog();
    await b!.open({ baudRate: 115200 });
    // H: 12 MHz / 104.125 -> divisor 0x2C068; wIndex = (0x2 << 8) | channel B
    expect(wire(f)).to.deep.equal([
      [0x00, 0x0000, 2],
      [0x04, 0x0008, 2],
      [0x03, 0xc068, 0x0202],
      [0x02, 0x0000, 2],
      [0x01, 0x0303, 2],
    ]);
    expect(f.channel(1).state.baudRate).to.equal(12_000_000 / 104.125);
    expect(f.channel(0).state.baudRate).to.equal(9600);
    await b!.close();
  });

  it('line settings and flow control: SET_DATA bits, SET_FLOW_CTRL with the XON/XOFF characters', async () => {
    const f = mockFt232r(quiet);
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 9600 });
    f.device.clearTransferLog();
    await port!.setSettings({ dataBits: 7, parity: 'even', stopBits: 2, flowControl: 'xon-xoff', xon: 0x11, xoff: 0x13 });
    await port!.setSettings({ dataBits: 8, parity: 'mark', stopBits: 1.5, flowControl: 'rts-cts' });
    await port!.setSettings({ parity: 'space', flowControl: 'dtr-dsr' });
    await port!.setSettings({ parity: 'odd', flowControl: 'xon-xoff', xon: 0x51, xoff: 0x53 });
    expect(wire(f)).to.deep.equal([
      [0x04, 0x1207, 0], // 7 bits | even (2) << 8 | 2 stop (2) << 11
      [0x03, 0x4138, 0], // BM 9600 -> 0x4138
      [0x02, 0x1311, 0x0400],
      [0x04, 0x0b08, 0], // 8 | mark (3) << 8 | 1.5 stop (1) << 11
      [0x03, 0x4138, 0],
      [0x02, 0x0000, 0x0100],
      [0x04, 0x0c08, 0], // space (4) << 8, 1.5 stop kept
      [0x03, 0x4138, 0],
      [0x02, 0x0000, 0x0200],
      [0x04, 0x0908, 0],
      [0x03, 0x4138, 0],
      [0x02, 0x5351, 0x0400],
    ]);
    expect(f.channel().state).to.deep.include({ dataBits: 8, parity: 'odd', stopBits: 1.5, flow: 'xon-xoff', xon: 0x51, xoff: 0x53 });
    expect(f.uart().settings).to.deep.include({ dataBits: 8, parity: 'odd', stopBits: 1.5 });
    await port!.close();
  });

  it('signals: DTR and RTS through MODEM_CTRL with its mask, break through SET_DATA bit 14 keeping the line settings', async () => {
    const f = mockFt232r(quiet);
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 2 });
    f.device.clearTransferLog();
    await port!.setSignals({ dtr: false });
    expect(f.uart().outputs).to.deep.equal({ dtr: false, rts: true, brk: false });
    await port!.setSignals({ rts: false });
    await port!.setSignals({ dtr: true, rts: true });
    await port!.setSignals({ brk: true });
    expect(f.uart().outputs.brk).to.equal(true);
    await port!.setSignals({ brk: false });
    expect(wire(f)).to.deep.equal([
      [0x01, 0x0100, 0],
      [0x01, 0x0200, 0],
      [0x01, 0x0303, 0],
      [0x04, 0x5207, 0],
      [0x04, 0x1207, 0],
    ]);
    expect(f.uart().outputs).to.deep.equal({ dtr: true, rts: true, brk: false });
    await port!.close();
  });

  it('purge: tx sends RESET 1 (the host\'s unsent output), rx sends RESET 2 (unread input); both, output first', async () => {
    const f = mockFt232r({ ...quiet, pacing: true });
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 300 }); // slow enough that written bytes wait in the chip
    port!.pauseReading();
    await sleep(60); // the in-flight reads complete; nothing is resubmitted
    f.device.clearTransferLog();
    void port!.write(new Uint8Array(60));
    f.channel().injectRx([1, 2, 3]);
    await until(() => f.channel().txBuffered > 0, 1000, 'bytes in the TX buffer');
    await port!.flush({ tx: true });
    expect(f.channel().txBuffered).to.equal(0);
    expect(f.channel().rxBuffered).to.equal(3);
    await port!.flush({ rx: true });
    expect(f.channel().rxBuffered).to.equal(0);
    await port!.flush();
    expect(wire(f)).to.deep.equal([
      [0x00, 1, 0],
      [0x00, 2, 0],
      [0x00, 1, 0],
      [0x00, 2, 0],
    ]);
    port!.resumeReading();
    await port!.close();
  });

  it('latency timer get/set, event and error characters, modem status read, through ftdiPort()', async () => {
    const f = mockFt232h(quiet);
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 115200 });
    f.device.clearTransferLog();
    const x = ftdiPort(port!);
    await x.setLatencyTimer(2);
    expect(await x.getLatencyTimer()).to.equal(2);
    expect(f.channel().state.latencyMs).to.equal(2);
    await x.setEventChar(0x0d);
    await x.setEventChar(null);
    await x.setErrorChar(0x3f);
    f.channel().setInputs({ cts: true, ri: true });
    const st = await x.getStatus();
    expect(st.modem).to.deep.include({ cts: true, dsr: false, ri: true, dcd: false });
    expect(st.line).to.deep.include({ thre: true, temt: true, overrun: false });
    expect(await port!.getSignals()).to.deep.equal({ cts: true, dsr: false, ri: true, dcd: false });
    expect(vendorRequests(f.device.transferLog).map((r) => [r.req, r.dir, r.value, r.index])).to.deep.equal([
      [0x09, 'out', 2, 1],
      [0x0a, 'in', 0, 1],
      [0x06, 'out', 0x10d, 1],
      [0x06, 'out', 0x000, 1],
      [0x07, 'out', 0x13f, 1],
      [0x05, 'in', 0, 1],
      [0x05, 'in', 0, 1],
    ]);
    expect(f.channel().state.errorChar).to.deep.equal({ char: 0x3f, enabled: true });
    await expectReject(x.setLatencyTimer(0), RangeError);
    await port!.close();

    const am = mockFt232am(quiet);
    const [pam] = await lab.plug(am);
    await expectReject(ftdiPort(pam!).setLatencyTimer(4), FtdiUnsupportedError);
    expect(await ftdiPort(pam!).getLatencyTimer()).to.equal(16);
  });
});

async function expectReject(p: Promise<unknown>, type: new (...a: never[]) => Error): Promise<Error> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(type);
  return err as Error;
}

describe('ftdi_sio: refusing what the chip cannot do', () => {
  let lab: FtdiLab;
  beforeEach(async () => (lab = await ftdiLab()));
  afterEach(() => lab.close());

  it('a rate more than 3% from any divisor is refused naming the nearest rates; nothing reaches the chip', async () => {
    const f = mockFt232r(quiet);
    const [port] = await lab.plug(f);
    f.device.clearTransferLog();
    const err = await expectReject(port!.open({ baudRate: 5_000_000 }), SerialSettingsError);
    expect(err.message).to.match(/FT232R cannot run at 5000000 baud/).and.match(/3000000/);
    expect((err as SerialSettingsError).setting).to.equal('baudRate');
    expect(wire(f)).to.deep.equal([]);
    expect(port!.portState).to.equal('closed');

    await port!.open({ baudRate: 9600 });
    f.device.clearTransferLog();
    const low = await expectReject(port!.setSettings({ baudRate: 100 }), SerialSettingsError);
    expect(low.message).to.match(/183/);
    await expectReject(port!.setSettings({ dataBits: 6 }), SerialSettingsError);
    await expectReject(port!.setSettings({ flowControl: 'xon-xoff', xon: 0x13, xoff: 0x13 }), SerialSettingsError);
    expect(wire(f)).to.deep.equal([]);
    expect(port!.settings!.baudRate).to.equal(9600);
    expect(f.channel().state.baudRate).to.equal(3_000_000 / 312.5);
    // 2 Mbaud and 3 Mbaud are the BM specials (divisor 1.5 and 1)
    expect((await port!.setSettings({ baudRate: 2_000_000 })).actualBaudRate).to.equal(2_000_000);
    expect((await port!.setSettings({ baudRate: 3_000_000 })).actualBaudRate).to.equal(3_000_000);
    expect(wire(f).filter((w) => w[0] === 3)).to.deep.equal([
      [0x03, 0x0001, 0],
      [0x03, 0x0000, 0],
    ]);
    await port!.close();
  });
});

describe('ftdi_sio: what the port user sees', () => {
  let lab: FtdiLab;
  beforeEach(async () => (lab = await ftdiLab()));
  afterEach(() => lab.close());

  it('line errors (parity, framing, break, overrun) as typed events at the byte they concern', async () => {
    const f = mockFt232r(quiet);
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 115200 });
    const rec = record(port!);
    const ch = f.channel();
    ch.injectRx([0x41, 0x42, 0x43, 0x44, 0x45], [
      { offset: 1, kind: 'parity' },
      { offset: 3, kind: 'framing' },
    ]);
    ch.injectBreak();
    ch.injectRx([0x46], [{ offset: 0, kind: 'overrun' }]);
    await until(() => rec.received >= 7, 2000, '7 bytes');
    expect([...rec.bytes()]).to.deep.equal([0x41, 0x42, 0x43, 0x44, 0x45, 0x00, 0x46]);
    const errs = rec.ofType('line-error').map((e) => [e.error.kind, e.data[e.error.position]]);
    expect(errs).to.deep.equal([
      ['parity', 0x42],
      ['framing', 0x44],
      ['break', 0x00],
      ['overrun', 0x46],
    ]);
    expect(port!.stats.lineErrors).to.equal(4);
    await port!.close();
  });

  it('an overrun when the host stops reading a paced line: the next byte is flagged and bytes are missing', async () => {
    const f = mockFt232r({ ...quiet, pacing: true });
    const far = new UartPort({ name: 'far', pacing: true, settings: { baudRate: 1_000_000 } });
    nullModem(f.uart(), far);
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 1_000_000 });
    const rec = record(port!);
    port!.pauseReading();
    await sleep(100); // the reads in flight complete (status packets); none is resubmitted
    await far.write(new Uint8Array(8000).fill(0x55)); // 80 ms of line time into a 256-byte buffer
    expect(f.channel().rxBuffered).to.equal(256);
    port!.resumeReading();
    await far.write([0xaa]);
    await until(() => rec.bytes().includes(0xaa), 2000, 'the byte after the overrun');
    const over = rec.ofType('line-error').filter((e) => e.error.kind === 'overrun');
    expect(over.length).to.equal(1);
    expect(over[0]!.data[over[0]!.error.position]).to.equal(0xaa);
    expect(rec.received).to.equal(257);
    expect(f.channel().overruns).to.equal(8001 - rec.received);
    await port!.close();
  });

  it('modem line changes reach the user as modem events naming what changed; a loopback plug reflects RTS and DTR', async () => {
    const f = mockFt232r(quiet);
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 115200 });
    const rec = record(port!);
    await until(() => port!.modemLines !== null, 1000, 'the first status');
    const ch = f.channel();
    ch.setInputs({ cts: true });
    await until(() => rec.ofType('modem').length === 1, 3000);
    ch.setInputs({ dsr: true, dcd: true });
    await until(() => rec.ofType('modem').length === 2, 3000);
    ch.setInputs({ ri: true });
    await until(() => rec.ofType('modem').length === 3, 3000);
    ch.setInputs({ cts: false, ri: false });
    await until(() => rec.ofType('modem').length === 4, 3000);
    expect(rec.ofType('modem').map((m) => m.changed)).to.deep.equal([['cts'], ['dsr', 'dcd'], ['ri'], ['cts', 'ri']]);
    expect(port!.modemLines).to.deep.equal({ cts: false, dsr: true, ri: false, dcd: true });
    await port!.close();

    const g = mockFt232h(quiet);
    loopbackPlug(g.uart());
    const [gp] = await lab.plug(g);
    await gp!.open({ baudRate: 115200 });
    await until(() => gp!.modemLines?.cts === true, 1000, 'CTS from RTS');
    const grec = record(gp!);
    await gp!.setSignals({ rts: false });
    await until(() => grec.ofType('modem').length === 1, 3000);
    expect(grec.ofType('modem')[0]!.changed).to.deep.equal(['cts']);
    await gp!.setSignals({ dtr: false });
    await until(() => grec.ofType('modem').length === 2, 3000);
    expect(grec.ofType('modem')[1]!.changed).to.deep.equal(['dsr', 'dcd']);
    await gp!.close();
  });

  it('the SIO: a header byte on every bulk OUT packet, a one-byte modem status; a loopback comes back whole', async () => {
    const f = mockSio({ device: { transferLog: { limit: 2000 } } });
    loopbackPlug(f.uart());
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 115200 });
    const rec = record(port!);
    f.device.clearTransferLog();
    const data = pattern(100, 7);
    await port!.write(data);
    await until(() => rec.received >= 100, 3000);
    expect(Buffer.from(rec.bytes()).equals(Buffer.from(data))).to.equal(true);
    const outs = f.device.transferLog.filter((e) => e.kind === 'bulk-out');
    expect(outs.length).to.equal(1);
    const sent = outs[0]!.data!;
    expect(sent.length).to.equal(102);
    expect(sent[0]).to.equal((63 << 2) | 1);
    expect(sent[64]).to.equal((37 << 2) | 1);
    expect(Buffer.from(sent.subarray(1, 64)).equals(Buffer.from(data.subarray(0, 63)))).to.equal(true);
    expect(await port!.getSignals()).to.deep.include({ cts: true, dsr: true, dcd: true });
    expect(vendorRequests(f.device.transferLog).find((r) => r.req === 5)!.length).to.equal(1);
    await port!.close();
  });

  it('break from one FTDI reaches the other as a break event; DTR/RTS cross a null modem', async () => {
    const a = mockFt232r(quiet);
    const b = mockFt232h(quiet);
    nullModem(a.uart(), b.uart());
    const [pa] = await lab.plug(a);
    const [pb] = await lab.plug(b);
    await pa!.open({ baudRate: 115200 });
    await pb!.open({ baudRate: 115200 });
    const rb = record(pb!);
    await pa!.setSignals({ brk: true });
    await until(() => rb.ofType('line-error').length > 0, 2000, 'the break');
    expect(rb.ofType('line-error')[0]!.error.kind).to.equal('break');
    await pa!.setSignals({ brk: false, dtr: false });
    await until(() => pb!.modemLines?.dsr === false, 1000, 'DSR from DTR');
    await pa!.close();
    await pb!.close();
  });
});

describe('ftdi_sio: recovering and refusing', () => {
  let lab: FtdiLab;
  beforeEach(async () => (lab = await ftdiLab()));
  afterEach(() => lab.close());

  it('a stalled bulk IN endpoint is cleared (CLEAR_FEATURE) and reading goes on', async () => {
    const f = mockFt232r(quiet);
    loopbackPlug(f.uart());
    const [port] = await lab.plug(f);
    await port!.open({ baudRate: 115200 });
    const rec = record(port!);
    f.device.faults.inject({ on: 'in', kind: 'stall' });
    await until(() => f.device.transferLog.some((e) => e.fault === 'stall'), 1000, 'the stall');
    const data = pattern(5000, 9);
    await port!.write(data);
    await until(() => rec.received >= data.length, 2000, 'data after the stall');
    expect(Buffer.from(rec.bytes()).equals(Buffer.from(data))).to.equal(true);
    const clear = f.device.transferLog.filter((e) => e.setup && e.setup.bRequest === 0x01 && e.setup.bmRequestType === 0x02);
    expect(clear.map((e) => e.setup!.wIndex)).to.deep.equal([0x81]);
    expect(port!.gone).to.equal(false);
    await port!.close();
  });

  it('ftdiPort() refuses what is not an ftdi_sio port', () => {
    expect(() => ftdiPort({ name: 'ttyS0' } as never)).to.throw(FtdiPortError, /ttyS0 is not an ftdi_sio port/);
  });
});

describe('ftdi_sio: multi-port chips', () => {
  let lab: FtdiLab;
  beforeEach(async () => (lab = await ftdiLab()));
  afterEach(() => lab.close());

  for (const [name, make, n] of [
    ['FT2232H', mockFt2232h, 2],
    ['FT4232H', mockFt4232h, 4],
  ] as const) {
    it(`${name}: ${n} ports, each request with its channel in wIndex, each channel its own data`, async () => {
      const f = make(quiet);
      for (let i = 0; i < n; i++) loopbackPlug(f.uart(i));
      const ports = await lab.plug(f);
      expect(ports.length).to.equal(n);
      expect(new Set(ports.map((p) => p.name)).size).to.equal(n);
      f.device.clearTransferLog();
      const rates = [115200, 230400, 921600, 3_000_000];
      for (let i = 0; i < n; i++) await ports[i]!.open({ baudRate: rates[i]! });
      const reqs = wire(f);
      expect(reqs.length).to.equal(5 * n);
      for (let i = 0; i < n; i++) {
        const mine = reqs.slice(5 * i, 5 * i + 5);
        expect(mine.map((r) => r[2] & 0xff), `port ${i}`).to.deep.equal([i + 1, i + 1, i + 1, i + 1, i + 1]);
        expect(mine[2]).to.deep.equal([3, encodeFtdiBaud(name, rates[i]!, i + 1).wValue, encodeFtdiBaud(name, rates[i]!, i + 1).wIndex]);
        expect(f.channel(i).state.baudRate).to.equal(ports[i]!.settings!.actualBaudRate);
      }
      const recs = ports.map((p) => record(p));
      const data = ports.map((_, i) => pattern(50_000, i + 11));
      await Promise.all(ports.map((p, i) => p.write(data[i]!)));
      await until(() => recs.every((r) => r.received >= 50_000), 5000, 'every channel');
      recs.forEach((r, i) => expect(Buffer.from(r.bytes()).equals(Buffer.from(data[i]!)), `channel ${i}`).to.equal(true));
      for (const p of ports) await p.close();
    });
  }
});
