import { expect } from 'chai';
import { readUsbmonEvents, parseUsbmonText, formatUsbmonText } from '../../../src/capture/index.ts';
import { createReplayLab, formatDiff, mockFt232r, ReplayCaptureError } from '../../../mocks/index.ts';
import { FTDI_DRIVER, ft232rWithLoopback, PL2303_DRIVER, pl2303hxWithLoopback, recordSession, replaySession } from '../../capture/sessions.ts';

describe('replay: a capture as an emulated device', function () {
  this.timeout(10_000);

  it('an FTDI session replayed against the same driver gives an empty diff', async () => {
    const s = await recordSession(ft232rWithLoopback(), FTDI_DRIVER, { baudRate: 115200 });
    const lab = createReplayLab(readUsbmonEvents(s.capture.pcapng()));
    expect(lab.device.vendorId).to.equal(0x0403);
    const diff = await replaySession(lab, FTDI_DRIVER, { baudRate: 115200 });
    expect(diff.recorded).to.be.greaterThan(5);
    expect(diff.differences, formatDiff(diff).join('\n')).to.equal(0);
    expect(lab.behaviour.unrecorded).to.deep.equal([]);
  });

  it('a PL2303 session replayed against the same driver gives an empty diff', async () => {
    const s = await recordSession(pl2303hxWithLoopback(), PL2303_DRIVER, { baudRate: 9600 });
    const lab = createReplayLab(readUsbmonEvents(s.capture.pcapng()));
    const diff = await replaySession(lab, PL2303_DRIVER, { baudRate: 9600 });
    expect(diff.differences, formatDiff(diff).join('\n')).to.equal(0);
  });

  it('a changed request shows in the diff, in order, as recorded-only and sent-only', async () => {
    const s = await recordSession(ft232rWithLoopback(), FTDI_DRIVER, { baudRate: 115200 });
    // The new divisor is not in the capture: the FT232R emulation answers it (as fallback).
    const lab = createReplayLab(readUsbmonEvents(s.capture.pcapng()), { fallback: mockFt232r().chip });
    const diff = await replaySession(lab, FTDI_DRIVER, { baudRate: 9600 });
    expect(lab.behaviour.unrecorded.map((u) => [u.setup.bRequest, u.setup.wValue, u.answeredBy])).to.deep.equal([[0x03, 0x4138, 'fallback']]);
    const changed = diff.entries.filter((e) => e.mark !== '=');
    // SET_BAUD_RATE (0x03): 115200 is divisor 0x001a on the FT232R, 9600 is 0x4138
    expect(changed.map((e) => [e.mark, e.op.kind === 'control' ? [e.op.bRequest, e.op.wValue] : null])).to.deep.equal([
      ['-', [0x03, 0x001a]],
      ['+', [0x03, 0x4138]],
    ]);
    expect(formatDiff(diff).filter((l) => !l.startsWith('='))).to.deep.equal([
      `- r${String(changed[0]!.recordedIndex).padEnd(3)}      control OUT 40 vendor/device bRequest 0x03 wValue 0x001a wIndex 0x0000 wLength 0`,
      `+      s${String(changed[1]!.sentIndex).padEnd(3)} control OUT 40 vendor/device bRequest 0x03 wValue 0x4138 wIndex 0x0000 wLength 0`,
    ]);
  });

  it('a request the capture lacks stalls and is logged, or goes to the chip emulation picked as fallback', async () => {
    const s = await recordSession(ft232rWithLoopback(), FTDI_DRIVER, { baudRate: 115200 });
    const events = readUsbmonEvents(s.capture.pcapng());
    const stalling = createReplayLab(events);
    // GET_MODEM_STATUS (0x05): ftdi_sio reads the modem lines from the bulk IN status bytes instead.
    const setup = { requestType: 'vendor', recipient: 'device', request: 0x05, value: 0, index: 1 } as const;
    stalling.plugAll();
    await stalling.flush();
    await stalling.device.open();
    expect((await stalling.device.controlTransferIn(setup, 1)).status).to.equal('stall');
    expect(stalling.behaviour.unrecorded.map((u) => [u.setup.bRequest, u.answeredBy])).to.deep.equal([[0x05, 'stall']]);
    await stalling.close();

    const falling = createReplayLab(events, { fallback: mockFt232r().chip });
    falling.plugAll();
    await falling.flush();
    await falling.device.open();
    const r = await falling.device.controlTransferIn(setup, 2);
    expect(r.status).to.equal('ok');
    expect(r.data?.byteLength).to.equal(2);
    expect(falling.behaviour.unrecorded.map((u) => u.answeredBy)).to.deep.equal(['fallback']);
    await falling.close();
  });

  it("reads usbmon's text format and rejects a capture without descriptors by name", async () => {
    const s = await recordSession(ft232rWithLoopback(), FTDI_DRIVER, { baudRate: 115200 });
    const text = s.capture.events().map(formatUsbmonText).join('\n');
    const lab = createReplayLab(parseUsbmonText(text));
    const diff = await replaySession(lab, FTDI_DRIVER, { baudRate: 115200 });
    expect(diff.differences, formatDiff(diff).join('\n')).to.equal(0);
    const noDescriptors = s.capture.events().filter((e) => e.setup?.bRequest !== 6 || e.setup.bmRequestType !== 0x80);
    expect(() => createReplayLab(noDescriptors)).to.throw(ReplayCaptureError, /GET_DESCRIPTOR\(device\)/);
    expect(() => createReplayLab(s.capture.events(), { device: '9:9' })).to.throw(ReplayCaptureError, /no device 9:9/);
  });
});
