// The emulated FTDI chips on their own (no driver): descriptors, vendor requests and their
// validation, bulk IN packets with the status header, the latency timer, line errors, bounded
// buffers and flow control, and wires between two emulated chips.
import { expect } from 'chai';
import { MockUsbHost, UartPort, loopbackPlug, nullModem, parseLsusb } from '../../../mocks/index.ts';
import {
  FTDI_PARTS,
  FTDI_PART_LIST,
  FtdiEmulationError,
  MOCK_FTDI_FACTORIES,
  mockFt232am,
  mockFt232bm,
  mockFt232h,
  mockFt232r,
  mockFt2232h,
  mockFt4232h,
  mockFtdiFromLsusb,
  mockSio,
  type MockFtdi,
} from '../../../mocks/ftdi/index.ts';
import { LSUSB_FT232R } from '../../fixtures/lsusb.ts';
import { sleep } from '../../helpers/async.ts';


/** Plugs the device and opens it with every interface claimed, as a host driver would. */
async function plugged(f: MockFtdi) {
  const host = new MockUsbHost();
  const hd = host.plug(f.device);
  await f.device.open();
  for (const i of f.device.configuration!.interfaces) {
    await hd.kernelDriver.detach(i.interfaceNumber);
    await f.device.claimInterface(i.interfaceNumber);
  }
  return { host, dev: f.device };
}

const vendorOut = (request: number, value: number, index: number) => ({ requestType: 'vendor' as const, recipient: 'device' as const, request, value, index });

async function out(f: MockFtdi, request: number, value: number, index: number) {
  return (await f.device.controlTransferOut(vendorOut(request, value, index))).status;
}

async function read(f: MockFtdi, ep = 1, length = 64) {
  const r = await f.device.transferIn(ep, length);
  return new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength);
}

describe('mocks/ftdi: descriptors as the parts report them', () => {
  it('every generation: bcdDevice, bcdUSB, one interface per channel with its endpoint pair and packet size', () => {
    for (const part of FTDI_PART_LIST) {
      const f = MOCK_FTDI_FACTORIES[part.chip]();
      const d = f.device.descriptor;
      expect(d.idVendor, part.chip).to.equal(0x0403);
      expect(d.idProduct, part.chip).to.equal(part.idProduct);
      expect(d.bcdDevice, part.chip).to.equal(part.bcdDevice);
      expect(d.bcdUSB, part.chip).to.equal(part.generation === 'sio' || part.generation === 'am' ? 0x0110 : 0x0200);
      const ifs = d.configurations[0]!.interfaces;
      expect(ifs.length, part.chip).to.equal(part.channels);
      ifs.forEach((i, n) => {
        const eps = i.alternates[0]!.endpoints;
        expect(eps.map((e) => e.bEndpointAddress), part.chip).to.deep.equal([0x81 + 2 * n, 0x02 + 2 * n]);
        expect(eps.every((e) => e.type === 'bulk' && e.wMaxPacketSize === (part.generation === 'h' ? 512 : 64)), part.chip).to.equal(true);
        expect(i.alternates[0]!.bInterfaceClass).to.equal(0xff);
      });
      expect(f.chip.channels.length).to.equal(part.channels);
    }
    expect(mockFt2232h().device.productName).to.equal('Dual RS232-HS');
    expect(mockFt4232h().device.descriptor.configurations[0]!.interfaces.length).to.equal(4);
    expect(mockFt232r().device.descriptor.bMaxPacketSize0).to.equal(8);
    expect(mockFt232h().device.descriptor.bMaxPacketSize0).to.equal(64);
  });

  it('an FT232BM without a serial number reports 0x200, the AM bcdDevice (the chip bug)', () => {
    const bm = mockFt232bm({ serialNumber: null });
    expect(bm.device.descriptor.bcdDevice).to.equal(0x0200);
    expect(bm.device.descriptor.iSerialNumber).to.equal(0);
    expect(bm.part.chip).to.equal('FT232BM');
    expect(mockFt232bm().device.descriptor.bcdDevice).to.equal(0x0400);
  });

  it('builds from `lsusb -v` text of a real FT232R, and from a dual-channel FT2232H at full speed', async () => {
    const f = mockFtdiFromLsusb(LSUSB_FT232R);
    expect(f.part.chip).to.equal('FT232R');
    expect(f.device.serialNumber).to.equal('A50285BI');
    expect(f.chip.channel(0).packetSize).to.equal(64);
    const h = mockFtdiFromLsusb(LSUSB_FT2232H_FULL_SPEED);
    expect(h.part.chip).to.equal('FT2232H');
    expect(h.chip.channels.map((c) => [c.inEndpoint, c.outEndpoint, c.packetSize])).to.deep.equal([
      [0x81, 0x02, 64],
      [0x83, 0x04, 64],
    ]);
    // The lsusb-built chip works: a loopback through channel B.
    loopbackPlug(h.uart(1));
    await plugged(h);
    await h.device.transferOut(4, new Uint8Array([1, 2, 3]));
    await sleep(20);
    expect([...(await read(h, 3))].slice(2)).to.deep.equal([1, 2, 3]);
    expect(() => mockFtdiFromLsusb(LSUSB_FT232R.replace('6.00', '3.00'))).to.throw(FtdiEmulationError, /0x0300/);
    expect(mockFtdiFromLsusb(LSUSB_FT232R.replace('6.00', '3.00'), { chip: 'FT232R' }).part.chip).to.equal('FT232R');
    expect(parseLsusb(LSUSB_FT232R).bcdDevice).to.equal(0x0600);
  });
});

