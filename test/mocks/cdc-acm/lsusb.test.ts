// A CDC-ACM board built from `lsusb -v` text: the CDC functional blocks and the Interface
// Association come back as the bytes a real Pico sends, so the driver's walker finds the function.
import { expect } from 'chai';
import { findAcmFunction, walkConfiguration } from '../../../drivers/cdc-acm/descriptors.ts';
import { encodeConfigurationDescriptor, LsusbParseError, parseLsusb } from '../../../mocks/index.ts';
import { cdcAcmFromLsusb } from '../../../mocks/cdc-acm/index.ts';
import { LSUSB_PICO as PICO } from '../../fixtures/lsusb.ts';

describe('CDC-ACM from lsusb -v', () => {
  it('keeps the IAD and the CDC functional descriptors; the configuration comes to wTotalLength 0x54', () => {
    const d = parseLsusb(PICO);
    const c = encodeConfigurationDescriptor(d.configurations[0]);
    // 9 config + 8 IAD + 9 if0 + 5+5+4+5 CDC + 7 ep + 9 if1 + 2*7 eps + 9 if2 = 84 = 0x54
    expect(c.length).to.equal(0x54);
    const f = findAcmFunction(walkConfiguration(c), 0);
    expect(f).to.deep.include({ foundBy: 'union', dataInterface: 1, capabilities: 0x02 });
    expect(f.functional).to.deep.include({ bcdCDC: 0x0120, callManagement: { capabilities: 0, dataInterface: 1 } });
    expect(f.association).to.deep.include({ firstInterface: 0, interfaceCount: 2 });
  });

  it('builds a working board from it, and a CDC block missing a field is a parse error naming its line', async () => {
    const { device, chip } = cdcAcmFromLsusb(PICO, 'pico');
    expect(device.descriptor.idVendor).to.equal(0x2e8a);
    expect(chip.board.capabilities).to.equal(0x02);
    expect(() => parseLsusb(PICO.replace('        bDataInterface          1\n', ''))).to.throw(LsusbParseError, /bDataInterface missing/);
  });
});
