import { expect } from 'chai';
import {
  DescriptorError,
  MockUsbDevice,
  MockUsbHost,
  bcdVersion,
  defineDevice,
  encodeConfigurationDescriptor,
  encodeDeviceDescriptor,
  encodeStringDescriptor,
  type DeviceSpec,
} from '../../mocks/index.ts';

const spec: DeviceSpec = {
  idVendor: 0x0403,
  idProduct: 0x6001,
  bcdUSB: 0x0210,
  bcdDevice: 0x0600,
  bMaxPacketSize0: 8,
  manufacturer: 'FTDI',
  product: 'FT232R USB UART',
  serialNumber: 'A50285BI',
  configurations: [
    {
      maxPowerMa: 90,
      bmAttributes: 0xa0,
      interfaces: [
        {
          bInterfaceClass: 0xff,
          bInterfaceSubClass: 0xff,
          bInterfaceProtocol: 0xff,
          interfaceName: 'FT232R USB UART',
          endpoints: [
            { bEndpointAddress: 0x81, type: 'bulk', wMaxPacketSize: 64 },
            { bEndpointAddress: 0x02, type: 'bulk', wMaxPacketSize: 64 },
          ],
        },
        {
          bInterfaceNumber: 1,
          alternates: [
            { bInterfaceClass: 0x0a },
            {
              bAlternateSetting: 1,
              bInterfaceClass: 0x0a,
              endpoints: [
                { bEndpointAddress: 0x83, type: 'interrupt', wMaxPacketSize: 10, bInterval: 1 },
                { bEndpointAddress: 0x84, type: 'isochronous', wMaxPacketSize: 0x1000 | 512 },
              ],
            },
          ],
        },
      ],
    },
  ],
};

