import { expect } from 'chai';
import { LsusbParseError, MockUsbHost, mockDeviceFromLsusb, parseLsusb, parseLsusbAll } from '../../mocks/index.ts';
import { LSUSB_FT232R as FT232R, LSUSB_PICO, LSUSB_PL2303HX as PL2303HX } from '../fixtures/lsusb.ts';

// The Pico's listing as a newer lsusb prints it on another bus: trailing blanks after values,
// bcdUSB 2.10 with its Binary Object Store. Class-specific blocks, the interface association
// and the BOS are all skipped.
const CDC_ACM =
  LSUSB_PICO.replace('Bus 001', 'Bus 003')
    .replace('bcdUSB               2.00', 'bcdUSB               2.10')
    .replace(/(\S)\n/g, '$1 \n')
    .concat('Binary Object Store Descriptor:\n  bLength                 5\n  bDescriptorType        15\n  wTotalLength       0x0021\n  bNumDeviceCaps          1\nDevice Status:     0x0000\n  (Bus Powered)\n');

function parseError(text: string): LsusbParseError {
  try {
    parseLsusbAll(text);
  } catch (err) {
    expect(err).to.be.instanceOf(LsusbParseError);
    return err as LsusbParseError;
  }
  throw new Error('expected LsusbParseError');
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('mocks/lsusb', () => {
  it('parses an FT232R', () => {
    const d = parseLsusb(FT232R);
    expect(d).to.deep.include({
      bcdUSB: 0x0200,
      bDeviceClass: 0,
      bMaxPacketSize0: 8,
      idVendor: 0x0403,
      idProduct: 0x6001,
      bcdDevice: 0x0600,
      iManufacturer: 1,
      iProduct: 2,
      iSerialNumber: 3,
      manufacturer: 'FTDI',
      product: 'FT232R USB UART',
      serialNumber: 'A50285BI',
    });
    expect(d.configurations).to.have.length(1);
    const c = d.configurations[0];
    expect(c).to.deep.include({ bConfigurationValue: 1, iConfiguration: 0, bmAttributes: 0xa0, maxPowerMa: 90 });
    expect(c.interfaces).to.have.length(1);
    const alt = c.interfaces[0].alternates[0];
    expect(alt).to.deep.include({ bAlternateSetting: 0, bInterfaceClass: 255, bInterfaceSubClass: 255, bInterfaceProtocol: 255, iInterface: 2 });
    expect(alt.endpoints).to.deep.equal([
      { bEndpointAddress: 0x81, type: 'bulk', wMaxPacketSize: 64, bInterval: 0 },
      { bEndpointAddress: 0x02, type: 'bulk', wMaxPacketSize: 64, bInterval: 0 },
    ]);
    expect(parseLsusbAll(FT232R)[0]).to.deep.include({ busNumber: 1, deviceNumber: 7, line: 2 });
  });

  it('parses a PL2303HX', () => {
    const d = parseLsusb(PL2303HX);
    expect(d).to.deep.include({
      bcdUSB: 0x0110,
      bMaxPacketSize0: 64,
      idVendor: 0x067b,
      idProduct: 0x2303,
      bcdDevice: 0x0300,
      manufacturer: 'Prolific Technology Inc.',
      product: 'USB-Serial Controller',
      iSerialNumber: 0,
      serialNumber: null,
    });
    const alt = d.configurations[0].interfaces[0].alternates[0];
    expect(alt).to.deep.include({ bInterfaceClass: 255, bInterfaceSubClass: 0, iInterface: 0 });
    expect(alt.endpoints).to.deep.equal([
      { bEndpointAddress: 0x81, type: 'interrupt', wMaxPacketSize: 10, bInterval: 1 },
      { bEndpointAddress: 0x02, type: 'bulk', wMaxPacketSize: 64, bInterval: 0 },
      { bEndpointAddress: 0x83, type: 'bulk', wMaxPacketSize: 64, bInterval: 0 },
    ]);
  });

  it('keeps string indexes when lsusb could not read the strings (not run as root)', () => {
    const text = PL2303HX.replace('Device Descriptor:', "Couldn't open device, some information will be missing\nDevice Descriptor:")
      .replace('1 Prolific Technology Inc.', '1 ')
      .replace('2 USB-Serial Controller', '2 ');
    const d = parseLsusb(text);
    expect(d.iManufacturer).to.equal(1);
    expect(d.manufacturer).to.equal(null);
    expect(d.iProduct).to.equal(2);
    expect(d.product).to.equal(null);
  });

  it('skips class-specific blocks, interface associations and BOS; reads several interfaces', () => {
    const d = parseLsusb(CDC_ACM);
    expect(d).to.deep.include({ bcdUSB: 0x0210, bDeviceClass: 239, bDeviceSubClass: 2, bDeviceProtocol: 1, bcdDevice: 0x0100 });
    expect(d.configurations[0].interfaces.map((i) => i.bInterfaceNumber)).to.deep.equal([0, 1, 2]);
    expect(d.configurations[0].interfaces[0].alternates[0].iInterface).to.equal(4);
    expect(d.strings.get(4)).to.equal('Board CDC');
    expect(d.configurations[0].interfaces[0].alternates[0].endpoints).to.deep.equal([
      { bEndpointAddress: 0x81, type: 'interrupt', wMaxPacketSize: 8, bInterval: 16 },
    ]);
    expect(d.configurations[0].maxPowerMa).to.equal(250);
  });

  it('reads every device of a full `lsusb -v` listing', () => {
    const all = parseLsusbAll(FT232R + PL2303HX + CDC_ACM);
    expect(all.map((d) => d.descriptor.idProduct)).to.deep.equal([0x6001, 0x2303, 0x000a]);
    expect(all.map((d) => d.busNumber)).to.deep.equal([1, 2, 3]);
    expect(() => parseLsusb(FT232R + PL2303HX)).to.throw(LsusbParseError, /2 devices/);
  });

  it('builds a working mock device', async () => {
    const dev = mockDeviceFromLsusb(FT232R);
    const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
    host.plug(dev);
    expect(dev.serialNumber).to.equal('A50285BI');
    expect(dev.deviceVersionMajor).to.equal(6);
    await dev.open();
    await dev.claimInterface(0);
    expect((await dev.transferOut(2, new Uint8Array([1]))).status).to.equal('ok');
  });

  it('names the line of bad text', () => {
    const badVid = FT232R.replace('0x0403 Future', '0xZZZZ Future');
    let e = parseError(badVid);
    expect(e.lineNumber).to.equal(lineOf(badVid, '0xZZZZ'));
    expect(e.message).to.match(/idVendor/).and.match(new RegExp(`line ${e.lineNumber}`));

    const noVid = FT232R.replace(/ {2}idVendor.*\n/, '');
    e = parseError(noVid);
    expect(e.message).to.match(/idVendor missing/);
    expect(e.lineNumber).to.equal(lineOf(noVid, 'Device Descriptor:'));

    const orphan = 'Device Descriptor:\n  idVendor 0x0001\n  idProduct 0x0002\n  Endpoint Descriptor:\n    bEndpointAddress 0x81\n';
    e = parseError(orphan);
    expect(e.lineNumber).to.equal(4);
    expect(e.message).to.match(/outside an Interface/);

    const missingEp = PL2303HX.replace('bNumEndpoints           3', 'bNumEndpoints           4');
    e = parseError(missingEp);
    expect(e.lineNumber).to.equal(lineOf(missingEp, 'Interface Descriptor:'));
    expect(e.message).to.match(/bNumEndpoints says 4/);

    const badBcd = FT232R.replace('bcdDevice            6.00', 'bcdDevice            six');
    expect(parseError(badBcd).lineNumber).to.equal(lineOf(badBcd, 'bcdDevice'));

    const badType = FT232R.replace('Transfer Type            Bulk', 'Transfer Type            Teleport');
    expect(parseError(badType).message).to.match(/Teleport/);

    const badEp = FT232R.replace('0x02  EP 2 OUT', '0x00  EP 0 OUT');
    expect(parseError(badEp).message).to.match(/descriptor not valid.*0x0/);

    expect(parseError('').message).to.match(/no "Device Descriptor:"/);
    expect(parseError('hello\nworld\n').lineNumber).to.equal(1);
  });
});
