// Guest job: real-hub power control on a real kernel. QEMU's usb-hub (port-power=on, so per-port
// power switching) hangs from xhci root port 1 (the guest's hub 1-1); three of QEMU's FTDIs sit
// on its ports 1-3, echoed by the host test, and a usb-kbd (not ours) on port 4. The job:
// 1. runs `usb-harness stress --dry-run` (the command, in-process) and keeps what it printed;
// 2. asks to cut the keyboard's port without --force (must be refused);
// 3. runs the stress harness on real hubs until VM_CYCLES power cycles (VM_STRESS_MS at most):
//    ports power-cycled while driver sets register and deregister and traffic flows through the echo;
// 4. measures plug-to-open through port power with src/stress/plug-to-open.ts;
// and records around it all: the hub interface's driver, the keyboard's device number and its
// port's `disable` attribute (a power cycle re-enumerates a device with a new number).
import { readFileSync, readlinkSync } from 'node:fs';
import { Command } from 'commander';
import { defaultDriverSets } from '../../../drivers/index.ts';
import { DriverModel } from '../../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers } from '../../../src/serial/index.ts';
import { registerStressCommand } from '../../../src/stress/cli.ts';
import { ForeignDeviceError, HubControl, measurePlugToOpen, ourDevicePredicate, runOnce, type HubInfo } from '../../../src/stress/index.ts';
import { createHostBackend, type HostBackendName } from '../../../src/usb/backends/select.ts';
import { UsbSubsystem } from '../../../src/usb/index.ts';
import { writeResult } from '../guest/link.ts';

const backendName = (process.env.VM_BACKEND ?? 'libusb') as HostBackendName;
const cycles = Number(process.env.VM_CYCLES ?? 5);
const stressMs = Number(process.env.VM_STRESS_MS ?? 60_000);
const samples = Number(process.env.VM_SAMPLES ?? 6);
const HUB = '1-1';
const KBD = '1-1.4';
const DONGLES = ['1-1.1', '1-1.2', '1-1.3'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const unhandled: string[] = [];
process.on('unhandledRejection', (err) => unhandled.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err)));

const sys = (path: string) => {
  try {
    return readFileSync(`/sys/bus/usb/devices/${path}`, 'utf8').trim();
  } catch {
    return null;
  }
};
const hubDriver = () => {
  try {
    return readlinkSync(`/sys/bus/usb/devices/${HUB}:1.0/driver`).split('/').pop() ?? null;
  } catch {
    return null;
  }
};
const snapshot = () => ({
  hubDriver: hubDriver(),
  kbdDevnum: sys(`${KBD}/devnum`),
  kbdProduct: sys(`${KBD}/product`),
  kbdPortDisable: sys(`${HUB}:1.0/${HUB}-port4/disable`),
  dongleDevnums: Object.fromEntries(DONGLES.map((d) => [d, sys(`${d}/devnum`)])),
});

// Everything enumerated (TCG: a few seconds after boot).
for (let i = 0; i < 200 && [KBD, ...DONGLES].some((d) => sys(`${d}/devnum`) === null); i++) await sleep(50);
const result: Record<string, unknown> = { backend: backendName, before: snapshot() };
const driverSets = defaultDriverSets();

// 1. The dry run, through the command itself.
{
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command().name('usb-harness').exitOverride();
  registerStressCommand(program, {
    driverSets: () => driverSets,
    createLab: () => {
      throw new Error('no mock lab in this job');
    },
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  await program.parseAsync(['node', 'usb-harness', 'stress', '--dry-run', '--backend', backendName]);
  result.dryRun = { exitCode: process.exitCode ?? 0, out, err };
  process.exitCode = 0;
}

// 2. The keyboard's port, without --force.
{
  const backend = await createHostBackend(backendName);
  try {
    const hc = new HubControl([backend], { isOurs: ourDevicePredicate(driverSets, []) });
    const err = await hc.setPortPower(HUB, 4, false).catch((e: unknown) => e);
    result.foreignRefused = { refused: err instanceof ForeignDeviceError, message: err instanceof Error ? err.message : String(err) };
  } finally {
    await backend.close();
  }
}

// 3. The stress run on the real hub.
{
  const backend = await createHostBackend(backendName);
  const r = await runOnce({
    seed: Number(process.env.VM_SEED ?? 0x4ab),
    cycles,
    durationMs: stressMs,
    hubs: { backend, driverSets },
    rates: 'hotplug=2,registration=0.5',
    command: `usb-harness stress --backend ${backendName}`,
  });
  const cycled = [...new Set(r.timeline.filter((e) => e.kind === 'unplug' && e.outcome === 'ok').map((e) => e.target))].sort();
  result.stress = {
    ok: r.ok,
    events: r.events,
    cycles: r.cycles,
    wallMs: r.wallMs,
    counts: Object.fromEntries(Object.entries(r.counts).map(([k, c]) => [k, `${c.issued} issued, ${c.ok} ok, ${c.failed} failed; ${JSON.stringify({ ...c.skips, ...c.errors })}`])),
    stoppedEarly: r.stoppedEarly,
    cyclesPerSecond: r.cycles / (r.wallMs / 1000),
    eventsPerSecond: r.eventsPerSecond,
    violations: r.violations.slice(0, 5).map((v) => `#${v.event} ${v.invariant}: ${v.message}`),
    violationCount: r.violations.length + r.suppressedViolations,
    powerMethods: r.powerMethods ?? {},
    cycled,
    hotplugDongles: r.topology.dongles.filter((d) => d.hotplug).map((d) => d.name).sort(),
    dongles: r.topology.dongles.map((d) => d.name).sort(),
    links: r.topology.links.map((l) => l.id).sort(),
    registrations: r.counts.register.ok + r.counts.deregister.ok,
    opens: r.counts.open.ok,
    bytesReceived: r.traffic.bytesReceived,
    replay: r.replay.command,
  };
}
result.afterStress = snapshot();

// 4. Plug-to-open through port power, the same measurement as the mock lab's.
{
  const backend = await createHostBackend(backendName);
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const regs = [];
  const isOurs = ourDevicePredicate(driverSets, []);
  try {
    for (const s of driverSets) regs.push(await registerUsbSerialDrivers(s.specs, s.name, s.ids, { usbBus: usb.bus }));
    await usb.attachBackend(backend);
    await usb.settled();
    const hc = new HubControl([backend], { isOurs });
    const hub = (await hc.listHubs()).find((h) => h.name === HUB) as HubInfo;
    const methods: Record<string, number> = {};
    const m = await measurePlugToOpen({
      usb,
      dongles: DONGLES,
      samples,
      dongleOf: (h) => {
        const loc = h.location;
        return loc && isOurs(h) ? `${loc.busNumber}-${loc.portNumbers.join('.')}` : undefined;
      },
      connect: async (d, on) => {
        const how = await hc.sendPower(hub.host, Number(d.split('.').pop()), on);
        methods[how] = (methods[how] ?? 0) + 1;
      },
    });
    result.plugToOpen = { p50: m.p50, p99: m.p99, max: m.max, samples: m.samples, methods };
  } catch (err) {
    result.plugToOpen = { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  } finally {
    for (const r of regs) await deregisterUsbSerialDrivers(r);
    await usb.stop();
    await backend.close();
  }
}
result.after = snapshot();
result.unhandled = unhandled;
writeResult(result);
console.log(JSON.stringify(result, null, 1));
