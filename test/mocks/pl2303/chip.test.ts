// The emulated PL2303 on its own, driven with raw WebUSB calls (no driver): descriptors, the
// register file per type, class requests, notifications, held error bytes, idle ZLPs, purges.
import { expect } from 'chai';
import { encodeDeviceDescriptor, MockLabError, MockUsbHost, type MockUsbDevice } from '../../../mocks/index.ts';
import {
  createPl2303,
  pl2303FromDescriptor,
  pl2303FromLsusb,
  PL2303_PARTS,
  PL2303_PART_NAMES,
  type EmulatedPl2303,
  type Pl2303Part,
} from '../../../mocks/pl2303/index.ts';
import { LSUSB_PL2303HX as PL2303HX_LSUSB } from '../../fixtures/lsusb.ts';
import { sleep } from '../../helpers/async.ts';

async function plugged(part: Pl2303Part, options: Parameters<typeof createPl2303>[1] = {}): Promise<EmulatedPl2303 & { host: MockUsbHost }> {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
  const emu = createPl2303(part, options);
  host.plug(emu.device);
  await emu.device.open();
  await emu.device.claimInterface(0);
  return { ...emu, host };
}

const vendorIn = (d: MockUsbDevice, request: number, value: number) =>
  d.controlTransferIn({ requestType: 'vendor', recipient: 'device', request, value, index: 0 }, 1);
const vendorOut = (d: MockUsbDevice, request: number, value: number, index: number) =>
  d.controlTransferOut({ requestType: 'vendor', recipient: 'device', request, value, index });
const classIn = (d: MockUsbDevice, request: number, length: number) =>
  d.controlTransferIn({ requestType: 'class', recipient: 'interface', request, value: 0, index: 0 }, length);
const classOut = (d: MockUsbDevice, request: number, value: number, data?: Uint8Array) =>
  d.controlTransferOut({ requestType: 'class', recipient: 'interface', request, value, index: 0 }, data as Uint8Array<ArrayBuffer> | undefined);
const bytes = (dv: DataView | undefined) => (dv ? [...new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength)] : []);

describe('emulated PL2303: descriptors', () => {
  it('each part reports its class, ep0 size, bcdUSB, bcdDevice and the HX endpoint layout', () => {
    for (const part of PL2303_PART_NAMES) {
      const info = PL2303_PARTS[part];
      const { device } = createPl2303(part);
      const d = device.descriptor;
      expect(d, part).to.deep.include({
        idVendor: 0x067b,
        idProduct: info.idProduct,
        bDeviceClass: info.bDeviceClass,
        bMaxPacketSize0: info.bMaxPacketSize0,
        bcdUSB: info.bcdUSB,
        bcdDevice: info.bcdDevice,
      });
      const eps = d.configurations[0].interfaces[0].alternates[0].endpoints;
      expect(eps.map((e) => [e.bEndpointAddress, e.type, e.wMaxPacketSize]), part).to.deep.equal([
        [0x81, 'interrupt', 10],
        [0x02, 'bulk', 64],
        [0x83, 'bulk', 64],
      ]);
    }
  });

  it('the HX answers GET_DESCRIPTOR(device) with the bytes a real one sends', () => {
    const { device } = createPl2303('PL2303HX');
    expect([...encodeDeviceDescriptor(device.descriptor)]).to.deep.equal([
      0x12, 0x01, 0x10, 0x01, 0x00, 0x00, 0x00, 0x40, 0x7b, 0x06, 0x03, 0x23, 0x00, 0x03, 0x01, 0x02, 0x00, 0x01,
    ]);
  });

  it('is built from lsusb -v text or descriptor data; an ambiguous descriptor needs a type', () => {
    const { chip, device } = pl2303FromLsusb(PL2303HX_LSUSB);
    expect(chip.type).to.equal('HX');
    expect(device.productName).to.equal('USB-Serial Controller');
    expect(pl2303FromLsusb(PL2303HX_LSUSB.replace('bcdDevice            3.00', 'bcdDevice            4.00')).chip.type).to.equal('HXD');
    const oem = { idVendor: 0x0557, idProduct: 0x2008, bcdUSB: 0x0200, bcdDevice: 0x0300, configurations: [{ interfaces: [{}] }] };
    expect(() => pl2303FromDescriptor(oem)).to.throw(MockLabError, /pass \{ type \}/);
    expect(pl2303FromDescriptor(oem, { type: 'TA' }).chip.type).to.equal('TA');
    expect(pl2303FromDescriptor({ ...oem, idVendor: 0x067b, idProduct: 0x23c3 }).chip.type).to.equal('HXN'); // GT
  });
});

