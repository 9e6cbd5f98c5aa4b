// Stress harness figures on the built-in mock lab (FTDI and PL2303 emulations behind the whole
// stack): sustained plug/unplug cycles per second with registration churn and traffic, heap
// growth over 100,000 cycles, the violation count of a 10^6-event run, and the 99th percentile
// from plug to an open port.
import { cpus } from 'node:os';
import { createMockLab } from '../mocks/lab.ts';
import { defaultDriverSets } from '../drivers/index.ts';
import { DriverModel } from '../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, usbSerialBusOf, type UsbSerialPort } from '../src/serial/index.ts';
import { runOnce } from '../src/stress/index.ts';
import { UsbSubsystem } from '../src/usb/index.ts';
import { emit, round } from './report.ts';

const gc = (globalThis as { gc?: () => void }).gc;
const heapMiB = () => {
  gc?.();
  return process.memoryUsage().heapUsed / 1048576;
};
const machine = { cpus: cpus().length, node: process.version };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Hotplug-heavy, with everything else still happening. */
const CHURN = 'hotplug=200,registration=3,write=30,open=14,close=5,signals=3,new_id=2,remove_id=1,bind=2,unbind=2,check=0.5';

function byInvariant(vs: readonly { invariant: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of vs) out[v.invariant] = (out[v.invariant] ?? 0) + 1;
  return out;
}

export async function run(): Promise<void> {
  // The emulations' timers are unref'd: keep the process alive while a step waits on one.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    await figures();
  } finally {
    clearInterval(keepAlive);
  }
}

async function figures(): Promise<void> {
  // Sustained: the default mix and a hotplug-heavy one, invariants checked all along.
  for (const [mix, rates] of [
    ['default', undefined],
    ['hotplug-heavy', CHURN],
  ] as const) {
    const r = await runOnce({ seed: 0x5eed, events: 30_000, lab: () => createMockLab({ driverSets: defaultDriverSets() }), timeline: false, ...(rates ? { rates } : {}) });
    const s = r.wallMs / 1000;
    emit({
      name: `stress.${mix}.cycles_per_s`,
      value: Math.round(r.cycles / s),
      unit: 'cycles/s',
      events_per_s: r.eventsPerSecond,
      registrations: r.counts.register.ok + r.counts.deregister.ok,
      bytes_received: r.traffic.bytesReceived,
      violations: r.violations.length,
      violations_by_invariant: byInvariant(r.violations),
      ...machine,
    });
  }

  // The long record: 10^6 events of the default mix, every invariant checked all along. The
  // figure that matters is its violation count (0 expected); it takes minutes.
  {
    const r = await runOnce({ seed: 0x01352953, events: 1_000_000, lab: () => createMockLab({ driverSets: defaultDriverSets() }), timeline: false, maxViolations: 1000 });
    emit({
      name: 'stress.default.million_events.violations',
      value: r.violations.length + r.suppressedViolations,
      unit: 'violations',
      events: r.events,
      cycles: r.cycles,
      wall_s: round(r.wallMs / 1000, 1),
      bytes_received: r.traffic.bytesReceived,
      violations_by_invariant: byInvariant(r.violations),
      first: r.violations.slice(0, 3).map((v) => `#${v.event} ${v.invariant}: ${v.message}`),
      replay: r.replay.command,
      ...machine,
    });
  }

  // Heap over 100,000 cycles: sampled once warm (10,000 cycles) and at the end, after a GC each.
  {
    let warm: number | null = null;
    let last = 0;
    const r = await runOnce({
      seed: 0xbeef,
      cycles: 100_000,
      lab: () => createMockLab({ driverSets: defaultDriverSets() }),
      timeline: false,
      rates: CHURN,
      onProgress: (p) => {
        if (warm === null && p.cycles >= 10_000) warm = heapMiB();
        if (p.cycles >= 100_000) last = heapMiB();
      },
    });
    const w = warm ?? 0;
    emit({ name: 'stress.heap_warm_10k_cycles', value: round(w, 1), unit: 'MiB', gc: Boolean(gc) });
    emit({ name: 'stress.heap_after_100k_cycles', value: round(last, 1), unit: 'MiB', gc: Boolean(gc) });
    emit({
      name: 'stress.heap_growth_10k_to_100k_cycles',
      value: round(last - w, 2),
      unit: 'MiB',
      cycles: r.cycles,
      events: r.events,
      seconds: round(r.wallMs / 1000, 1),
      violations: r.violations.length,
      violations_by_invariant: byInvariant(r.violations),
      gc: Boolean(gc),
    });
  }

  // Plug to open port, wall clock, through the emulated chips and the whole stack.
  {
    const lab = createMockLab({ driverSets: defaultDriverSets() });
    const usb = new UsbSubsystem({ model: new DriverModel() });
    const regs = [];
    for (const set of lab.driverSets) regs.push(await registerUsbSerialDrivers(set.specs, set.name, set.ids, { usbBus: usb.bus }));
    lab.plugAll();
    await lab.flush();
    await usb.attachBackend(lab.backend);
    await usb.settled();
    const serialBus = usbSerialBusOf(usb.bus);
    const portOf = (d: string): UsbSerialPort | undefined =>
      serialBus.listDevices().find((p) => p.state === 'live' && !p.gone && lab.dongleOf(p.serial.usbDevice.host) === d);
    const samples: Record<string, number[]> = {};
    const dongles = ['ft232r', 'ft232h', 'pl2303hx', 'pl2303gc'];
    for (let i = 0; i < 2000; i++) {
      const d = dongles[i % dongles.length]!;
      lab.unplug(d);
      await lab.flush();
      await usb.settled();
      const appeared = new Promise<void>((resolve) => {
        const sub = usb.model.uevents.subscribe((e) => {
          if (e.bus === 'usb-serial' && e.action === 'bind' && portOf(d)) {
            sub.unsubscribe();
            resolve();
          }
        });
      });
      const t0 = performance.now();
      lab.plug(d);
      await appeared;
      const port = portOf(d)!;
      await port.open({ baudRate: 115200 });
      (samples[d] ??= []).push(performance.now() - t0);
      await port.close();
    }
    const all = Object.values(samples).flat().sort((a, b) => a - b);
    emit({ name: 'stress.plug_to_open_p50', value: round(percentile(all, 50), 3), unit: 'ms', samples: all.length, ...machine });
    emit({ name: 'stress.plug_to_open_p99', value: round(percentile(all, 99), 3), unit: 'ms', samples: all.length, ...machine });
    for (const [d, list] of Object.entries(samples)) {
      list.sort((a, b) => a - b);
      emit({ name: `stress.plug_to_open_p99.${d}`, value: round(percentile(list, 99), 3), unit: 'ms', samples: list.length });
    }
    for (const r of regs) await deregisterUsbSerialDrivers(r);
    await usb.stop();
    await lab.close();
  }
}