describe('mocks/ftdi: vendor requests, validated as the chip does', () => {
  it('applies SET_BAUD_RATE at the rate the divisor gives, SET_DATA, MODEM_CTRL, SET_FLOW_CTRL to the UART', async () => {
    const f = mockFt232r();
    await plugged(f);
    expect(await out(f, 3, 0x001a, 0)).to.equal('ok'); // 3 MHz / 26 = 115384.6
    const ch = f.channel();
    expect(ch.state.baudRate).to.be.closeTo(3_000_000 / 26, 1e-6);
    expect(f.uart().settings.baudRate).to.equal(ch.state.baudRate);
    expect(await out(f, 4, 0x1207, 0)).to.equal('ok'); // 7 data bits, even, 2 stop bits
    expect(f.uart().settings).to.deep.include({ dataBits: 7, parity: 'even', stopBits: 2 });
    expect(await out(f, 1, 0x0303, 0)).to.equal('ok');
    expect(f.uart().outputs).to.deep.equal({ dtr: true, rts: true, brk: false });
    expect(await out(f, 1, 0x0100, 0)).to.equal('ok'); // DTR low, RTS untouched
    expect(f.uart().outputs).to.deep.equal({ dtr: false, rts: true, brk: false });
    expect(await out(f, 4, 0x4008, 0)).to.equal('ok');
    expect(f.uart().outputs.brk).to.equal(true);
    expect(await out(f, 2, 0x1311, 0x0400)).to.equal('ok');
    expect(ch.state).to.deep.include({ flow: 'xon-xoff', xon: 0x11, xoff: 0x13 });
    expect(await out(f, 9, 2, 0)).to.equal('ok');
    const lat = await f.device.controlTransferIn({ ...vendorOut(0x0a, 0, 0) }, 1);
    expect(lat.data!.getUint8(0)).to.equal(2);
    // libftdi's wIndex 1 on a single-channel non-H chip is taken too
    expect(await out(f, 1, 0x0202, 1)).to.equal('ok');
  });

  it('stalls what the silicon refuses: a bad divisor, a wrong channel, the wrong direction, unknown requests', async () => {
    const r = mockFt232r();
    await plugged(r);
    expect(await out(r, 3, 0x0001, 0x0002)).to.equal('stall'); // bit 17 on a non-H chip
    expect(await out(r, 3, 0x4001 & 0x3fff, 0)).to.equal('ok'); // 1: the 1.5 divisor, 2 Mbaud
    expect(r.channel().state.baudRate).to.equal(2_000_000);
    expect(await out(r, 1, 0x0101, 2)).to.equal('stall'); // channel 2 on a one-channel part
    expect(await out(r, 4, 0x0006, 0)).to.equal('stall'); // 6 data bits
    expect(await out(r, 4, 0x0508, 0)).to.equal('stall'); // parity code 5
    expect(await out(r, 0, 3, 0)).to.equal('stall'); // RESET 3
    expect(await out(r, 9, 0, 0)).to.equal('stall'); // latency 0
    expect(await out(r, 0x42, 0, 0)).to.equal('stall');
    expect((await r.device.controlTransferIn(vendorOut(4, 8, 0), 0)).status).to.equal('stall'); // SET_DATA as IN
    expect(r.chip.stalls.map((s) => s.request)).to.deep.equal(['SET_BAUD_RATE', 'MODEM_CTRL', 'SET_DATA', 'SET_DATA', 'RESET', 'SET_LATENCY_TIMER', '0x42', 'SET_DATA']);
    expect(r.chip.stalls[0]!.reason).to.match(/bit 17/);

    const h = mockFt2232h();
    await plugged(h);
    expect(await out(h, 3, 0xc068, 0x0202)).to.equal('ok'); // 115200 on channel B
    expect(h.channel(1).state.baudRate).to.be.closeTo(12_000_000 / 104.125, 1e-6);
    expect(h.channel(0).state.baudRate).to.equal(9600); // channel A untouched
    expect(await out(h, 3, 0xc068, 0x0203)).to.equal('stall'); // channel C on a dual part
    expect(await out(h, 1, 0x0101, 0)).to.equal('stall'); // the FT2232H takes no selector 0
    expect(await out(h, 1, 0x0101, 3)).to.equal('stall');
    const x = mockFt232h();
    await plugged(x);
    expect(await out(x, 1, 0x0101, 0)).to.equal('ok'); // the FT232H does
    expect(x.uart().outputs.dtr).to.equal(true);

    const am = mockFt232am();
    await plugged(am);
    expect((await am.device.controlTransferIn(vendorOut(0x0a, 0, 0), 1)).status).to.equal('stall');
    expect(await out(am, 3, 0x0001, 0)).to.equal('stall'); // no 1.5 divisor on the AM
  });

  it('GET_MODEM_STATUS: 2 bytes from the input pins and the transmitter (1 byte on the SIO)', async () => {
    const f = mockFt232r();
    await plugged(f);
    f.channel().setInputs({ cts: true, ri: true });
    const r = await f.device.controlTransferIn(vendorOut(5, 0, 0), 2);
    expect([r.data!.getUint8(0), r.data!.getUint8(1)]).to.deep.equal([0x01 | 0x10 | 0x40, 0x60]);
    const sio = mockSio();
    await plugged(sio);
    const s = await sio.device.controlTransferIn(vendorOut(5, 0, 0), 2);
    expect(s.data!.byteLength).to.equal(1);
  });
});

