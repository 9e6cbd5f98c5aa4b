// Reading what Linux's usbip tool and vhci_hcd print: texts as seen in the VM tier (usbip
// 2.0+6.1.192, kernel 6.1).
import { expect } from 'chai';
import { parsePortList, parseRemoteList, parseVhciStatus } from '../../src/lab/index.ts';

const LIST = `Exportable USB devices
======================
 - 127.0.0.1
        1-1: Future Technology Devices International, Ltd : FT232 Serial (UART) IC (0403:6001)
           : /sys/devices/pci0000:00/0000:00:06.0/usb1/1-1
           : (Defined at Interface level) (00/00/00)
           :  0 - Vendor Specific Class / Vendor Specific Subclass / Vendor Specific Protocol (ff/ff/ff)

      1-1.4: unknown vendor : unknown product (067b:2303)
           : /sys/devices/pci0000:00/0000:00:06.0/usb1/1-1/1-1.4
           : (Defined at Interface level) (00/00/00)
`;

const PORT = `Imported USB devices
====================
Port 00: <Port in Use> at Full Speed(12Mbps)
       Future Technology Devices International, Ltd : FT232 Serial (UART) IC (0403:6001)
       3-1 -> usbip://127.0.0.1:3240/1-1
           -> remote bus/dev 001/002
Port 16: <Port in Use> at Super Speed(5000Mbps)
       unknown vendor : unknown product (0bda:8153)
      10-2 -> usbip://fe80::1:3241/2-1.3
           -> remote bus/dev 002/005
Port 01: <Port in Use> at Full Speed(12Mbps)
       unknown vendor : unknown product (067b:2303)
       3-2 -> unknown host, remote port and remote busid
           -> remote bus/dev 001/003
`;

const STATUS = `hub port sta spd dev      sockfd local_busid
hs  0000 006 002 00010002 000003 3-1
hs  0001 004 000 00000000 000000 0-0
ss  0015 004 000 00000000 000000 0-0
`;

describe('lab: usbip output', () => {
  it('usbip list -r: bus IDs, IDs, names and sysfs paths', () => {
    expect(parseRemoteList(LIST)).to.deep.equal([
      { busid: '1-1', vendorId: 0x0403, productId: 0x6001, description: 'Future Technology Devices International, Ltd : FT232 Serial (UART) IC', path: '/sys/devices/pci0000:00/0000:00:06.0/usb1/1-1' },
      { busid: '1-1.4', vendorId: 0x067b, productId: 0x2303, description: 'unknown vendor : unknown product', path: '/sys/devices/pci0000:00/0000:00:06.0/usb1/1-1/1-1.4' },
    ]);
    expect(parseRemoteList('usbip: info: no exportable devices found on 127.0.0.1\n')).to.deep.equal([]);
  });

  it('usbip port: vhci port, local bus ID and the remote end (IPv6 hosts too, and a missing record)', () => {
    const ports = parsePortList(PORT);
    expect(ports.map((p) => [p.port, p.localBusid, p.remote, p.vendorId])).to.deep.equal([
      [0, '3-1', { host: '127.0.0.1', port: 3240, busid: '1-1' }, 0x0403],
      [16, '10-2', { host: 'fe80::1', port: 3241, busid: '2-1.3' }, 0x0bda],
      [1, '3-2', null, 0x067b],
    ]);
    expect(ports[0]!.speed).to.equal('Full Speed(12Mbps)');
    expect(parsePortList('Imported USB devices\n====================\n')).to.deep.equal([]);
  });

  it('vhci_hcd status: port, state and local bus ID', () => {
    expect(parseVhciStatus(STATUS)).to.deep.equal([
      { hub: 'hs', port: 0, status: 6, speed: 2, devid: 0x10002, sockfd: 3, localBusid: '3-1' },
      { hub: 'hs', port: 1, status: 4, speed: 0, devid: 0, sockfd: 0, localBusid: null },
      { hub: 'ss', port: 15, status: 4, speed: 0, devid: 0, sockfd: 0, localBusid: null },
    ]);
  });
});
