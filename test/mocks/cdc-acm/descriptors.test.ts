// The class-specific descriptor support the CDC-ACM boards need from mocks/descriptors.ts:
// raw extras after an interface descriptor, IADs before their first interface, both validated.
import { expect } from 'chai';
import { defineDevice, DescriptorError, encodeConfigurationDescriptor } from '../../../mocks/index.ts';

describe('mock descriptors: class-specific extras and interface associations', () => {
  const spec = (extra: number[], first = 0, count = 2) => ({
    idVendor: 1,
    idProduct: 2,
    configurations: [{
      associations: [{ bFirstInterface: first, bInterfaceCount: count, bFunctionClass: 2, bFunctionSubClass: 2, bFunctionProtocol: 0, iFunction: 0 }],
      interfaces: [{ bInterfaceClass: 2, extra, endpoints: [{ bEndpointAddress: 0x81, type: 'interrupt' as const, wMaxPacketSize: 8 }] }, { bInterfaceClass: 0x0a }],
    }],
  });

  it('encodes the IAD before interface 0 and the extras between the interface and its endpoint', () => {
    const d = defineDevice(spec([5, 0x24, 0x00, 0x10, 0x01]));
    const c = [...encodeConfigurationDescriptor(d.configurations[0])];
    expect(c.slice(9, 17)).to.deep.equal([8, 0x0b, 0, 2, 2, 2, 0, 0]);
    expect(c.slice(17, 19)).to.deep.equal([9, 4]);
    expect(c.slice(26, 31)).to.deep.equal([5, 0x24, 0x00, 0x10, 0x01]);
    expect(c.slice(31, 33)).to.deep.equal([7, 5]);
    expect(c[2] | (c[3] << 8)).to.equal(c.length);
  });

  it('refuses extras that are not whole descriptors and IADs over missing interfaces', () => {
    expect(() => defineDevice(spec([5, 0x24, 0x00]))).to.throw(DescriptorError, /bad bLength/);
    expect(() => defineDevice(spec([1, 0x24]))).to.throw(DescriptorError, /bad bLength/);
    expect(() => defineDevice(spec([3, 0x24, 0x100]))).to.throw(DescriptorError, /byte/);
    expect(() => defineDevice(spec([], 1, 2))).to.throw(DescriptorError, /interface 2 does not exist/);
    expect(() => defineDevice(spec([], 0, 0))).to.throw(DescriptorError, /at least 1/);
  });
});