describe('mocks/ftdi: bulk IN packets', () => {
  it('sends a status-only packet every latency period while idle', async () => {
    const f = mockFt232r();
    await plugged(f);
    await out(f, 9, 10, 0); // 10 ms
    const t0 = performance.now();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await read(f);
      expect([...p]).to.deep.equal([0x01, 0x60]);
      times.push(performance.now() - t0);
    }
    // The first goes at once (the timer had long expired), then one per period (never early;
    // late by however busy the machine is).
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    for (const g of gaps) expect(g).to.be.within(9, 150);
    expect(f.channel().stats.statusPackets).to.equal(5);
  });

  it('packs received bytes behind the 2 status bytes, at most wMaxPacketSize per packet; a full packet does not end the transfer', async () => {
    const f = mockFt232r();
    await plugged(f);
    await read(f); // the first status packet
    const data = Uint8Array.from({ length: 200 }, (_, i) => i);
    f.channel().injectRx(data);
    const t = await read(f, 1, 1024);
    // 62 + 62 + 62 + 14 bytes in 64, 64, 64, 16-byte packets
    expect(t.length).to.equal(200 + 4 * 2);
    const payload: number[] = [];
    for (let at = 0; at < t.length; at += 64) {
      expect(t[at]).to.equal(0x01);
      payload.push(...t.subarray(at + 2, at + 64));
    }
    expect(payload).to.deep.equal([...data]);
  });

  it('a byte with a line error travels alone, with its error bits; the data after it follows at once', async () => {
    const f = mockFt232r();
    await plugged(f);
    await read(f);
    f.channel().injectRx([0x41, 0x42, 0x43, 0x44], [{ offset: 2, kind: 'parity' }]);
    const t = await read(f, 1, 1024);
    expect([...t]).to.deep.equal([0x01, 0x60, 0x41, 0x42]);
    expect([...(await read(f))]).to.deep.equal([0x01, 0x60 | 0x04, 0x43]);
    expect([...(await read(f))]).to.deep.equal([0x01, 0x60, 0x44]);
    f.channel().injectBreak();
    await sleep(20);
    expect([...(await read(f))]).to.deep.equal([0x01, 0x60 | 0x10, 0x00]);
    f.channel().injectLineError('framing', 0x7f);
    await sleep(20);
    expect([...(await read(f))]).to.deep.equal([0x01, 0x60 | 0x08, 0x7f]);
  });

  it('an event character sends the buffer at once; an error character replaces bytes with parity errors', async () => {
    const f = mockFt232r();
    await plugged(f);
    await out(f, 9, 255, 0); // the longest latency: only the event char can flush this early
    await read(f);
    await out(f, 6, 0x100 | 0x0a, 0);
    await out(f, 7, 0x100 | 0x3f, 0);
    const t0 = performance.now();
    f.channel().injectRx([0x61, 0x0a]);
    expect([...(await read(f))]).to.deep.equal([0x01, 0x60, 0x61, 0x0a]);
    expect(performance.now() - t0).to.be.below(200);
    f.channel().injectRx([0x62], [{ offset: 0, kind: 'parity' }]);
    expect([...(await read(f))]).to.deep.equal([0x01, 0x64, 0x3f]);
  });

  it('a modem-line change sends a status packet at once', async () => {
    const f = mockFt232r();
    await plugged(f);
    await out(f, 9, 255, 0);
    await read(f);
    const pending = read(f);
    await sleep(10);
    f.channel().setInputs({ dsr: true, dcd: true });
    const t0 = performance.now();
    expect([...(await pending)]).to.deep.equal([0x01 | 0x20 | 0x80, 0x60]);
    expect(performance.now() - t0).to.be.below(200);
  });
});