describe('emulated PL2303: vendor register file', () => {
  it('non-HXN: registers read at n | 0x80, start-up reads answer, a read of a write address stalls', async () => {
    const { device, chip } = await plugged('PL2303HX');
    expect((await vendorIn(device, 0x01, 0x8484)).status).to.equal('ok');
    expect((await vendorIn(device, 0x01, 0x8383)).status).to.equal('ok');
    expect((await vendorIn(device, 0x01, 0x8080)).status).to.equal('ok');
    expect((await vendorOut(device, 0x01, 0x0002, 0x44)).status).to.equal('ok');
    expect(bytes((await vendorIn(device, 0x01, 0x0082)).data)).to.deep.equal([0x44]);
    expect((await vendorIn(device, 0x01, 0x0002)).status).to.equal('stall');
    expect(chip.refusals.at(-1)?.reason).to.match(/read at n \| 0x80/);
    expect((await vendorIn(device, 0x81, 0x000a)).status).to.equal('stall'); // HXN's request
  });

  it('HXN: its own requests (0x81 read, 0x80 write, registers read where written); the legacy one stalls', async () => {
    const { device, chip } = await plugged('PL2303GT');
    expect((await vendorIn(device, 0x01, 0x8080)).status).to.equal('stall'); // what tells a GT from a TA
    expect((await vendorOut(device, 0x01, 0x0000, 0x01)).status).to.equal('stall');
    expect(bytes((await vendorIn(device, 0x81, 0x000a)).data)).to.deep.equal([0x1c]);
    expect((await vendorOut(device, 0x80, 0x000a, 0x18)).status).to.equal('ok');
    expect(chip.flowControl).to.equal('rts-cts');
    expect(bytes((await vendorIn(device, 0x81, 0x000a)).data)).to.deep.equal([0x18]);
  });

  it('TA and TB answer the 0x8080 probe', async () => {
    for (const part of ['PL2303TA', 'PL2303TB'] as const) {
      const { device } = await plugged(part);
      expect((await vendorIn(device, 0x01, 0x8080)).status, part).to.equal('ok');
    }
  });

  it('flow modes from register 0 (0x40 on H, 0x60/0xc0 on the rest) and 0x0a on HXN', async () => {
    const h = await plugged('PL2303H');
    await vendorOut(h.device, 0x01, 0, 0x41);
    expect(h.chip.flowControl).to.equal('rts-cts');
    await vendorOut(h.device, 0x01, 0, 0xc1);
    expect(h.chip.flowControl).to.equal('none'); // no XON/XOFF on the legacy part
    const hx = await plugged('PL2303HX');
    await vendorOut(hx.device, 0x01, 0, 0xc1);
    expect(hx.chip.flowControl).to.equal('xon-xoff');
    const g = await plugged('PL2303GS');
    await vendorOut(g.device, 0x80, 0x0a, 0x0c);
    expect(g.chip.flowControl).to.equal('xon-xoff');
  });
});

describe('emulated PL2303: class requests', () => {
  it('stores SET_LINE, reads it back with GET_LINE and runs the UART at the decoded rate', async () => {
    const { device, chip } = await plugged('PL2303TA');
    expect(bytes((await classIn(device, 0x21, 7)).data)).to.deep.equal([0x80, 0x25, 0, 0, 0, 0, 0]); // power-on: 9600, no data bits until the host sets them
    const line = Uint8Array.of(0xa9, 0xa6, 0x01, 0x80, 2, 1, 7); // alt divisor m=1705 e=11, 2 stop, odd, 7 bits
    expect((await classOut(device, 0x20, 0, line)).status).to.equal('ok');
    expect(bytes((await classIn(device, 0x21, 7)).data)).to.deep.equal([...line]);
    expect(chip.lineSettings.dataBits).to.equal(7);
    expect(chip.lineSettings.parity).to.equal('odd');
    expect(chip.lineSettings.stopBits).to.equal(2);
    expect(chip.lineSettings.baudRate).to.be.closeTo(109.97, 0.01);
  });

  it('refuses malformed line codings; an odd plain rate runs at 9600 (what real parts do) and is recorded', async () => {
    const { device, chip } = await plugged('PL2303HX');
    expect((await classOut(device, 0x20, 0, Uint8Array.of(0x80, 0x25, 0, 0, 3, 0, 8))).status).to.equal('stall');
    expect((await classOut(device, 0x20, 0, Uint8Array.of(0x80, 0x25, 0, 0, 0, 5, 8))).status).to.equal('stall');
    expect((await classOut(device, 0x20, 0, Uint8Array.of(0x80, 0x25, 0, 0, 0, 0, 9))).status).to.equal('stall');
    expect((await classOut(device, 0x20, 0, Uint8Array.of(0x40, 0x24, 0x01, 0, 0, 0, 8))).status).to.equal('ok'); // 74816
    expect(chip.rejectedBauds).to.have.length(1);
    expect(chip.lineSettings.baudRate).to.equal(9600);
  });

  it('SET_CONTROL drives DTR/RTS, BREAK the TX line; the HXD clone stalls GET_LINE and BREAK', async () => {
    const { device, chip } = await plugged('PL2303HXD');
    await classOut(device, 0x22, 0x03);
    expect(chip.uart.outputs).to.deep.equal({ dtr: true, rts: true, brk: false });
    await classOut(device, 0x23, 0xffff);
    expect(chip.uart.outputs.brk).to.equal(true);
    await classOut(device, 0x23, 0);
    const clone = await plugged('PL2303HXD-clone');
    expect((await classIn(clone.device, 0x21, 7)).status).to.equal('stall');
    expect((await classOut(clone.device, 0x23, 0xffff)).status).to.equal('stall');
    expect((await classOut(clone.device, 0x20, 0, Uint8Array.of(0x80, 0x25, 0, 0, 0, 0, 8))).status).to.equal('ok');
    expect(clone.chip.refusals.map((r) => r.reason)).to.deep.equal(['this HXD clone stalls GET_LINE', 'this HXD clone stalls BREAK']);
  });
});

