// The node-serialport binding over the real FTDI and PL2303 drivers: what it reports must be
// what the Linux OS binding (bindings-cpp) reports for the same chip under the kernel driver.
import { expect } from 'chai';
import { DriverModel } from '../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, type UsbSerialRegistration } from '../../src/serial/index.ts';
import { createUsbSerialBinding } from '../../src/serial/serialport-binding.ts';
import { UsbSubsystem } from '../../src/usb/index.ts';
import { loopbackPlug, MockUsbHost } from '../../mocks/index.ts';
import { registerFtdi } from '../../drivers/ftdi/index.ts';
import { createPl2303Driver, PL2303_ID_TABLE } from '../../drivers/pl2303/index.ts';
import { mockFt232r } from '../../mocks/ftdi/index.ts';
import { createPl2303 } from '../../mocks/pl2303/index.ts';

describe('serial: node-serialport binding over FTDI and PL2303 (emulated), as the Linux binding reports', () => {
  let host: MockUsbHost;
  let usb: UsbSubsystem;
  let regs: UsbSerialRegistration[];

  beforeEach(async () => {
    host = new MockUsbHost();
    usb = new UsbSubsystem({ model: new DriverModel() });
    await usb.attachBackend(host);
    regs = [await registerFtdi(usb.bus), await registerUsbSerialDrivers([createPl2303Driver()], 'pl2303', PL2303_ID_TABLE, { usbBus: usb.bus })];
    const ft = mockFt232r({ serialNumber: 'FTR001' });
    const hx = createPl2303('PL2303HX');
    loopbackPlug(ft.uart());
    loopbackPlug(hx.chip.uart);
    host.plug(ft.device, '1-1');
    host.plug(hx.device, '1-2');
    await host.flush();
    await usb.settled();
  });

  afterEach(async () => {
    host.unplugAll();
    await host.flush();
    await usb.settled();
    for (const r of regs) if (r.state === 'registered') await deregisterUsbSerialDrivers(r);
    await usb.stop();
    await host.close();
  });

  it('getBaudRate on an FT232R at 57600 reports 57600 (ftdi_sio keeps the requested rate in termios); the actual 57554 stays in port.settings', async () => {
    const bp = await createUsbSerialBinding({ usb }).open({ path: 'serial:FTR001:if0', baudRate: 57600 });
    expect(await bp.getBaudRate()).to.deep.equal({ baudRate: 57600 });
    expect(Math.round(bp.port.settings!.actualBaudRate)).to.equal(57554);
    await bp.close();
  });

  it('getBaudRate on a PL2303HX at 110000 reports the divisor rate 110091 (pl2303_encode_baud_rate writes it back into termios)', async () => {
    // 110000 is not in baud_sup: the divisor path, mantissa 218, exponent 2: 384e6 / (218 << 4) = 110091 (kernel integer division).
    const bp = await createUsbSerialBinding({ usb }).open({ path: 'port:1-2:if0', baudRate: 110000 });
    expect(await bp.getBaudRate()).to.deep.equal({ baudRate: 110091 });
    await bp.close();
  });
});