describe('mocks/ftdi: bounded buffers, overrun and flow control', () => {
  it('the RX buffer is bounded: a paced line into a chip nobody reads overruns, and the next byte says so', async () => {
    const f = mockFt232r({ pacing: true });
    const far = mockFt232r({ pacing: true });
    nullModem(f.uart(), far.uart());
    await plugged(f);
    await out(f, 3, 0x0003, 0); // 1 Mbaud
    far.uart().setSettings({ baudRate: 1_000_000 });
    await far.uart().write(new Uint8Array(1000).fill(0x55)); // ~10 ms on the wire
    await sleep(5);
    const ch = f.channel();
    expect(ch.rxBuffered).to.equal(FTDI_PARTS.FT232R.rxBuffer); // full, no more
    expect(ch.overruns).to.equal(1000 - FTDI_PARTS.FT232R.rxBuffer);
    // Drain: the 256 bytes that fit; then the next byte from the line says bytes were lost.
    const got: number[] = [];
    let flagged: number[] = [];
    const drain = async (n: number) => {
      while (got.length < n) {
        const t = await read(f, 1, 4096);
        for (let at = 0; at < t.length; at += 64) {
          if (t[at + 1]! & 0x02) flagged = [...t.subarray(at + 2, at + 64)];
          got.push(...t.subarray(at + 2, Math.min(at + 64, t.length)));
        }
      }
    };
    await drain(256);
    expect(flagged).to.deep.equal([]);
    await far.uart().write([0x99]);
    await drain(257);
    expect(flagged).to.deep.equal([0x99]);
  });

  it('the TX buffer is bounded: bulk OUT NAKs while CTS holds the transmitter under RTS/CTS', async () => {
    const f = mockFt232r();
    await plugged(f);
    await out(f, 2, 0, 0x0100); // RTS/CTS
    f.channel().setInputs({ cts: false });
    let done = false;
    const w = f.device.transferOut(2, new Uint8Array(1000)).then((r) => {
      done = true;
      return r;
    });
    await sleep(30);
    expect(done).to.equal(false);
    expect(f.channel().txBuffered).to.equal(FTDI_PARTS.FT232R.txBuffer);
    expect(f.uart().stats.txBytes).to.equal(0);
    f.channel().setInputs({ cts: true });
    expect((await w).bytesWritten).to.equal(1000);
    await sleep(5);
    expect(f.uart().stats.txBytes).to.equal(1000);
  });

  it('RTS/CTS between two chips: a receiver whose host does not read holds the sender; nothing is lost', async () => {
    const a = mockFt232r({ pacing: true });
    const b = mockFt232r({ pacing: true });
    nullModem(a.uart(), b.uart());
    await plugged(a);
    await plugged(b);
    for (const f of [a, b]) {
      await out(f, 3, 0x0003, 0); // 1 Mbaud
      await out(f, 2, 0, 0x0100);
    }
    const data = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
    const w = a.device.transferOut(2, data);
    await sleep(60); // 3000 bytes need 30 ms of line time
    expect(b.channel().rxBuffered).to.be.at.most(FTDI_PARTS.FT232R.rxBuffer);
    expect(b.uart().outputs.rts).to.equal(false); // b's buffer is full: its RTS holds a
    expect(b.channel().overruns).to.equal(0);
    const got: number[] = [];
    while (got.length < data.length) {
      const t = await read(b, 1, 4096);
      for (let at = 0; at < t.length; at += 64) got.push(...t.subarray(at + 2, Math.min(at + 64, t.length)));
    }
    await w;
    expect(got).to.deep.equal([...data]);
    expect(b.channel().overruns).to.equal(0);
  });

  it('XON/XOFF: a received XOFF stops the transmitter until XON; the characters stay out of the data', async () => {
    const f = mockFt232r();
    const far = new UartPort({ name: 'far' });
    nullModem(f.uart(), far);
    await plugged(f);
    await out(f, 2, 0x1311, 0x0400);
    await far.write([0x13]);
    const w = f.device.transferOut(2, new Uint8Array([1, 2, 3]));
    await sleep(20);
    expect(far.rxAvailable).to.equal(0);
    await far.write([0x11]);
    await w;
    await sleep(5);
    expect([...far.read().data]).to.deep.equal([1, 2, 3]);
    expect(f.channel().rxBuffered).to.equal(0);
  });

  it('purge 1 drops the host\'s unsent output, purge 2 the unread input', async () => {
    const f = mockFt232r({ pacing: true });
    const far = mockFt232r();
    nullModem(f.uart(), far.uart());
    await plugged(f);
    await out(f, 3, 0x2710, 0); // 300 baud: the bytes stay queued
    void f.device.transferOut(2, new Uint8Array(100));
    await sleep(10);
    expect(f.channel().txBuffered).to.be.above(0);
    f.channel().injectRx([1, 2, 3]);
    expect(await out(f, 0, 1, 0)).to.equal('ok');
    expect(f.channel().txBuffered).to.equal(0);
    expect(f.channel().rxBuffered).to.equal(3);
    expect(await out(f, 0, 2, 0)).to.equal('ok');
    expect(f.channel().rxBuffered).to.equal(0);
  });
});

