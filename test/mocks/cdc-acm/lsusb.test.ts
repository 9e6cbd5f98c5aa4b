// A CDC-ACM board built from `lsusb -v` text: the CDC functional blocks and the Interface
// Association come back as the bytes a real Pico sends, so the driver's walker finds the function.
import { expect } from 'chai';
import { findAcmFunction, walkConfiguration } from '../../../drivers/cdc-acm/descriptors.ts';
import { encodeConfigurationDescriptor, LsusbParseError, parseLsusb } from '../../../mocks/index.ts';
import { cdcAcmFromLsusb } from '../../../mocks/cdc-acm/index.ts';

const PICO = `Bus 001 Device 009: ID 2e8a:000a Raspberry Pi Pico
Device Descriptor:
  bLength                18
  bDescriptorType         1
  bcdUSB               2.00
  bDeviceClass          239 Miscellaneous Device
  bDeviceSubClass         2
  bDeviceProtocol         1 Interface Association
  bMaxPacketSize0        64
  idVendor           0x2e8a
  idProduct          0x000a
  bcdDevice            1.00
  iManufacturer           1 Raspberry Pi
  iProduct                2 Pico
  iSerial                 3 E660583883724A2B
  bNumConfigurations      1
  Configuration Descriptor:
    bLength                 9
    bDescriptorType         2
    wTotalLength       0x0054
    bNumInterfaces          3
    bConfigurationValue     1
    iConfiguration          0
    bmAttributes         0x80
      (Bus Powered)
    MaxPower              250mA
    Interface Association:
      bLength                 8
      bDescriptorType        11
      bFirstInterface         0
      bInterfaceCount         2
      bFunctionClass          2 Communications
      bFunctionSubClass       2 Abstract (modem)
      bFunctionProtocol       0
      iFunction               0
    Interface Descriptor:
      bLength                 9
      bDescriptorType         4
      bInterfaceNumber        0
      bAlternateSetting       0
      bNumEndpoints           1
      bInterfaceClass         2 Communications
      bInterfaceSubClass      2 Abstract (modem)
      bInterfaceProtocol      0
      iInterface              4 Board CDC
      CDC Header:
        bcdCDC               1.20
      CDC Call Management:
        bmCapabilities       0x00
        bDataInterface          1
      CDC ACM:
        bmCapabilities       0x02
          line coding and serial state
      CDC Union:
        bMasterInterface        0
        bSlaveInterface         1
      Endpoint Descriptor:
        bLength                 7
        bDescriptorType         5
        bEndpointAddress     0x81  EP 1 IN
        bmAttributes            3
          Transfer Type            Interrupt
          Synch Type               None
          Usage Type               Data
        wMaxPacketSize     0x0008  1x 8 bytes
        bInterval              16
    Interface Descriptor:
      bLength                 9
      bDescriptorType         4
      bInterfaceNumber        1
      bAlternateSetting       0
      bNumEndpoints           2
      bInterfaceClass        10 CDC Data
      bInterfaceSubClass      0
      bInterfaceProtocol      0
      iInterface              0
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
      Endpoint Descriptor:
        bLength                 7
        bDescriptorType         5
        bEndpointAddress     0x82  EP 2 IN
        bmAttributes            2
          Transfer Type            Bulk
          Synch Type               None
          Usage Type               Data
        wMaxPacketSize     0x0040  1x 64 bytes
        bInterval               0
    Interface Descriptor:
      bLength                 9
      bDescriptorType         4
      bInterfaceNumber        2
      bAlternateSetting       0
      bNumEndpoints           0
      bInterfaceClass       255 Vendor Specific Class
      bInterfaceSubClass      0
      bInterfaceProtocol      1
      iInterface              5 Reset
`;

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