describe('mocks/descriptors', () => {
  it('fills defaults and assigns string indexes, sharing equal strings', () => {
    const d = defineDevice(spec);
    expect(d.iManufacturer).to.equal(1);
    expect(d.iProduct).to.equal(2);
    expect(d.iSerialNumber).to.equal(3);
    expect(d.configurations[0].interfaces[0].alternates[0].iInterface).to.equal(2);
    expect(d.configurations[0].bConfigurationValue).to.equal(1);
    expect(d.configurations[0].interfaces[1].alternates.map((a) => a.bAlternateSetting)).to.deep.equal([0, 1]);
    expect(d.bDeviceClass).to.equal(0);
    expect(d.langIds).to.deep.equal([0x0409]);
    expect(Object.isFrozen(d.configurations[0].interfaces[0])).to.equal(true);
    expect(defineDevice(d)).to.equal(d); // already normalised: same object
  });

  it('keeps explicit indexes; index 0 means no string; a nonzero index may lack its string', () => {
    const d = defineDevice({ idVendor: 1, idProduct: 2, iManufacturer: 5, manufacturer: 'M', iProduct: 0, iSerialNumber: 7 });
    expect(d.iManufacturer).to.equal(5);
    expect(d.manufacturer).to.equal('M');
    expect(d.product).to.equal(null);
    expect(d.iSerialNumber).to.equal(7);
    expect(d.serialNumber).to.equal(null);
    expect(() => defineDevice({ idVendor: 1, idProduct: 2, iProduct: 0, product: 'x' })).to.throw(DescriptorError, /iProduct is 0/);
  });

  it('rejects descriptors no device could have', () => {
    const bad: [string, DeviceSpec, RegExp][] = [
      ['endpoint 0', { idVendor: 1, idProduct: 1, configurations: [{ interfaces: [{ endpoints: [{ bEndpointAddress: 0x80, type: 'bulk' }] }] }] }, /not a valid/],
      ['duplicate endpoint', { idVendor: 1, idProduct: 1, configurations: [{ interfaces: [{ endpoints: [{ bEndpointAddress: 1, type: 'bulk' }, { bEndpointAddress: 1, type: 'bulk' }] }] }] }, /twice/],
      ['duplicate interface', { idVendor: 1, idProduct: 1, configurations: [{ interfaces: [{ bInterfaceNumber: 0 }, { bInterfaceNumber: 0 }] }] }, /interface 0 appears twice/],
      ['no alt 0', { idVendor: 1, idProduct: 1, configurations: [{ interfaces: [{ alternates: [{ bAlternateSetting: 1 }] }] }] }, /no alternate setting 0/],
      ['bad ep0 size', { idVendor: 1, idProduct: 1, bMaxPacketSize0: 12 }, /bMaxPacketSize0/],
      ['vid too big', { idVendor: 0x10000, idProduct: 1 }, /idVendor/],
      ['endpoint in two interfaces', { idVendor: 1, idProduct: 1, configurations: [{ interfaces: [{ endpoints: [{ bEndpointAddress: 0x81, type: 'bulk' }] }, { endpoints: [{ bEndpointAddress: 0x81, type: 'bulk' }] }] }] }, /interfaces 0 and 1/],
      ['config value 0', { idVendor: 1, idProduct: 1, configurations: [{ bConfigurationValue: 0 }] }, /unconfigured/],
      ['string clash', { idVendor: 1, idProduct: 1, iManufacturer: 1, manufacturer: 'a', iProduct: 1, product: 'b' }, /two texts/],
    ];
    for (const [what, s, re] of bad) expect(() => defineDevice(s), what).to.throw(DescriptorError, re);
  });

  it('splits BCD fields the way WebUSB does', () => {
    expect(bcdVersion(0x0210)).to.deep.equal({ major: 2, minor: 1, subminor: 0 });
    expect(bcdVersion(0x0600)).to.deep.equal({ major: 6, minor: 0, subminor: 0 });
    expect(bcdVersion(0x1234)).to.deep.equal({ major: 0x12, minor: 3, subminor: 4 });
  });

  it('exposes WebUSB attributes and live configuration objects on the device', async () => {
    const host = new MockUsbHost({ kernelDriver: { bound: 'none' } });
    const dev = new MockUsbDevice(spec);
    host.plug(dev);
    expect(dev.usbVersionMajor).to.equal(2);
    expect(dev.usbVersionMinor).to.equal(1);
    expect(dev.usbVersionSubminor).to.equal(0);
    expect(dev.deviceVersionMajor).to.equal(6);
    expect(dev.deviceVersionMinor).to.equal(0);
    expect(dev.vendorId).to.equal(0x0403);
    expect(dev.productId).to.equal(0x6001);
    expect(dev.manufacturerName).to.equal('FTDI');
    expect(dev.productName).to.equal('FT232R USB UART');
    expect(dev.serialNumber).to.equal('A50285BI');
    expect(dev.configurations).to.have.length(1);
    const cfg = dev.configuration!;
    expect(cfg).to.equal(dev.configurations[0]);
    expect(cfg.configurationValue).to.equal(1);
    expect(cfg.configurationName).to.equal(null);
    const [i0, i1] = cfg.interfaces;
    expect(i0.interfaceNumber).to.equal(0);
    expect(i0.alternate.interfaceClass).to.equal(0xff);
    expect(i0.alternate.interfaceSubclass).to.equal(0xff);
    expect(i0.alternate.interfaceProtocol).to.equal(0xff);
    expect(i0.alternate.interfaceName).to.equal('FT232R USB UART');
    expect(i0.alternate.endpoints).to.deep.equal([
      { endpointNumber: 1, direction: 'in', type: 'bulk', packetSize: 64 },
      { endpointNumber: 2, direction: 'out', type: 'bulk', packetSize: 64 },
    ]);
    expect(i1.alternates[1].endpoints).to.deep.equal([
      { endpointNumber: 3, direction: 'in', type: 'interrupt', packetSize: 10 },
      { endpointNumber: 4, direction: 'in', type: 'isochronous', packetSize: 512 },
    ]);
    expect(i0.claimed).to.equal(false);
    await dev.open();
    await dev.claimInterface(1);
    await dev.selectAlternateInterface(1, 1);
    expect(i1.claimed).to.equal(true);
    expect(i1.alternate.alternateSetting).to.equal(1);
    // The raw descriptor shows what WebUSB hides.
    expect(dev.descriptor.bMaxPacketSize0).to.equal(8);
    expect(dev.descriptor.iSerialNumber).to.equal(3);
    expect(dev.descriptor.bcdDevice).to.equal(0x0600);
  });

  it('encodes device, configuration and string descriptors byte for byte', () => {
    const d = defineDevice(spec);
    expect([...encodeDeviceDescriptor(d)]).to.deep.equal([
      18, 1, 0x10, 0x02, 0, 0, 0, 8, 0x03, 0x04, 0x01, 0x60, 0x00, 0x06, 1, 2, 3, 1,
    ]);
    const c = encodeConfigurationDescriptor(d.configurations[0]);
    // 9 config + 3 interface descriptors (9 each) + 4 endpoints (7 each)
    expect(c.length).to.equal(9 + 27 + 28);
    expect([...c.subarray(0, 9)]).to.deep.equal([9, 2, 64, 0, 2, 1, 0, 0xa0, 45]);
    expect([...c.subarray(9, 18)]).to.deep.equal([9, 4, 0, 0, 2, 0xff, 0xff, 0xff, 2]);
    expect([...c.subarray(18, 25)]).to.deep.equal([7, 5, 0x81, 2, 64, 0, 0]);
    expect([...encodeStringDescriptor('FT')]).to.deep.equal([6, 3, 0x46, 0, 0x54, 0]);
  });
});