describe('mocks/ftdi: wires between two emulated chips', () => {
  it('FTDI to FTDI at matching settings: bytes and DTR/RTS cross', async () => {
    const a = mockFt232h();
    const b = mockFt4232h();
    nullModem(a.uart(), b.uart(2));
    await plugged(a);
    await plugged(b);
    await out(a, 1, 0x0303, 1);
    expect(b.uart(2).inputs).to.deep.include({ cts: true, dsr: true, dcd: true });
    await a.device.transferOut(2, new Uint8Array([10, 20, 30]));
    await sleep(30);
    expect([...(await read(b, 5, 512))].slice(2)).to.deep.equal([10, 20, 30]);
  });

  it('FTDI to FTDI at mismatched baud rates: the receiver gets framing errors or garbage, as a real wire gives', async () => {
    const a = mockFt232r();
    const b = mockFt232r();
    nullModem(a.uart(), b.uart());
    await plugged(a);
    await plugged(b);
    await out(a, 3, 0x001a, 0); // 115200
    await out(b, 3, 0x4138, 0); // 9600
    const sent = new TextEncoder().encode('The quick brown fox jumps over the lazy dog');
    await a.device.transferOut(2, sent);
    await sleep(40);
    let errors = 0;
    const got: number[] = [];
    while (b.channel().rxBuffered > 0 || got.length === 0) {
      const t = await read(b, 1, 1024);
      for (let at = 0; at < t.length; at += 64) {
        if (t[at + 1]! & 0x1e) errors++;
        got.push(...t.subarray(at + 2, Math.min(at + 64, t.length)));
      }
      if (b.channel().rxBuffered === 0) break;
    }
    expect(got.length).to.be.below(sent.length);
    expect(errors).to.be.above(0);
  });
});

