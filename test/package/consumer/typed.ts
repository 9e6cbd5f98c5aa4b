// A strict TypeScript consumer of the installed package (type-checked, not run): the README's
// driver-model example, the usb-serial stack from usage.cjs with its types, and every subpath.
import {
  Bus, Device, Driver, DriverModel, UsbSubsystem, driverAttach, ftdiSerialDriver, FTDI_IDS, getDriver, parseHexFields,
  putDriver, registerUsbSerialDrivers, type BusType, type UsbSerialPort, type UsbSerialRegistration,
} from 'usb-serial-harness';
import { MockUsbHost, loopbackPlug, mockFt232r } from 'usb-serial-harness/mocks';
import { createWebSerial, type SerialPortInfo } from 'usb-serial-harness/web-serial';
import { parseRates, type Rates } from 'usb-serial-harness/stress';

class MyDevice extends Device {
  constructor(name: string, readonly vendor: number, readonly product: number) { super(name); }
}
interface MyId { vendor: number; product: number }

const type: BusType<MyDevice, MyId> = {
  name: 'my',
  idKey: (id) => `${id.vendor}:${id.product}`,
  deviceKeys: (d) => [`${d.vendor}:${d.product}`],
  matchId: (d, id) => d.vendor === id.vendor && d.product === id.product,
  parseNewId: (text) => {
    const [vendor, product] = parseHexFields(text, [{ name: 'vendor', max: 0xffff }, { name: 'product', max: 0xffff }], 2);
    return { vendor: vendor!, product: product! };
  },
};

export async function driverModel(): Promise<number> {
  const bus = new Bus(type, { model: new DriverModel() });
  const drv = new Driver<MyDevice, MyId>(bus, {
    name: 'my_driver',
    idTable: [{ vendor: 0x0403, product: 0x6001 }],
    async probe() {},
    async remove() {},
  });
  await bus.registerDriver(drv);
  const pin = getDriver(drv);
  if (!pin) return 0;
  try {
    return await driverAttach(pin);
  } finally {
    putDriver(pin);
  }
}

export async function usbSerial(): Promise<{ ports: UsbSerialPort[]; info: SerialPortInfo[]; rates: Rates }> {
  const host = new MockUsbHost();
  const usb = new UsbSubsystem({ model: new DriverModel() });
  await usb.attachBackend(host);
  const reg: UsbSerialRegistration = await registerUsbSerialDrivers([ftdiSerialDriver], 'ftdi_sio', FTDI_IDS, { usbBus: usb.bus });
  const ftdi = mockFt232r();
  loopbackPlug(ftdi.uart(0));
  host.plug(ftdi.device);
  await usb.settled();
  const ports = reg.ports();
  const written: number = await ports[0]!.write(new Uint8Array([1, 2, 3]));
  void written;
  const info = (await createWebSerial({ usb }).getPorts()).map((p) => p.getInfo());
  return { ports, info, rates: parseRates('plug=1') };
}
