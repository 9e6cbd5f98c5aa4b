// The emulated CH34x driven with raw WebUSB calls in the order Linux's ch341.c sends them, and the
// driver-side encoders (drivers/ch341) checked against the chip's own decoding.
import { expect } from 'chai';
import fc from 'fast-check';
import { encodeCh341Baud } from '../../../drivers/ch341/baud.ts';
import { encodeCh341Lcr } from '../../../drivers/ch341/lcr.ts';
import { encodeCh341ModemControl, parseCh341InterruptStatus } from '../../../drivers/ch341/status.ts';
import { loopbackPlug, MockUsbHost, nullModem, UartPort } from '../../../mocks/index.ts';
import { ch34xChipBaud, createCh34x, CH34X_PART_NAMES, CH34X_PARTS, type Ch34xPart } from '../../../mocks/ch34x/index.ts';

async function plugged(part: Ch34xPart) {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
  const emu = createCh34x(part);
  host.plug(emu.device);
  await emu.device.open();
  await emu.device.claimInterface(0);
  return emu;
}
type Dev = Awaited<ReturnType<typeof plugged>>['device'];
const out = (d: Dev, request: number, value: number, index = 0) => d.controlTransferOut({ requestType: 'vendor', recipient: 'device', request, value, index });
const inp = (d: Dev, request: number, value = 0, length = 2) => d.controlTransferIn({ requestType: 'vendor', recipient: 'device', request, value, index: 0 }, length);
const bytes = (dv: DataView | undefined) => (dv ? [...new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength)] : []);