describe('emulated PL2303: interrupt and bulk IN', () => {
  it('notifications are 10 bytes, 0xA1 0x20 ..., the UART status at offset 8', async () => {
    const { device, chip } = await plugged('PL2303HX');
    const first = await device.transferIn(1, 10); // the lines as they are at power-up
    expect(bytes(first.data)).to.deep.equal([0xa1, 0x20, 0, 0, 0, 0, 2, 0, 0x00, 0]);
    chip.uart.setInputs({ cts: true, dsr: true, dcd: true, ri: true });
    const n = await device.transferIn(1, 10);
    expect(bytes(n.data)).to.deep.equal([0xa1, 0x20, 0, 0, 0, 0, 2, 0, 0x8b, 0]);
  });

  it('holds an error byte until its notification is taken, then starts a transfer with it', async () => {
    const { device, chip } = await plugged('PL2303HX');
    await device.transferIn(1, 10); // power-up status
    const int = device.transferIn(1, 10);
    chip.uart.injectRx([1, 2, 3, 4], [{ offset: 2, kind: 'parity' }]);
    const a = await device.transferIn(3, 256);
    expect(bytes(a.data)).to.deep.equal([1, 2]); // short packet: stops before the error byte
    const b = device.transferIn(3, 256);
    const status = await int;
    expect(bytes(status.data)[8]).to.equal(0x20); // parity
    expect(bytes((await b).data)).to.deep.equal([3, 4]);
  });

  it('without an interrupt reader, error bytes are not held back (nothing deadlocks)', async () => {
    const { device, chip } = await plugged('PL2303HX');
    chip.uart.injectRx([1, 2, 3], [{ offset: 0, kind: 'framing' }]);
    expect(bytes((await device.transferIn(3, 256)).data)).to.deep.equal([1, 2, 3]);
    expect(chip.pendingNotifications).to.equal(1); // one report: the power-up status with the framing error
  });

  it('holds one report while nobody polls: the present lines, with the errors latched since the last one', async () => {
    const { device, chip } = await plugged('PL2303HX');
    await device.transferIn(1, 10); // power-up status
    chip.uart.setInputs({ cts: true, dsr: true });
    chip.uart.injectRx([7], [{ offset: 0, kind: 'framing' }]);
    await device.transferIn(3, 256); // the errored byte (no interrupt reader: not held back)
    chip.uart.setInputs({ cts: false, dsr: true, dcd: true });
    expect(chip.pendingNotifications).to.equal(1);
    const n = await device.transferIn(1, 10);
    expect(bytes(n.data)[8]).to.equal(0x10 | 0x02 | 0x01); // framing, DSR, DCD; CTS dropped again
    expect(chip.pendingNotifications).to.equal(0);
    expect(chip.stats.notificationsMerged).to.equal(2);
  });

  it('ends a transfer that stopped on a full packet with a zero-length packet once the line is idle', async () => {
    const { device, chip } = await plugged('PL2303HX');
    chip.uart.injectRx(new Uint8Array(128).fill(9));
    const r = await device.transferIn(3, 1024);
    expect(r.data?.byteLength).to.equal(128);
    expect(chip.stats.zeroLengthPackets).to.equal(1);
  });

  it('purges: register 9 empties the receive FIFO, register 8 drops what waits to be sent', async () => {
    const { device, chip } = await plugged('PL2303HX', { chip: { uart: { pacing: true } } });
    chip.uart.injectRx([1, 2, 3]);
    await vendorOut(device, 0x01, 9, 0);
    expect(chip.uart.rxAvailable).to.equal(0);
    const out = device.transferOut(2, new Uint8Array(1000)); // ~1 s at 9600
    await sleep(10);
    expect(chip.uart.txPending).to.be.greaterThan(0);
    await vendorOut(device, 0x01, 8, 0);
    expect(chip.uart.txPending).to.equal(0);
    expect((await out).status).to.equal('ok');
    expect(chip.stats.purges).to.deep.equal({ tx: 1, rx: 1 });
  });
});
