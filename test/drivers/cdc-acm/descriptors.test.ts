// The CDC-ACM descriptor walker on configuration descriptors written out byte by byte: the layout
// the kernel's f_acm gadget reports (observed in the VM tier, next-features-facts.md §3), a Pico
// with an IAD and a third vendor interface, and the cases acm_probe treats specially.
import { expect } from 'chai';
import { ACM_CAP, AcmDescriptorError, findAcmFunction, isAcmControlInterface, walkConfiguration } from '../../../drivers/cdc-acm/descriptors.ts';
import { acmQuirksFor } from '../../../drivers/cdc-acm/quirks.ts';

function config(...descs: number[][]): Uint8Array {
  const body = descs.flat();
  const total = 9 + body.length;
  const nIf = descs.filter((d) => d[1] === 4 && d[3] === 0).length;
  return Uint8Array.from([9, 2, total & 0xff, total >> 8, nIf, 1, 0, 0x80, 50, ...body]);
}
const iface = (n: number, eps: number, cls: number, sub: number, proto: number) => [9, 4, n, 0, eps, cls, sub, proto, 0];
const ep = (addr: number, type: number, size: number, interval: number) => [7, 5, addr, type, size & 0xff, size >> 8, interval];
const header = [5, 0x24, 0x00, 0x10, 0x01];
const callMgmt = (data: number) => [5, 0x24, 0x01, 0x00, data];
const acm = (caps: number) => [4, 0x24, 0x02, caps];
const union = (master: number, slave: number) => [5, 0x24, 0x06, master, slave];

