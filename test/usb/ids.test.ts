import { expect } from 'chai';
import fc from 'fast-check';
import { IdParseError } from '../../src/core/index.ts';
import {
  formatUsbId,
  parseUsbNewId,
  parseUsbRemoveId,
  usbDevice,
  usbDeviceInterfaceNumber,
  usbDeviceVer,
  usbIdKey,
  usbInterfaceInfo,
  usbMatchId,
  usbTargetKeys,
  type UsbMatchTarget,
} from '../../src/usb/ids.ts';

const ftdi: UsbMatchTarget = {
  vendorId: 0x0403,
  productId: 0x6010,
  bcdDevice: 0x0700,
  deviceClass: 0,
  deviceSubclass: 0,
  deviceProtocol: 0,
  interfaceClass: 0xff,
  interfaceSubclass: 0xff,
  interfaceProtocol: 0xff,
  interfaceNumber: 1,
};

describe('usb: ID tables', () => {
  it('matches each field only when present (match flags)', () => {
    expect(usbMatchId(ftdi, usbDevice(0x0403, 0x6010))).to.equal(true);
    expect(usbMatchId(ftdi, usbDevice(0x0403, 0x6001))).to.equal(false);
    expect(usbMatchId(ftdi, { vendor: 0x0403 })).to.equal(true);
    expect(usbMatchId(ftdi, usbDeviceVer(0x0403, 0x6010, 0x0700, 0x0700))).to.equal(true);
    expect(usbMatchId(ftdi, usbDeviceVer(0x0403, 0x6010, 0x0000, 0x06ff))).to.equal(false);
    expect(usbMatchId(ftdi, usbDeviceInterfaceNumber(0x0403, 0x6010, 1))).to.equal(true);
    expect(usbMatchId(ftdi, usbDeviceInterfaceNumber(0x0403, 0x6010, 0))).to.equal(false);
    expect(usbMatchId(ftdi, { deviceClass: 0, deviceSubclass: 0, deviceProtocol: 0 })).to.equal(true);
    expect(usbMatchId({ ...ftdi, deviceClass: 2 }, { deviceClass: 0 })).to.equal(false);
    expect(usbMatchId(ftdi, usbInterfaceInfo(0xff, 0xff, 0xff))).to.equal(true);
  });

  it('does not match a vendor-specific device by interface class alone (as Linux)', () => {
    const vendorSpecific = { ...ftdi, deviceClass: 0xff, interfaceClass: 2, interfaceSubclass: 2, interfaceProtocol: 1 };
    expect(usbMatchId(vendorSpecific, usbInterfaceInfo(2, 2, 1))).to.equal(false);
    expect(usbMatchId(vendorSpecific, { vendor: 0x0403, interfaceClass: 2 })).to.equal(true);
  });

  it('files each entry under a key its matching targets are looked up by (property)', () => {
    const target = fc.record({
      vendorId: fc.integer({ min: 0, max: 3 }),
      productId: fc.integer({ min: 0, max: 3 }),
      bcdDevice: fc.integer({ min: 0, max: 3 }),
      deviceClass: fc.constantFrom(0, 2, 0xff),
      deviceSubclass: fc.integer({ min: 0, max: 1 }),
      deviceProtocol: fc.integer({ min: 0, max: 1 }),
      interfaceClass: fc.constantFrom(0, 2, 0xff),
      interfaceSubclass: fc.integer({ min: 0, max: 1 }),
      interfaceProtocol: fc.integer({ min: 0, max: 1 }),
      interfaceNumber: fc.integer({ min: 0, max: 2 }),
    });
    const id = fc.record(
      {
        vendor: fc.integer({ min: 0, max: 3 }),
        product: fc.integer({ min: 0, max: 3 }),
        bcdDeviceLo: fc.integer({ min: 0, max: 3 }),
        deviceClass: fc.constantFrom(0, 2, 0xff),
        interfaceClass: fc.constantFrom(0, 2, 0xff),
        interfaceNumber: fc.integer({ min: 0, max: 2 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(target, id, (t, i) => {
        if (usbMatchId(t, i)) expect([...usbTargetKeys(t), '*']).to.include(usbIdKey(i));
      }),
      { numRuns: 2000 },
    );
  });

  describe('new_id: VID PID [class [refVID refPID]]', () => {
    const table = [usbDevice(0x0403, 0x6001, { chip: 'ref' })];
    it('parses the three forms', () => {
      expect(parseUsbNewId('0403 abcd', table)).to.deep.equal({ vendor: 0x0403, product: 0xabcd });
      expect(parseUsbNewId('0403 abcd ff', table)).to.deep.equal({ vendor: 0x0403, product: 0xabcd, interfaceClass: 0xff });
      expect(parseUsbNewId('0403 abcd ff 0403 6001', table)).to.deep.equal({
        vendor: 0x0403,
        product: 0xabcd,
        interfaceClass: 0xff,
        driverInfo: { chip: 'ref' },
      });
    });
    for (const [bad, why] of [
      ['0403', /too few fields/],
      ['0403 abcd ff 0403 6001 1', /too many fields/],
      ['0403 abcd 100', /bInterfaceClass 0x100 is out of range/],
      ['0403 xyz', /idProduct 'xyz' is not hex/],
      ['0403 abcd ff 0403', /reference entry needs both/],
      ['0403 abcd ff 1234 5678', /unknown reference entry 1234:5678/],
    ] as const) {
      it(`refuses '${bad}'`, () => expect(() => parseUsbNewId(bad, table)).to.throw(IdParseError, why));
    }
    it('remove_id takes VID PID; new_id reads back in Linux format', () => {
      const sel = parseUsbRemoveId('403 abcd\n');
      expect(sel({ vendor: 0x403, product: 0xabcd })).to.equal(true);
      expect(sel({ vendor: 0x403, product: 0xabce })).to.equal(false);
      expect(() => parseUsbRemoveId('403')).to.throw(IdParseError);
      expect(formatUsbId({ vendor: 0x403, product: 0xabcd, interfaceClass: 0xff })).to.equal('0403 abcd ff');
    });
  });
});
