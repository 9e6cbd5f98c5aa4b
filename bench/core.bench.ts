// Driver-core figures: binding many devices against many drivers with big ID tables (keyed
// matching), and the cost of a pin.
import { performance } from 'node:perf_hooks';
import { Bus, Device, Driver, DriverModel, getDriver, putDriver, type BusType } from '../src/core/index.ts';
import { emit, round } from './report.ts';

class BenchDevice extends Device {
  constructor(name: string, readonly vendor: number, readonly product: number) {
    super(name);
  }
}
interface BenchId {
  vendor: number;
  product: number;
}

export async function run(): Promise<void> {
  const DRIVERS = 1000;
  const IDS = 1000;
  const DEVICES = 10_000;
  let matchCalls = 0;
  const type: BusType<BenchDevice, BenchId> = {
    name: 'bench',
    idKey: (id) => `${id.vendor}:${id.product}`,
    deviceKeys: (d) => [`${d.vendor}:${d.product}`],
    matchId: (d, id) => {
      matchCalls++;
      return d.vendor === id.vendor && d.product === id.product;
    },
  };
  const bus = new Bus(type, { model: new DriverModel() });
  let t0 = performance.now();
  const drivers: Driver<BenchDevice, BenchId>[] = [];
  for (let i = 0; i < DRIVERS; i++) {
    const ids: BenchId[] = [];
    for (let j = 0; j < IDS; j++) ids.push({ vendor: i, product: j });
    const drv = new Driver<BenchDevice, BenchId>(bus, { name: `drv${i}`, idTable: ids, probe() {} });
    drivers.push(drv);
    await bus.registerDriver(drv);
  }
  const registerMs = performance.now() - t0;
  emit({ name: 'core.register_1000_drivers_x_1000_ids', value: round(registerMs, 1), unit: 'ms' });

  const heapBefore = process.memoryUsage().heapUsed;
  t0 = performance.now();
  for (let k = 0; k < DEVICES; k++) {
    // Spread devices over drivers and table positions, the last entries included.
    const dev = new BenchDevice(`dev${k}`, (k * 7919) % DRIVERS, (k * 104729) % IDS);
    await bus.addDevice(dev);
  }
  const bindMs = performance.now() - t0;
  const bound = bus.listDevices().filter((d) => d.driver).length;
  if (bound !== DEVICES) throw new Error(`only ${bound} of ${DEVICES} devices bound`);
  emit({ name: 'core.bind_10000_devices_vs_1000_drivers_x_1000_ids', value: round(bindMs, 1), unit: 'ms' });
  emit({ name: 'core.bind_per_device', value: round((bindMs * 1000) / DEVICES, 2), unit: 'us' });
  emit({
    name: 'core.match_checks_per_device',
    value: round(matchCalls / DEVICES, 2),
    unit: 'calls',
    scan_would_need: DRIVERS * IDS,
  });
  emit({ name: 'core.heap_for_10000_bound_devices', value: round((process.memoryUsage().heapUsed - heapBefore) / 1048576, 1), unit: 'MiB' });

  // Pins: getDriver + putDriver pairs per second.
  const drv = drivers[0]!;
  const N = 2_000_000;
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const pin = getDriver(drv, 'bench');
    putDriver(pin!);
  }
  const pinMs = performance.now() - t0;
  emit({ name: 'core.getDriver_putDriver_pairs', value: Math.round(N / (pinMs / 1000)), unit: 'pairs/s' });

  t0 = performance.now();
  for (const d of drivers) await bus.unregisterDriver(d);
  emit({ name: 'core.unregister_1000_drivers_releasing_10000_devices', value: round(performance.now() - t0, 1), unit: 'ms' });
}
