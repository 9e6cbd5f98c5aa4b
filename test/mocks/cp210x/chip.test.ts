// The emulated CP210x driven with raw WebUSB calls: descriptors per part, every request's effect,
// the baud value run as the part computes it (checked against encodeCp210xBaud: the driver's
// encoder and the chip's decoder were written apart), loopback, events, modem lines, multi-port.
import { expect } from 'chai';
import { encodeCp210xBaud } from '../../../drivers/cp210x/baud.ts';
import { Cp210xEventParser } from '../../../drivers/cp210x/events.ts';
import { loopbackPlug, MockUsbHost, nullModem, UartPort } from '../../../mocks/index.ts';
import { createCp210x, CP210X_PART_NAMES, CP210X_PARTS, type Cp210xPart } from '../../../mocks/cp210x/index.ts';

async function plugged(part: Cp210xPart) {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
  const emu = createCp210x(part);
  host.plug(emu.device);
  await emu.device.open();
  for (let n = 0; n < emu.chip.ports.length; n++) await emu.device.claimInterface(n);
  return emu;
}
type Dev = Awaited<ReturnType<typeof plugged>>['device'];
const out = (d: Dev, request: number, value: number, index = 0, data?: Uint8Array) =>
  d.controlTransferOut({ requestType: 'vendor', recipient: 'interface', request, value, index }, data as Uint8Array<ArrayBuffer> | undefined);
const inp = (d: Dev, request: number, length: number, index = 0, value = 0) =>
  d.controlTransferIn({ requestType: 'vendor', recipient: 'interface', request, value, index }, length);
const bytes = (dv: DataView | undefined) => (dv ? [...new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength)] : []);
const u32 = (v: number) => Uint8Array.of(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24);

describe('emulated CP210x: descriptors and part number', () => {
  it('each part: 10c4, its product ID, one vendor interface with a bulk pair per port; GET_PARTNUM answers its byte', async () => {
    for (const part of CP210X_PART_NAMES) {
      const info = CP210X_PARTS[part];
      const { device } = await plugged(part);
      expect(device.descriptor, part).to.deep.include({ idVendor: 0x10c4, idProduct: info.idProduct, bcdUSB: info.bcdUSB });
      const ifs = device.descriptor.configurations[0].interfaces;
      expect(ifs.length, part).to.equal(info.ports.length);
      expect(ifs.map((i) => i.alternates[0].endpoints.map((e) => e.bEndpointAddress)), part).to.deep.equal(info.ports.map((p) => [p.bulkIn, p.bulkOut]));
      const r = await device.controlTransferIn({ requestType: 'vendor', recipient: 'device', request: 0xff, value: 0x370b, index: 0 }, 1);
      expect(bytes(r.data), part).to.deep.equal([info.partnum]);
    }
  });
});

describe('emulated CP210x: CP2105 pin set-up reads', () => {
  it('GET_DEVICEMODE answers modem mode for both interfaces and GET_PORTCONFIG 15 bytes on a CP2105; other parts stall both', async () => {
    const vendorIn = (d: Dev, value: number, length: number, index = 0) => d.controlTransferIn({ requestType: 'vendor', recipient: 'device', request: 0xff, value, index }, length);
    const cp2105 = await plugged('CP2105');
    for (const intf of [0, 1]) {
      expect(bytes((await vendorIn(cp2105.device, 0x3711, 2, intf)).data), `GET_DEVICEMODE on interface ${intf}`).to.deep.equal([0, 0]);
      expect(bytes((await vendorIn(cp2105.device, 0x370c, 15, intf)).data), `GET_PORTCONFIG on interface ${intf}`).to.deep.equal(Array(15).fill(0));
    }
    expect(cp2105.chip.refusals).to.deep.equal([]);
    const cp2102 = await plugged('CP2102');
    expect((await vendorIn(cp2102.device, 0x3711, 2)).status).to.equal('stall');
    expect((await vendorIn(cp2102.device, 0x370c, 15)).status).to.equal('stall');
    expect(cp2102.chip.refusals.map((r) => r.reason)).to.deep.equal(['GET_DEVICEMODE is a CP2105 request', 'GET_PORTCONFIG is not emulated on CP2102']);
  });
});

