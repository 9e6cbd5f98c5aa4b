// How the harness grows with the lab: the mock lab scaled to H hosts x 4 hubs x 7 dongles (every
// hub with per-port power switching, every dongle on a loopback plug), H = 1, 2, 4, 8 (28 to 224
// dongles). Per size: stress events/s with hotplug by hub port power, memory (RSS and heap at
// their peak in the run, and per dongle), the time to enumerate and bind the whole lab, and
// plug-to-open p50/p99 through port power (src/stress/plug-to-open.ts, the code the VM tier
// measures a real kernel with).
// Default: a short run per size (~1-2 min in all). Full size: `npm run bench -- scaling --full`
// (or SCALING_FULL=1): longer runs and more samples.
import { cpus } from 'node:os';
import { defaultDriverSets } from '../drivers/index.ts';
import { createScaledLab } from '../mocks/lab.ts';
import { DriverModel } from '../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers } from '../src/serial/index.ts';
import { HubControl, measurePlugToOpen, runOnce, type HubInfo } from '../src/stress/index.ts';
import { UsbSubsystem } from '../src/usb/index.ts';
import { emit, round } from './report.ts';

const FULL = process.argv.includes('--full') || process.env.SCALING_FULL === '1';
const HOSTS = [1, 2, 4, 8];
/** Events per size: a stress event costs more as the lab grows, so the short run gives each size about the same time. */
const eventsFor = (hosts: number) => (FULL ? 20_000 : Math.max(300, Math.round(2_400 / hosts)));
const SAMPLES = FULL ? 1_000 : 120;
const machine = { cpus: cpus().length, node: process.version, full: FULL };
const gc = (globalThis as { gc?: () => void }).gc;
const MiB = (n: number) => round(n / 1048576, 1);

function memory(): { rss: number; heap: number } {
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

export async function run(): Promise<void> {
  // The emulations' timers are unref'd: keep the process alive while a step waits on one.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    for (const hosts of HOSTS) {
      await stressFigures(hosts);
      await latencyFigures(hosts);
    }
  } finally {
    clearInterval(keepAlive);
  }
}

/** A stress run with hotplug by port power: events/s and memory at this size. */
async function stressFigures(hosts: number): Promise<void> {
  const dongles = hosts * 28;
  const base = memory();
  const events = eventsFor(hosts);
  const peak = { rss: 0, heap: 0 };
  let live: number | null = null;
  let samples = 0;
  // The steady rate: between the first progress report past 10% of the events and the last one
  // (the run's own events/s also counts setup, wiring and teardown, which grow with the lab too).
  type Mark = { events: number; wallMs: number };
  const marks: { from: Mark | null; to: Mark | null } = { from: null, to: null };
  const sample = (p?: { events: number; wallMs: number }) => {
    if (p && p.events >= events / 10) {
      marks.from ??= { events: p.events, wallMs: p.wallMs };
      marks.to = { events: p.events, wallMs: p.wallMs };
    }
    // Once, half way: the live heap after a GC (the peak includes garbage not yet collected).
    if (live === null && p && p.events >= events / 2) live = memory().heap;
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heap = Math.max(peak.heap, m.heapUsed);
    samples++;
  };
  const r = await runOnce({
    seed: 0x5ca1e + hosts,
    events,
    lab: () => createScaledLab(defaultDriverSets(), { hosts }),
    hotplug: 'power',
    timeline: false,
    onProgress: sample,
  });
  sample();
  const { from, to } = marks;
  const steady = from && to && to.wallMs > from.wallMs ? ((to.events - from.events) * 1000) / (to.wallMs - from.wallMs) : r.eventsPerSecond;
  emit({
    name: `scaling.h${hosts}.stress_events_per_s`,
    value: Math.round(steady),
    unit: 'events/s',
    hosts,
    dongles,
    with_setup_and_teardown: r.eventsPerSecond,
    events: r.events,
    cycles: r.cycles,
    cycles_per_s: Math.round(r.cycles / (r.wallMs / 1000)),
    wall_s: round(r.wallMs / 1000, 1),
    bytes_received: r.traffic.bytesReceived,
    violations: r.violations.length + r.suppressedViolations,
    ...machine,
  });
  emit({ name: `scaling.h${hosts}.rss_peak`, value: MiB(peak.rss), unit: 'MiB', hosts, dongles, baseline_mib: MiB(base.rss), samples });
  emit({ name: `scaling.h${hosts}.heap_peak`, value: MiB(peak.heap), unit: 'MiB', hosts, dongles, baseline_mib: MiB(base.heap), gc: Boolean(gc) });
  const mid = live ?? peak.heap;
  emit({ name: `scaling.h${hosts}.heap_live_mid_run`, value: MiB(mid), unit: 'MiB', hosts, dongles, baseline_mib: MiB(base.heap), gc: Boolean(gc) });
  emit({ name: `scaling.h${hosts}.heap_per_dongle`, value: round((mid - base.heap) / dongles / 1024, 1), unit: 'KiB', hosts, dongles, gc: Boolean(gc) });
}

/** Bring-up of the whole lab, then plug-to-open through hub port power, spread over every host. */
async function latencyFigures(hosts: number): Promise<void> {
  const lab = createScaledLab(defaultDriverSets(), { hosts });
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const regs = [];
  try {
    for (const set of lab.driverSets) regs.push(await registerUsbSerialDrivers(set.specs, set.name, set.ids, { usbBus: usb.bus }));
    lab.plugAll();
    await lab.flush();
    const t0 = performance.now();
    await usb.attachBackend(lab.backend);
    await usb.settled();
    const bringUp = performance.now() - t0;
    const names = lab.dongles();
    emit({ name: `scaling.h${hosts}.enumerate_and_bind_all`, value: round(bringUp, 1), unit: 'ms', hosts, dongles: names.length, per_dongle_ms: round(bringUp / names.length, 3) });

    const hc = new HubControl(lab.hubBackends, { isOurs: (h) => lab.dongleOf(h) !== undefined, sysfsRoot: '' });
    const hubs = new Map<string, HubInfo>((await hc.listHubs()).map((h) => [h.name, h]));
    // Every 7th dongle, so each hub and each host takes its turn.
    const picked = names.filter((_, i) => i % 7 === (i / 7) % 7 || names.length <= 28);
    const r = await measurePlugToOpen({
      usb,
      dongles: picked,
      samples: SAMPLES,
      dongleOf: (h) => lab.dongleOf(h),
      connect: async (d, on) => {
        const at = lab.hubPortOf(d)!;
        await hc.sendPower(hubs.get(at.hub)!.host, at.port, on);
      },
    });
    emit({ name: `scaling.h${hosts}.plug_to_open_p50`, value: round(r.p50, 3), unit: 'ms', hosts, dongles: names.length, samples: r.samples.length, by: 'hub port power' });
    emit({ name: `scaling.h${hosts}.plug_to_open_p99`, value: round(r.p99, 3), unit: 'ms', hosts, dongles: names.length, samples: r.samples.length, max_ms: round(r.max, 3), by: 'hub port power', ...machine });
  } finally {
    for (const reg of regs) await deregisterUsbSerialDrivers(reg);
    await usb.stop();
    await lab.close();
  }
}
