// `usb-harness demo`: a short tour of the driver core. A udev-like rule writes new_id the moment
// a driver's attribute appears, a tool pins a driver while it is being unregistered, and the
// uevent stream shows what happened. (The serial-ports issue turns `npm start` into the mock lab.)
import {
  Bus,
  Device,
  Driver,
  DriverModel,
  driverAttach,
  getDriver,
  parseHexFields,
  putDriver,
  type BusType,
} from '../core/index.ts';

class DemoDevice extends Device {
  constructor(name: string, readonly vendor: number, readonly product: number) {
    super(name);
  }
}
interface DemoId {
  vendor: number;
  product: number;
}

const hex = (n: number) => n.toString(16).padStart(4, '0');

export async function demoCore(out: (line: string) => void = console.log): Promise<void> {
  const model = new DriverModel();
  const type: BusType<DemoDevice, DemoId> = {
    name: 'demo',
    idKey: (id) => `${id.vendor}:${id.product}`,
    deviceKeys: (d) => [`${d.vendor}:${d.product}`],
    matchId: (d, id) => d.vendor === id.vendor && d.product === id.product,
    parseNewId: (text) => {
      const [vendor, product] = parseHexFields(text, [{ name: 'vendor', max: 0xffff }, { name: 'product', max: 0xffff }], 2);
      return { vendor: vendor!, product: product! };
    },
    formatId: (id) => `${hex(id.vendor)} ${hex(id.product)}`,
  };
  const bus = new Bus(type, { model });
  model.uevents.subscribe((e) => {
    out(`uevent #${e.seq}: ${e.action} ${e.kind} ${e.name}${e.driver ? ` (driver ${e.driver})` : ''}`);
    // A udev rule: as soon as our driver's directory appears, teach it an OEM ID.
    if (e.kind === 'driver' && e.action === 'add') {
      void model.attrs.write(`${e.path}/new_id`, 'abcd 0001').then((r) =>
        out(r.ok ? `  rule: wrote new_id 'abcd 0001' during registration` : `  rule: ${r.error.message}`),
      );
    }
  });

  const driver = new Driver<DemoDevice, DemoId>(bus, {
    name: 'demo_serial',
    idTable: [{ vendor: 0x0403, product: 0x6001 }],
    probe: (dev) => out(`  probe ${dev.name} (${hex(dev.vendor)}:${hex(dev.product)})`),
    remove: (dev) => out(`  remove ${dev.name}`),
  });

  await bus.addDevice(new DemoDevice('1-1', 0x0403, 0x6001));
  await bus.addDevice(new DemoDevice('1-2', 0xabcd, 0x0001));
  await bus.registerDriver(driver);
  const bad = await model.attrs.write('bus/demo/drivers/demo_serial/new_id', '12345 1');
  out(`bad new_id answered: ${bad.ok ? 'ok?' : `${bad.error.code} ${bad.error.message}`}`);

  const pin = getDriver(driver, 'demo:tool');
  out(`pinned driver (pin #${pin?.id}); requesting unregistration`);
  const unreg = bus.unregisterDriver(driver).then(() => out('unregistration resolved'));
  out(`getDriver() while unregistering: ${getDriver(driver) === null ? 'null' : 'a pin?!'}`);
  if (pin) {
    await driverAttach(pin);
    out('the pin holder finished its work; putting the pin back');
    putDriver(pin);
  }
  await unreg;
  await bus.addDevice(new DemoDevice('1-3', 0x0403, 0x6001));
  out(`device 1-3 after unregistration: ${bus.getDevice('1-3')?.driver ? 'bound?!' : 'unbound, as it must be'}`);
  out(`dynamic IDs left: ${driver.dynIds.size}`);
}