describe('emulated CP210x: counterfeit CP2102', () => {
  it('GET_PARTNUM with wLength 2: two bytes from a genuine part, one from a counterfeit, whose EMBED_EVENTS stalls', async () => {
    const partnum2 = (d: Dev) => d.controlTransferIn({ requestType: 'vendor', recipient: 'device', request: 0xff, value: 0x370b, index: 0 }, 2);
    const genuine = await plugged('CP2102');
    expect((await partnum2(genuine.device)).data!.byteLength).to.equal(2);
    const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
    const fake = createCp210x('CP2102', { chip: { counterfeit: true } });
    host.plug(fake.device);
    await fake.device.open();
    await fake.device.claimInterface(0);
    expect(bytes((await partnum2(fake.device)).data)).to.deep.equal([0x02]);
    expect((await out(fake.device, 0x15, 0xec)).status).to.equal('stall');
  });
});

describe('emulated CP210x: requests', () => {
  it('line control, break, MHS with masks, GET_MDMSTS, chars, flow, comm status; bad requests stall', async () => {
    const { device, chip } = await plugged('CP2102');
    const p = chip.port(0);
    expect((await out(device, 0x00, 1)).status).to.equal('ok');
    expect(p.enabled).to.equal(true);
    await out(device, 0x03, 0x0722); // 7 data bits, even parity (2), 2 stop bits
    expect(p.lineSettings).to.deep.include({ dataBits: 7, parity: 'even', stopBits: 2 });
    expect(bytes((await inp(device, 0x04, 2)).data)).to.deep.equal([0x22, 0x07]);
    await out(device, 0x05, 1);
    expect(p.uart.outputs.brk).to.equal(true);
    await out(device, 0x05, 0);
    await out(device, 0x07, 0x0101); // DTR on, RTS untouched
    expect(p.uart.outputs).to.deep.include({ dtr: true, rts: false });
    await out(device, 0x07, 0x0202);
    loopbackPlug(p.uart); // RTS -> CTS, DTR -> DSR + DCD
    expect(bytes((await inp(device, 0x08, 1)).data)).to.deep.equal([0x01 | 0x02 | 0x10 | 0x20 | 0x80]);
    await out(device, 0x19, 0, 0, Uint8Array.of(0, 0, 0, 0, 0x11, 0x13));
    expect(bytes((await inp(device, 0x0e, 6)).data)).to.deep.equal([0, 0, 0, 0, 0x11, 0x13]);
    const flow = Uint8Array.of(0x09, 0, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0); // DTR on + CTS handshake, RTS mode 2
    await out(device, 0x13, 0, 0, flow);
    expect(p.flow).to.deep.include({ dtrMode: 1, ctsHandshake: true, rtsMode: 2 });
    expect(bytes((await inp(device, 0x14, 16)).data)).to.deep.equal([...flow]);
    expect((await inp(device, 0x10, 19)).data!.byteLength).to.equal(19);
    const stalls = [
      await out(device, 0x03, 0x0903), // stop code 3
      await out(device, 0x05, 2),
      await out(device, 0x07, 0x0404),
      await out(device, 0x13, 0, 0, Uint8Array.of(3, 0, 0, 0)), // wrong length
      await out(device, 0x00, 2), // IFC_ENABLE takes 0 or 1
      await out(device, 0x42, 0),
    ];
    expect(stalls.map((r) => r.status)).to.deep.equal(['stall', 'stall', 'stall', 'stall', 'stall', 'stall']);
    expect(chip.refusals.length).to.equal(6);
  });

  it('SET_BAUDRATE: each port runs what encodeCp210xBaud says it will; values the part cannot run stall', async () => {
    const cases: [Cp210xPart, number, Parameters<typeof encodeCp210xBaud>[0]][] = [
      ['CP2102', 115200, 'CP2102'], ['CP2102', 100000, 'CP2102'], ['CP2102', 2_000_000, 'CP2102'],
      ['CP2104', 115200, 'CP2104'], ['CP2104', 300, 'CP2104'], ['CP2102N', 3_000_000, 'CP2102N'], ['CP2102N', 921600, 'CP2102N'],
      ['CP2108', 1_500_000, 'CP2108'], ['CP2108', 600000, 'CP2108'],
    ];
    for (const [part, baud, model] of cases) {
      const { device, chip } = await plugged(part);
      const e = encodeCp210xBaud(model, baud);
      expect((await out(device, 0x1e, 0, 0, u32(e.value))).status, `${part} ${baud}`).to.equal('ok');
      expect(chip.port(0).lineSettings.baudRate, `${part} ${baud}`).to.be.closeTo(e.actual, 1);
      expect(bytes((await inp(device, 0x1d, 4)).data)).to.deep.equal([...u32(e.value)]);
    }
    const { device, chip } = await plugged('CP2105');
    // CP2105: interface 0 (ECI) runs the divider, interface 1 (SCI) the AN205 table and no lower than 2400.
    await out(device, 0x1e, 0, 0, u32(encodeCp210xBaud('CP2105-ECI', 115200).value));
    await out(device, 0x1e, 0, 1, u32(encodeCp210xBaud('CP2105-SCI', 100000).value));
    expect(chip.port(0).lineSettings.baudRate).to.be.closeTo(115384.6, 0.1);
    expect(chip.port(1).lineSettings.baudRate).to.equal(115200);
    expect((await out(device, 0x1e, 0, 1, u32(1200))).status).to.equal('stall');
    expect((await out(device, 0x1e, 0, 0, u32(4_000_000))).status).to.equal('stall');
    expect(chip.port(1).lineSettings.baudRate).to.equal(115200);
  });
});

