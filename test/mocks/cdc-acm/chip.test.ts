// The emulated CDC-ACM boards: the configuration descriptor they send is walked by the driver's
// walker (drivers/cdc-acm) the way acm_probe would; class requests, notifications split into
// interrupt packets and reassembled, break only with the capability, line errors, loopback.
import { expect } from 'chai';
import { findAcmFunction, walkConfiguration } from '../../../drivers/cdc-acm/descriptors.ts';
import { encodeAcmLineCoding } from '../../../drivers/cdc-acm/line-coding.ts';
import { acmQuirksFor } from '../../../drivers/cdc-acm/quirks.ts';
import { AcmNotificationAssembler } from '../../../drivers/cdc-acm/serial-state.ts';
import { loopbackPlug, MockUsbHost, nullModem, UartPort } from '../../../mocks/index.ts';
import { createCdcAcm, type CdcAcmBoard, type CdcAcmChipOptions } from '../../../mocks/cdc-acm/index.ts';

async function plugged(board: CdcAcmBoard, chip?: CdcAcmChipOptions) {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
  const emu = createCdcAcm(board, { chip });
  host.plug(emu.device);
  await emu.device.open();
  await emu.device.claimInterface(0);
  await emu.device.claimInterface(1);
  return emu;
}
type Dev = Awaited<ReturnType<typeof plugged>>['device'];
const classOut = (d: Dev, request: number, value: number, data?: Uint8Array, index = 0) =>
  d.controlTransferOut({ requestType: 'class', recipient: 'interface', request, value, index }, data as Uint8Array<ArrayBuffer> | undefined);
const bytes = (dv: DataView | undefined) => (dv ? [...new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength)] : []);
async function configBytes(d: Dev): Promise<Uint8Array> {
  const r = await d.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 6, value: 0x0200, index: 0 }, 512);
  return new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength);
}
async function notifications(d: Dev, ep: number, packet: number, a = new AcmNotificationAssembler()) {
  for (;;) {
    const got = a.push(new Uint8Array((await d.transferIn(ep, packet)).data!.buffer));
    if (got.length) return got;
  }
}

