import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  captureBackend,
  CaptureFormatError,
  formatUsbmonText,
  MemoryCapture,
  parseUsbmonText,
  readUsbmonEvents,
  toPcapng,
  UsbmonFormatError,
  type UsbmonEvent,
} from '../../src/capture/index.ts';
import { MockUsbDevice, MockUsbHost, type MockBehaviour } from '../../mocks/index.ts';
import { fields, warnings } from './tshark.ts';
import { FTDI_DRIVER, ft232rWithLoopback, PL2303_DRIVER, pl2303hxWithLoopback, recordSession } from './sessions.ts';

describe('capture: usbmon events in pcapng', function () {
  this.timeout(20_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'capture-test-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('an FTDI session: tshark reads it without warnings and decodes the baud divisor and latency timer', async () => {
    const s = await recordSession(ft232rWithLoopback(), FTDI_DRIVER, { baudRate: 115200 });
    const file = join(dir, 'ftdi.pcapng');
    s.capture.writeFile(file);
    expect(warnings(file)).to.equal('');
    // the synthesised enumeration: the FT232R's IDs and bcdDevice 0x0600 pick the FTDI dissector
    expect(fields(file, 'usb.bDescriptorType == 1 && usb.idVendor', 'usb.idVendor', 'usb.idProduct', 'usb.bcdDevice')).to.deep.equal([['0x0403', '0x6001', '0x0600']]);
    // SET_BAUD_RATE at 115200 on the FT232R: divisor 26 (3 MHz / 115200), no fraction bits
    expect(fields(file, 'ftdi-ft.bRequest == 3', 'ftdi-ft.lValue', 'ftdi-ft.hValue', 'ftdi-ft.lIndex.b0')).to.deep.equal([['0x1a', '0x00', '0x00']]);
    // the probe reads the latency timer (the chip's 16 ms) and writes it back
    expect(fields(file, 'ftdi-ft.latency_time', 'ftdi-ft.latency_time')).to.deep.equal([['16']]);
    expect(fields(file, 'ftdi-ft.bRequest == 9', 'ftdi-ft.lValue')).to.deep.equal([['16']]);
    // the payload through the loopback, both ways
    expect(fields(file, 'ftdi-ft.if_a_tx_payload', 'ftdi-ft.if_a_tx_payload')).to.deep.equal([['68656c6c6f']]);
    expect(fields(file, 'ftdi-ft.if_a_rx_payload', 'ftdi-ft.if_a_rx_payload')).to.deep.equal([['68656c6c6f']]);
  });

  it('a PL2303 session: SET_LINE_CODING (class 0x21/0x20) carries 9600 8N1 as the 7 data bytes', async () => {
    const s = await recordSession(pl2303hxWithLoopback(), PL2303_DRIVER, { baudRate: 9600 });
    const file = join(dir, 'pl2303.pcapng');
    s.capture.writeFile(file);
    expect(warnings(file)).to.equal('');
    const lc = fields(file, 'usb.bmRequestType == 0x21 && usb.setup.bRequest == 0x20', 'usb.setup.wLength', 'usb.data_fragment');
    expect(lc.length).to.be.greaterThan(0);
    // dwDTERate 9600 LE, bCharFormat 0 (1 stop bit), bParityType 0, bDataBits 8
    for (const [len, data] of lc) expect([len, data]).to.deep.equal(['7', '80250000000008']);
  });

  it('records statuses as usbmon shows them: -115 on submit, -32 stall, -2 timeout, -108 device gone', async () => {
    const behaviour: MockBehaviour = {
      onControl: (s) => (s.bRequest === 1 ? 'stall' : s.bRequest === 2 ? new Promise(() => undefined) : undefined),
    };
    const dev = new MockUsbDevice(
      { idVendor: 0x1209, idProduct: 0x0001, configurations: [{ interfaces: [{ endpoints: [{ bEndpointAddress: 0x81, type: 'bulk' }] }] }] },
      behaviour,
    );
    const host = new MockUsbHost({ kernelDriver: { blocksClaim: false } });
    const capture = new MemoryCapture();
    const backend = capture.wrapBackend(host);
    host.plug(dev);
    await host.flush();
    const [hd] = await backend.getDevices();
    const usb = hd!.usb;
    await usb.open();
    await usb.claimInterface(0);
    const vendor = { requestType: 'vendor', recipient: 'device', index: 0, value: 0 } as const;
    expect((await usb.controlTransferIn({ ...vendor, request: 1 }, 4)).status).to.equal('stall');
    const timedOut = await (usb.controlTransferIn as (s: USBControlTransferParameters, l: number, o: { timeoutMs: number }) => Promise<unknown>)(
      { ...vendor, request: 2 },
      4,
      { timeoutMs: 20 },
    ).catch((e: Error) => e.name);
    expect(timedOut).to.equal('TimeoutError');
    const pending = usb.transferIn(1, 64).catch((e: Error) => e.name);
    await new Promise((r) => setTimeout(r, 10));
    host.unplug(dev);
    expect(await pending).to.equal('NotFoundError');
    await host.close();
    const ev = capture.events().slice(4); // after the synthesised GET_DESCRIPTOR pairs
    expect(ev.map((e) => [e.type, e.transfer, e.endpoint, e.status])).to.deep.equal([
      ['S', 'control', 0x80, -115],
      ['C', 'control', 0x80, -32],
      ['S', 'control', 0x80, -115],
      ['C', 'control', 0x80, -2],
      ['S', 'bulk', 0x81, -115],
      ['C', 'bulk', 0x81, -108],
    ]);
    expect(ev[0]!.setup).to.deep.equal({ bmRequestType: 0xc0, bRequest: 1, wValue: 0, wIndex: 0, wLength: 4 });
    expect(ev[0]!.id).to.equal(ev[1]!.id);
    expect(ev[0]!.dataFlag).to.equal('<');
  });

  it('round-trips through pcapng, the binary header and the text format', async () => {
    const s = await recordSession(ft232rWithLoopback(), FTDI_DRIVER, { baudRate: 115200 });
    const events = s.capture.events();
    const back = readUsbmonEvents(toPcapng(events));
    expect(back).to.deep.equal(events);
    const text = events.map(formatUsbmonText).join('\n');
    const fromText = parseUsbmonText(text);
    expect(fromText.map(formatUsbmonText).join('\n')).to.equal(text);
  });

  it("parses usbmon.rst's own text examples", () => {
    const [s, c] = parseUsbmonText(['d5ea89a0 3575914555 S Ci:1:001:0 s a3 00 0000 0003 0004 4 <', 'd5ea89a0 3575914560 C Ci:1:001:0 0 4 = 01050000'].join('\n'));
    expect(s).to.include({ type: 'S', transfer: 'control', endpoint: 0x80, bus: 1, device: 1, length: 4, dataFlag: '<', status: -115 });
    expect(s!.setup).to.deep.equal({ bmRequestType: 0xa3, bRequest: 0, wValue: 0, wIndex: 3, wLength: 4 });
    expect([...c!.data!]).to.deep.equal([0x01, 0x05, 0x00, 0x00]);
    const [i] = parseUsbmonText('f7b3b2c0 3575914600 C Ii:1:002:1 0:2048 1 = 02');
    expect(i).to.include({ transfer: 'interrupt', endpoint: 0x81, interval: 2048, status: 0 });
  });

  it('captureBackend writes as it goes; the file reads back while open and after close', async () => {
    const host = new MockUsbHost();
    const file = join(dir, 'live.pcapng');
    const cap = captureBackend(host, file);
    const dev = new MockUsbDevice({ idVendor: 0x1209, idProduct: 0x0002, configurations: [{ interfaces: [{ endpoints: [] }] }] });
    host.plug(dev);
    await host.flush();
    const [hd] = await cap.backend.getDevices();
    await hd!.usb.open();
    await hd!.usb.controlTransferOut({ requestType: 'vendor', recipient: 'device', request: 7, value: 1, index: 2 }, Uint8Array.of(9, 8));
    expect(readUsbmonEvents(readFileSync(file)).length).to.equal(6);
    await cap.close();
    await cap.close();
    await host.close();
    const last = readUsbmonEvents(readFileSync(file)).slice(-2);
    expect(last.map((e) => [e.type, e.setup?.bRequest, e.data ? [...e.data] : e.dataFlag])).to.deep.equal([
      ['S', 7, [9, 8]],
      ['C', undefined, '>'],
    ]);
    expect(warnings(file)).to.equal('');
  });

  it('rejects bad files with errors that say what is wrong', () => {
    expect(() => readUsbmonEvents(new Uint8Array(40).fill(0xee))).to.throw(CaptureFormatError, /not a pcap or pcapng/);
    const good = toPcapng([]);
    const cut = new Uint8Array(good.length + 12);
    cut.set(good);
    new DataView(cut.buffer).setUint32(good.length, 6, true);
    new DataView(cut.buffer).setUint32(good.length + 4, 400, true);
    expect(() => readUsbmonEvents(cut)).to.throw(CaptureFormatError, /bad length 400/);
    expect(() => parseUsbmonText('zz 1 S Ci:1:001:0 s a3 00 0000 0003 0004 4 <')).to.throw(UsbmonFormatError, /line 1: URB tag/);
    expect(() => parseUsbmonText('\nd5ea89a0 1 Q Ci:1:001:0 0 0 <')).to.throw(UsbmonFormatError, /line 2: event type 'Q'/);
    const file = join(dir, 'ether.pcap');
    const pcap = new Uint8Array(24 + 16 + 4);
    const v = new DataView(pcap.buffer);
    v.setUint32(0, 0xa1b2c3d4, true);
    v.setUint32(20, 1, true); // LINKTYPE_ETHERNET
    v.setUint32(24 + 8, 4, true);
    writeFileSync(file, pcap);
    expect(() => readUsbmonEvents(readFileSync(file))).to.throw(UsbmonFormatError, /link type 1, not usbmon/);
  });

  it('keeps the enumeration of a device when its events go over the memory limit', async () => {
    const capture = new MemoryCapture({ limitPerDevice: 4 });
    const host = new MockUsbHost();
    const dev = new MockUsbDevice({ idVendor: 0x1209, idProduct: 0x0003, configurations: [{ interfaces: [{ endpoints: [] }] }] });
    host.plug(dev);
    await host.flush();
    const [hd] = await capture.wrapBackend(host).getDevices();
    await hd!.usb.open();
    for (let i = 0; i < 5; i++) await hd!.usb.controlTransferOut({ requestType: 'vendor', recipient: 'device', request: i, value: 0, index: 0 });
    await host.close();
    const ev: UsbmonEvent[] = capture.events([hd!.key]);
    expect(ev.length).to.equal(8);
    expect(ev.slice(0, 4).every((e) => e.setup?.bRequest === 6 || e.type === 'C')).to.equal(true);
    expect(ev.slice(4).map((e) => e.setup?.bRequest)).to.deep.equal([3, undefined, 4, undefined]);
    expect(capture.dropped(hd!.key)).to.equal(6);
    expect(capture.events(['nobody'])).to.deep.equal([]);
  });

  it('rings bounded by bytes too, shared by a group; an attachment whose events all fell out goes with its enumeration', async () => {
    const capture = new MemoryCapture({ limitPerDevice: 1000, bytesPerDevice: 100, groupOf: () => 'dongle' });
    const host = new MockUsbHost();
    const mk = (p: number) => new MockUsbDevice({ idVendor: 0x1209, idProduct: p, configurations: [{ interfaces: [{ endpoints: [] }] }] });
    const a = mk(0x10);
    host.plug(a);
    await host.flush();
    const backend = capture.wrapBackend(host);
    const [ha] = await backend.getDevices();
    await ha!.usb.open();
    const out = { requestType: 'vendor', recipient: 'device', request: 1, value: 0, index: 0 } as const;
    await ha!.usb.controlTransferOut(out, new Uint8Array(40));
    host.unplug(a);
    const b = mk(0x11);
    host.plug(b);
    await host.flush();
    const hb = (await backend.getDevices()).find((d) => d.usb.productId === 0x11)!;
    await hb.usb.open();
    await hb.usb.controlTransferOut(out, new Uint8Array(40));
    expect(capture.devices().sort()).to.deep.equal([ha!.key, hb.key].sort());
    // more 40-byte OUTs go over 100 bytes: the first attachment's events fall out, and with them its enumeration
    await hb.usb.controlTransferOut(out, new Uint8Array(40));
    await hb.usb.controlTransferOut(out, new Uint8Array(40));
    await host.close();
    expect(capture.devices()).to.deep.equal([hb.key]);
    expect(capture.devicesOf('dongle')).to.deep.equal([hb.key]);
    const ev = capture.events();
    expect(ev.filter((e) => e.data?.length === 40).length).to.equal(2);
    expect(ev.slice(0, 2).every((e) => e.setup?.bRequest === 6 || e.type === 'C')).to.equal(true);
    expect(() => new MemoryCapture({ bytesPerDevice: 0 })).to.throw(RangeError, /limits must be >= 1/);
  });

  it("hands the driver the transfer's own promise: recording adds no promise turns", async () => {
    const settled = Promise.resolve({ status: 'ok', bytesWritten: 1 } as USBOutTransferResult);
    const failing = Promise.reject(Object.assign(new Error('gone'), { name: 'NotFoundError' }));
    failing.catch(() => undefined);
    const usb = { configurations: [], configuration: undefined, transferOut: () => settled, transferIn: () => failing } as unknown as USBDevice;
    const capture = new MemoryCapture();
    const w = capture.wrapDevice({ key: 'x', usb, maxTransfersInFlight: 1 });
    expect(w.usb.transferOut(1, Uint8Array.of(7))).to.equal(settled);
    expect(w.usb.transferIn(1, 8)).to.equal(failing);
    await new Promise((r) => setTimeout(r, 0));
    expect(capture.events().slice(2).map((e) => [e.type, e.status])).to.deep.equal([
      ['S', -115],
      ['S', -115],
      ['C', 0],
      ['C', -108],
    ]);
  });
});