describe('emulated CP210x: data', () => {
  it('loops back through a plug at the computed rate once enabled; nothing moves while disabled', async () => {
    const { device, chip } = await plugged('CP2104');
    loopbackPlug(chip.uart(0));
    const w = device.transferOut(1, Uint8Array.of(1, 2, 3));
    let done = false;
    void w.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).to.equal(false); // IFC disabled: the write waits
    await out(device, 0x00, 1);
    await w;
    const r = await device.transferIn(1, 64);
    expect(bytes(r.data)).to.deep.equal([1, 2, 3]);
  });

  it('event mode: 0xEC escaped, a framing error and a break inserted as LSR events, modem changes as MSR events', async () => {
    const { device, chip } = await plugged('CP2102');
    await out(device, 0x00, 1);
    await out(device, 0x15, 0xec);
    const far = new UartPort({ name: 'far' });
    nullModem(chip.uart(0), far);
    chip.uart(0).injectRx(Uint8Array.of(0x41, 0xec, 0x42, 0x00), [{ offset: 2, kind: 'framing' }, { offset: 3, kind: 'break' }]);
    const parser = new Cp210xEventParser();
    const r = parser.parse(new Uint8Array((await device.transferIn(1, 64)).data!.buffer));
    expect([...r.data]).to.deep.equal([0x41, 0xec, 0x42, 0x00]);
    expect(r.flags).to.deep.equal(['none', 'none', 'framing', 'break']);
    // GET_COMM_STATUS reports framing and break once, then clears.
    const st = await inp(device, 0x10, 19);
    expect(st.data!.getUint32(0, true)).to.equal(0x01 | 0x02);
    expect((await inp(device, 0x10, 19)).data!.getUint32(0, true)).to.equal(0);
    far.setOutputs({ rts: true });
    const m = bytes((await device.transferIn(1, 64)).data);
    expect(m.slice(0, 2)).to.deep.equal([0xec, 0x03]);
    expect(m[2] & 0x11).to.equal(0x11); // CTS changed and is on
    parser.parse(Uint8Array.from(m));
    expect(parser.counts.modemStatus).to.equal(1);
    // IFC_ENABLE(0) ends event mode.
    await out(device, 0x00, 0);
    expect(chip.port(0).escape).to.equal(0);
  });

  it('CP2108: four ports, each its own UART, endpoints and settings; purge clears a port only', async () => {
    const { device, chip } = await plugged('CP2108');
    for (let n = 0; n < 4; n++) {
      await out(device, 0x00, 1, n);
      await out(device, 0x1e, 0, n, u32([9600, 19200, 57600, 115200][n]));
      loopbackPlug(chip.uart(n));
    }
    expect(chip.ports.map((p) => p.lineSettings.baudRate)).to.deep.equal([9600, 19200, 57600, 115200]);
    for (let n = 0; n < 4; n++) await device.transferOut(n + 1, Uint8Array.of(0x30 + n, 0x30 + n));
    await out(device, 0x12, 0x000f, 2);
    expect(chip.port(2).purges).to.deep.equal({ tx: 1, rx: 1 });
    for (const n of [0, 1, 3]) expect(bytes((await device.transferIn(n + 1, 64)).data)).to.deep.equal([0x30 + n, 0x30 + n]);
  });

  it('CTS handshake holds TX until the far end raises RTS', async () => {
    const { device, chip } = await plugged('CP2104');
    const far = new UartPort({ name: 'far' });
    nullModem(chip.uart(0), far);
    await out(device, 0x00, 1);
    await out(device, 0x13, 0, 0, Uint8Array.of(0x08, 0, 0, 0, 0x40, 0, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0));
    let done = false;
    const w = device.transferOut(1, Uint8Array.of(7, 8, 9)).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).to.equal(false);
    far.setOutputs({ rts: true });
    await w;
    expect([...far.read().data]).to.deep.equal([7, 8, 9]);
  });
});