describe('emulated CH34x', () => {
  it('descriptors: 1a86, vendor class ff/01/02, ep0 8 bytes, bulk 0x82/0x02 of 32, interrupt 0x81; READ_VERSION per part', async () => {
    for (const part of CH34X_PART_NAMES) {
      const { device } = await plugged(part);
      expect(device.descriptor, part).to.deep.include({ idVendor: 0x1a86, idProduct: CH34X_PARTS[part].idProduct, bMaxPacketSize0: 8 });
      const a = device.descriptor.configurations[0].interfaces[0].alternates[0];
      expect([a.bInterfaceClass, a.bInterfaceSubClass, a.bInterfaceProtocol]).to.deep.equal([0xff, 0x01, 0x02]);
      expect(a.endpoints.map((e) => [e.bEndpointAddress, e.wMaxPacketSize])).to.deep.equal([[0x82, 32], [0x02, 32], [0x81, 8]]);
      expect(bytes((await inp(device, 0x5f)).data), part).to.deep.equal([CH34X_PARTS[part].version, 0]);
    }
  });

  it("Linux's probe and set_termios: SERIAL_INIT, WRITE_REG 0x1312 baud, 0x2518 LCR, MODEM_CTRL, READ_REG 0x0706", async () => {
    const { device, chip } = await plugged('CH340');
    expect((await out(device, 0xa1, 0)).status).to.equal('ok');
    const e = encodeCh341Baud(115200, chip.version);
    await out(device, 0x9a, 0x1312, e.wIndex);
    await out(device, 0x9a, 0x2518, encodeCh341Lcr({ dataBits: 7, parity: 'even', stopBits: 2 }));
    expect(chip.lineSettings).to.deep.include({ dataBits: 7, parity: 'even', stopBits: 2 });
    expect(chip.lineSettings.baudRate).to.be.closeTo(e.actual, 1e-6);
    await out(device, 0xa4, encodeCh341ModemControl(true, false));
    expect(chip.controlLines).to.deep.include({ dtr: true, rts: false });
    loopbackPlug(chip.uart); // DTR -> DSR + DCD
    expect(bytes((await inp(device, 0x95, 0x0706)).data)).to.deep.equal([~(0x02 | 0x08) & 0xff, 0xee]);
  });

  it('property: for any rate and version, the chip runs the rate the driver encoder claims', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4_000_000 }), fc.constantFrom(0x27, 0x30, 0x31), (baud, version) => {
        const e = encodeCh341Baud(baud, version);
        expect(ch34xChipBaud(e.wIndex & 0xff, e.wIndex >> 8)).to.be.closeTo(e.actual, 1e-6);
      }),
    );
  });

  it('version 0x27 keeps 8N1 whatever LCR says; a version above 0x27 without 0x80 holds RX until 32 bytes', async () => {
    const old = await plugged('CH340-v27');
    await out(old.device, 0x9a, 0x2518, encodeCh341Lcr({ dataBits: 7, parity: 'odd', stopBits: 1 }));
    expect(old.chip.lineSettings).to.deep.include({ dataBits: 8, parity: 'none' });
    const { device, chip } = await plugged('CH341');
    loopbackPlug(chip.uart);
    await out(device, 0x9a, 0x1312, encodeCh341Baud(9600, 0x27).wIndex); // without the flag
    await device.transferOut(2, Uint8Array.of(1, 2, 3));
    let got = false;
    const r = device.transferIn(2, 32).then((x) => ((got = true), x));
    await new Promise((res) => setTimeout(res, 20));
    expect(got).to.equal(false);
    await out(device, 0x9a, 0x1312, encodeCh341Baud(9600, 0x30).wIndex);
    await device.transferOut(2, Uint8Array.of(4));
    expect(bytes((await r).data)).to.deep.equal([1, 2, 3, 4]);
  });

  it('interrupt packets carry the inverted lines; unreported changes merge with the multiple-change bit', async () => {
    const { device, chip } = await plugged('CH340');
    const far = new UartPort({ name: 'far' });
    nullModem(chip.uart, far);
    far.setOutputs({ rts: true });
    far.setOutputs({ dtr: true });
    const p = parseCh341InterruptStatus(new Uint8Array((await device.transferIn(1, 8)).data!.buffer));
    expect(p).to.deep.equal({ cts: true, dsr: true, dcd: true, ri: false, multipleChanges: true });
  });

  it('break through READ_REG/WRITE_REG 0x1805; the quirky part stalls register 0x05 and the undivided clock below ps 3', async () => {
    const { device, chip } = await plugged('CH340');
    const [r05, lcr] = bytes((await inp(device, 0x95, 0x1805)).data);
    await out(device, 0x9a, 0x1805, ((lcr & ~0x40) << 8) | (r05 & ~0x01));
    expect(chip.controlLines.brk).to.equal(true);
    await out(device, 0x9a, 0x1805, ((lcr | 0x40) << 8) | (r05 | 0x01));
    expect(chip.controlLines.brk).to.equal(false);
    const q = await plugged('CH340-quirky');
    expect((await inp(q.device, 0x95, 0x0005)).status).to.equal('stall');
    expect((await out(q.device, 0x9a, 0x1312, encodeCh341Baud(1000, 0x31).wIndex)).status).to.equal('stall');
    expect((await out(q.device, 0x9a, 0x1312, encodeCh341Baud(1000, 0x31, { limitedPrescaler: true }).wIndex)).status).to.equal('ok');
    expect(q.chip.lineSettings.baudRate).to.be.closeTo(48e6 / (512 * 94), 1e-6);
  });

  it('stalls what a chip would: unknown requests, wrong directions, divisor below 2', async () => {
    const { device, chip } = await plugged('CH340');
    expect((await out(device, 0x42, 0)).status).to.equal('stall');
    expect((await inp(device, 0x9a, 0x1312)).status).to.equal('stall');
    expect((await out(device, 0x9a, 0x1312, 0xff03)).status).to.equal('stall');
    expect(chip.refusals.length).to.equal(3);
  });

  it('loops back at the encoded rate', async () => {
    const { device, chip } = await plugged('CH340');
    await out(device, 0x9a, 0x1312, encodeCh341Baud(921600, chip.version).wIndex);
    loopbackPlug(chip.uart);
    await device.transferOut(2, Uint8Array.of(9, 8, 7));
    expect(bytes((await device.transferIn(2, 32)).data)).to.deep.equal([9, 8, 7]);
  });
});