describe('CDC-ACM descriptor walker', () => {
  it('the f_acm layout: IAD, union 0 -> 1, notify 0x85, bulk 0x81 / 0x02, caps 0x02', () => {
    const c = walkConfiguration(
      config(
        [8, 0x0b, 0, 2, 2, 2, 1, 0],
        iface(0, 1, 2, 2, 1), header, callMgmt(1), acm(0x02), union(0, 1), ep(0x85, 3, 10, 9),
        iface(1, 2, 0x0a, 0, 0), ep(0x81, 2, 512, 0), ep(0x02, 2, 512, 0),
      ),
    );
    expect(c.associations).to.deep.equal([{ firstInterface: 0, interfaceCount: 2, cls: 2, subclass: 2, protocol: 1, iFunction: 0 }]);
    const f = findAcmFunction(c, 0);
    expect(f).to.deep.include({ controlInterface: 0, dataInterface: 1, combined: false, foundBy: 'union', swapped: false, capabilities: 0x02 });
    expect([f.notifyEndpoint.address, f.bulkIn.address, f.bulkOut.address]).to.deep.equal([0x85, 0x81, 0x02]);
    expect(f.functional.bcdCDC).to.equal(0x0110);
    expect(f.association?.firstInterface).to.equal(0);
    // Probing the data interface is refused: Linux accepts the probe only on the control one.
    expect(() => findAcmFunction(c, 1)).to.throw(AcmDescriptorError);
  });

  it('a Pico: IAD + CDC on 0/1 and a vendor reset interface 2 without endpoints is left alone', () => {
    const c = walkConfiguration(
      config(
        [8, 0x0b, 0, 2, 2, 2, 0, 0],
        iface(0, 1, 2, 2, 0), header, acm(0x02), union(0, 1), callMgmt(1), ep(0x81, 3, 8, 16),
        iface(1, 2, 0x0a, 0, 0), ep(0x02, 2, 64, 0), ep(0x82, 2, 64, 0),
        iface(2, 0, 0xff, 0x00, 0x01),
      ),
    );
    expect(c.interfaces.map((i) => i.number)).to.deep.equal([0, 1, 2]);
    const f = findAcmFunction(c, 0);
    expect([f.bulkIn.address, f.bulkOut.address]).to.deep.equal([0x82, 0x02]);
    expect(isAcmControlInterface(c.interfaces[0])).to.equal(true);
    expect(isAcmControlInterface(c.interfaces[2])).to.equal(false);
  });

  it('no union: call management names the data interface; without it three endpoints make one combined interface', () => {
    const cm = walkConfiguration(config(iface(0, 1, 2, 2, 1), header, callMgmt(1), acm(0x06), ep(0x83, 3, 16, 1), iface(1, 2, 0x0a, 0, 0), ep(0x84, 2, 64, 0), ep(0x05, 2, 64, 0)));
    expect(findAcmFunction(cm, 0)).to.deep.include({ foundBy: 'call-management', dataInterface: 1, capabilities: ACM_CAP.LINE | ACM_CAP.BRK });
    const combined = walkConfiguration(config(iface(0, 3, 2, 2, 1), header, acm(0x02), ep(0x81, 3, 8, 1), ep(0x82, 2, 64, 0), ep(0x03, 2, 64, 0)));
    // Combined interfaces lose the line capability (Linux forces NO_CAP_LINE).
    expect(findAcmFunction(combined, 0)).to.deep.include({ combined: true, foundBy: 'combined', controlInterface: 0, dataInterface: 0, capabilities: 0 });
    const neither = walkConfiguration(config(iface(0, 1, 2, 2, 1), header, acm(0x02), ep(0x81, 3, 8, 1), iface(1, 2, 0x0a, 0, 0), ep(0x82, 2, 64, 0), ep(0x03, 2, 64, 0)));
    expect(() => findAcmFunction(neither, 0)).to.throw(AcmDescriptorError, /no union descriptor/);
  });

  it('no class descriptors at all: refused unless NO_UNION_NORMAL (by ID) says 0 and 1', () => {
    const bare = walkConfiguration(config(iface(0, 1, 2, 2, 1), ep(0x81, 3, 8, 1), iface(1, 2, 0x0a, 0, 0), ep(0x82, 2, 64, 0), ep(0x03, 2, 64, 0)));
    expect(() => findAcmFunction(bare, 0)).to.throw(AcmDescriptorError, /no class-specific/);
    const quirks = acmQuirksFor(0x22b8, 0x7000);
    expect(quirks).to.deep.equal(['NO_UNION_NORMAL']);
    expect(findAcmFunction(bare, 0, quirks)).to.deep.include({ foundBy: 'quirk', controlInterface: 0, dataInterface: 1, capabilities: 0 });
  });

  it('a union naming the interfaces the wrong way round is swapped; descriptors after the endpoint are found', () => {
    const c = walkConfiguration(
      config(iface(0, 1, 2, 2, 1), ep(0x81, 3, 8, 1), header, acm(0x02), union(1, 0), iface(1, 2, 0x0a, 0, 0), ep(0x82, 2, 64, 0), ep(0x03, 2, 64, 0)),
    );
    expect(findAcmFunction(c, 0)).to.deep.include({ swapped: true, controlInterface: 0, dataInterface: 1 });
  });

  it('MISSING_CAP_BRK (CH343) adds the break capability; broken descriptors are typed errors', () => {
    const c = walkConfiguration(config(iface(0, 1, 2, 2, 1), header, acm(0x02), union(0, 1), ep(0x81, 3, 8, 1), iface(1, 2, 0x0a, 0, 0), ep(0x82, 2, 64, 0), ep(0x03, 2, 64, 0)));
    expect(findAcmFunction(c, 0, acmQuirksFor(0x1a86, 0x55d3)).capabilities).to.equal(0x06);
    expect(() => walkConfiguration(Uint8Array.of(9, 2, 20, 0, 1, 1, 0, 0x80, 50))).to.throw(AcmDescriptorError, /wTotalLength/);
    expect(() => walkConfiguration(Uint8Array.of(9, 2, 11, 0, 1, 1, 0, 0x80, 50, 1, 4))).to.throw(AcmDescriptorError, /bLength/);
    expect(() => walkConfiguration(Uint8Array.of(18, 1))).to.throw(AcmDescriptorError, /not a configuration/);
    const noData = walkConfiguration(config(iface(0, 1, 2, 2, 1), header, union(0, 1), ep(0x81, 3, 8, 1), iface(1, 2, 0xff, 0, 0), ep(0x82, 2, 64, 0), ep(0x03, 2, 64, 0)));
    expect(() => findAcmFunction(noData, 0)).to.throw(AcmDescriptorError, /not a CDC data interface/);
  });
});
