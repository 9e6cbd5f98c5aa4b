// USB layer figures on the mock host: attach-to-probed latency, sustained plug/unplug cycles
// (with the invariants checked as they run), and heap before and after 100,000 cycles.
import { performance } from 'node:perf_hooks';
import { DriverModel } from '../src/core/index.ts';
import { UsbDriver, UsbSubsystem } from '../src/usb/index.ts';
import { MockUsbDevice, MockUsbHost } from '../mocks/index.ts';
import { emit, round } from './report.ts';

function gadget(i: number): MockUsbDevice {
  return new MockUsbDevice(
    {
      idVendor: 0x1209,
      idProduct: i & 0xffff,
      configurations: [
        {
          interfaces: [
            {
              bInterfaceClass: 0xff,
              endpoints: [
                { bEndpointAddress: 0x81, type: 'bulk', wMaxPacketSize: 64 },
                { bEndpointAddress: 0x02, type: 'bulk', wMaxPacketSize: 64 },
              ],
            },
          ],
        },
      ],
    },
    {},
    { transferLog: { limit: 0 } },
  );
}

const gc = (globalThis as { gc?: () => void }).gc;
const heapMiB = () => {
  gc?.();
  return process.memoryUsage().heapUsed / 1048576;
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function lab() {
  const host = new MockUsbHost();
  const usb = new UsbSubsystem({ model: new DriverModel() });
  await usb.attachBackend(host);
  let probed: (() => void) | null = null;
  const stats = { probes: 0, disconnects: 0, violations: 0 };
  const live = new Set<string>();
  const drv = new UsbDriver(usb.bus, {
    name: 'bench',
    idTable: [{ vendor: 0x1209 }],
    probe(intf) {
      if (live.has(intf.name)) stats.violations++;
      live.add(intf.name);
      stats.probes++;
      probed?.();
    },
    disconnect(intf) {
      if (!live.delete(intf.name)) stats.violations++;
      stats.disconnects++;
    },
  });
  await usb.bus.registerDriver(drv);
  return {
    host,
    usb,
    drv,
    stats,
    nextProbe: () => new Promise<void>((r) => (probed = r)),
  };
}

export async function run(): Promise<void> {
  // Latency: from plug() to the driver's probe running.
  {
    const { host, usb, nextProbe, stats } = await lab();
    const samples: number[] = [];
    const dev = gadget(1);
    for (let i = 0; i < 2000; i++) {
      const probed = nextProbe();
      const t0 = performance.now();
      host.plug(dev, '1-1');
      await probed;
      samples.push(performance.now() - t0);
      host.unplug(dev);
      await host.flush();
      await usb.settled();
    }
    samples.sort((a, b) => a - b);
    emit({ name: 'usb.attach_to_probed_p50', value: round(percentile(samples, 50) * 1000, 1), unit: 'us', backend: 'mock' });
    emit({ name: 'usb.attach_to_probed_p99', value: round(percentile(samples, 99) * 1000, 1), unit: 'us', backend: 'mock' });
    if (stats.violations) throw new Error(`${stats.violations} invariant violations`);
    await usb.stop();
  }

  // Sustained cycles: 8 ports plugging and unplugging as fast as the stack applies them.
  {
    const { host, usb, stats } = await lab();
    const devices = Array.from({ length: 8 }, (_, i) => gadget(i));
    const heapBefore = heapMiB();
    const CYCLES = 100_000;
    const t0 = performance.now();
    let cycles = 0;
    while (cycles < CYCLES) {
      for (let i = 0; i < devices.length && cycles < CYCLES; i++, cycles++) host.plug(devices[i]!, `1-${i + 1}`);
      await host.flush();
      await usb.settled();
      for (const d of devices) if (host.attachmentOf(d)) host.unplug(d);
      await host.flush();
      await usb.settled();
    }
    const seconds = (performance.now() - t0) / 1000;
    const heapAfter = heapMiB();
    emit({ name: 'usb.plug_unplug_cycles_per_s', value: Math.round(cycles / seconds), unit: 'cycles/s', violations: stats.violations, probes: stats.probes });
    emit({ name: 'usb.heap_before_100k_cycles', value: round(heapBefore, 1), unit: 'MiB', gc: Boolean(gc) });
    emit({ name: 'usb.heap_after_100k_cycles', value: round(heapAfter, 1), unit: 'MiB', gc: Boolean(gc) });
    if (stats.violations || stats.probes !== stats.disconnects) throw new Error(`invariants broken: ${JSON.stringify(stats)}`);
    await usb.stop();
  }
}