describe('emulated CDC-ACM boards', () => {
  it('descriptors as acm_probe reads them: Uno by union, Pico with IAD and a free vendor interface, Motorola Q only by quirk', async () => {
    const uno = walkConfiguration(await configBytes((await plugged('uno')).device));
    expect(findAcmFunction(uno, 0)).to.deep.include({ foundBy: 'union', dataInterface: 1, capabilities: 0x06 });
    const pico = walkConfiguration(await configBytes((await plugged('pico')).device));
    expect(pico.associations).to.have.length(1);
    expect(pico.interfaces.map((i) => [i.number, i.cls])).to.deep.equal([[0, 2], [1, 0x0a], [2, 0xff]]);
    const f = findAcmFunction(pico, 0);
    expect([f.notifyEndpoint.address, f.notifyEndpoint.maxPacketSize, f.bulkIn.address, f.bulkOut.address]).to.deep.equal([0x81, 8, 0x82, 0x02]);
    const q = walkConfiguration(await configBytes((await plugged('no-union')).device));
    expect(() => findAcmFunction(q, 0)).to.throw(/no class-specific/);
    expect(findAcmFunction(q, 0, acmQuirksFor(0x22b8, 0x7000))).to.deep.include({ foundBy: 'quirk', dataInterface: 1 });
  });

  it('SET/GET_LINE_CODING run the UART; SET_CONTROL_LINE_STATE drives DTR/RTS; bad requests stall', async () => {
    const { device, chip } = await plugged('uno');
    const lc = encodeAcmLineCoding({ baudRate: 115200, stopBits: 2, parity: 'odd', dataBits: 7 });
    expect((await classOut(device, 0x20, 0, lc)).status).to.equal('ok');
    expect(chip.lineSettings).to.deep.equal({ baudRate: 115200, dataBits: 7, parity: 'odd', stopBits: 2 });
    const back = await device.controlTransferIn({ requestType: 'class', recipient: 'interface', request: 0x21, value: 0, index: 0 }, 7);
    expect(bytes(back.data)).to.deep.equal([...lc]);
    await classOut(device, 0x22, 0x0003);
    expect(chip.controlLines).to.deep.include({ dtr: true, rts: true });
    const bad = [
      await classOut(device, 0x20, 0, Uint8Array.of(0x80, 0x25, 0, 0, 0, 0, 16)), // 16 data bits
      await classOut(device, 0x20, 0, Uint8Array.of(0x80, 0x25, 0, 0, 3, 0, 8)),
      await classOut(device, 0x22, 0x0004),
      await classOut(device, 0x20, 0, lc, 1), // to the data interface
      await classOut(device, 0x30, 0),
    ];
    expect(bad.map((r) => r.status)).to.deep.equal(['stall', 'stall', 'stall', 'stall', 'stall']);
  });

  it('SEND_BREAK: timed and 0xFFFF-until-0 on the Uno (caps bit 2); the Pico (caps 0x02) stalls it', async () => {
    const { device, chip } = await plugged('uno');
    await classOut(device, 0x23, 0xffff);
    expect(chip.controlLines.brk).to.equal(true);
    await classOut(device, 0x23, 0);
    expect(chip.controlLines.brk).to.equal(false);
    await classOut(device, 0x23, 5);
    expect(chip.controlLines.brk).to.equal(true);
    await new Promise((r) => setTimeout(r, 30));
    expect(chip.controlLines.brk).to.equal(false);
    const pico = await plugged('pico');
    expect((await classOut(pico.device, 0x23, 0xffff)).status).to.equal('stall');
  });

  it('SERIAL_STATE: DCD/DSR follow the far DTR; 10-byte notifications cross an 8-byte endpoint in two packets', async () => {
    const { device, chip } = await plugged('pico');
    const a = new AcmNotificationAssembler();
    const first = await notifications(device, 1, 8, a); // the state at plug
    expect(first[0].serialState?.raw).to.equal(0);
    const far = new UartPort({ name: 'far' });
    nullModem(chip.uart, far);
    far.setOutputs({ dtr: true });
    const [n] = await notifications(device, 1, 8, a);
    expect(n.serialState).to.deep.include({ dcd: true, dsr: true });
    expect(n.wIndex).to.equal(0);
  });

  it('line errors: framing and overrun in a notification with the bytes passed on; a break is reported, its NUL dropped', async () => {
    const { device, chip } = await plugged('uno', { serialState: true }); // the Uno's layout, a firmware that reports
    await notifications(device, 2, 8);
    chip.uart.injectRx(Uint8Array.of(0x41, 0x42, 0x00, 0x43), [{ offset: 1, kind: 'framing' }, { offset: 2, kind: 'break' }, { offset: 3, kind: 'overrun' }]);
    expect(bytes((await device.transferIn(3, 64)).data)).to.deep.equal([0x41, 0x42, 0x43]);
    const [n] = await notifications(device, 2, 8);
    expect(n.serialState).to.deep.include({ framing: true, brk: true, overrun: true, parity: false });
  });

  it('loops back byte-exact, and the Pico reset interface takes its two vendor requests', async () => {
    const { device, chip } = await plugged('pico');
    loopbackPlug(chip.uart);
    const data = Uint8Array.from({ length: 200 }, (_, k) => k);
    await device.transferOut(2, data);
    const got: number[] = [];
    while (got.length < 200) got.push(...bytes((await device.transferIn(2, 256)).data));
    expect(got).to.deep.equal([...data]);
    await device.claimInterface(2);
    await device.controlTransferOut({ requestType: 'vendor', recipient: 'interface', request: 0x01, value: 0, index: 2 });
    expect(chip.resetRequests).to.deep.equal([{ bRequest: 0x01, wValue: 0 }]);
    expect((await device.controlTransferOut({ requestType: 'vendor', recipient: 'interface', request: 0x05, value: 0, index: 2 })).status).to.equal('stall');
  });
});