// An FT2232H behind a full-speed hub: the same part, 64-byte packets.
const LSUSB_FT2232H_FULL_SPEED = `
Bus 003 Device 012: ID 0403:6010 Future Technology Devices International, Ltd FT2232C/D/H Dual UART/FIFO IC
Device Descriptor:
  bLength                18
  bDescriptorType         1
  bcdUSB               2.00
  bDeviceClass            0
  bDeviceSubClass         0
  bDeviceProtocol         0
  bMaxPacketSize0        64
  idVendor           0x0403 Future Technology Devices International, Ltd
  idProduct          0x6010 FT2232C/D/H Dual UART/FIFO IC
  bcdDevice            7.00
  iManufacturer           1 FTDI
  iProduct                2 Dual RS232-HS
  iSerial                 0
  bNumConfigurations      1
  Configuration Descriptor:
    bLength                 9
    bDescriptorType         2
    wTotalLength       0x0037
    bNumInterfaces          2
    bConfigurationValue     1
    iConfiguration          0
    bmAttributes         0x80
      (Bus Powered)
    MaxPower              500mA
    Interface Descriptor:
      bLength                 9
      bDescriptorType         4
      bInterfaceNumber        0
      bAlternateSetting       0
      bNumEndpoints           2
      bInterfaceClass       255 Vendor Specific Class
      bInterfaceSubClass    255 Vendor Specific Subclass
      bInterfaceProtocol    255 Vendor Specific Protocol
      iInterface              2 Dual RS232-HS
      Endpoint Descriptor:
        bLength                 7
        bDescriptorType         5
        bEndpointAddress     0x81  EP 1 IN
        bmAttributes            2
          Transfer Type            Bulk
          Synch Type               None
          Usage Type               Data
        wMaxPacketSize     0x0040  1x 64 bytes
        bInterval               0
      Endpoint Descriptor:
        bLength                 7
        bDescriptorType         5
        bEndpointAddress     0x02  EP 2 OUT
        bmAttributes            2
          Transfer Type            Bulk
          Synch Type               None
          Usage Type               Data
        wMaxPacketSize     0x0040  1x 64 bytes
        bInterval               0
    Interface Descriptor:
      bLength                 9
      bDescriptorType         4
      bInterfaceNumber        1
      bAlternateSetting       0
      bNumEndpoints           2
      bInterfaceClass       255 Vendor Specific Class
      bInterfaceSubClass    255 Vendor Specific Subclass
      bInterfaceProtocol    255 Vendor Specific Protocol
      iInterface              2 Dual RS232-HS
      Endpoint Descriptor:
        bLength                 7
        bDescriptorType         5
        bEndpointAddress     0x83  EP 3 IN
        bmAttributes            2
          Transfer Type            Bulk
          Synch Type               None
          Usage Type               Data
        wMaxPacketSize     0x0040  1x 64 bytes
        bInterval               0
      Endpoint Descriptor:
        bLength                 7
        bDescriptorType         5
        bEndpointAddress     0x04  EP 4 OUT
        bmAttributes            2
          Transfer Type            Bulk
          Synch Type               None
          Usage Type               Data
        wMaxPacketSize     0x0040  1x 64 bytes
        bInterval               0
`;
