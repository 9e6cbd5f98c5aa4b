// `npm run bench:vm`: our userspace FTDI driver on each `usb` backend against the kernel's
// ftdi_sio + /dev/ttyUSB0 with node-serialport, side by side in one guest on the same emulated
// device (see jobs/bench.ts). The paths take turns round by round; each figure is the median
// over rounds with min and max, and each ratio to the kernel path is the median of the
// per-round ratios (a busy stretch on the shared host then weighs on both sides of a ratio).
// JSON lines {name, value, unit, min, max, rounds, ...} on stdout; progress on stderr.
//
// What limits the figures (so read them as relative, not as the chip's speed): QEMU's emulated
// FTDI does not pace by baud, buffers at most 496 bytes, and reads its chardev again only when
// QEMU's main loop wakes; under TCG the guest CPU is slow (one `usb` 3.x read in flight used a
// whole vCPU). USB_HARNESS_VM_WAKE=1 wakes QEMU's main loop with a 1 kHz QMP query-status from
// the host (same for every path), which lifts the chardev limit so the paths' own costs show.
// Options: USB_HARNESS_VM_BENCH_BYTES (default 1 MiB), _ROUNDS (5), _PATHS (kernel,libusb,nusb),
// _PROFILE=<host dir>: a CPU profile of every echo window in the guest (node's inspector; it
// slows the guest's node down, so the figures of such a run are not the ones to quote), copied
// into that directory as <path>.round<n>.cpuprofile.
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { emit, roundRatios, spread } from '../../bench/report.ts';
import type { TurnResult } from './jobs/bench.ts';
import { echoPeer } from './peers.ts';
import { formatTimings, withGuest } from './runner.ts';
import { prepareVm, VmUnavailableError } from './setup.ts';

const env = process.env;

try {
  await prepareVm();
} catch (err) {
  if (err instanceof VmUnavailableError) {
    process.stderr.write(`bench:vm skipped — ${err.message}\n`);
    process.exit(0);
  }
  throw err;
}

const wake = env.USB_HARNESS_VM_WAKE === '1';
const profileDir = env.USB_HARNESS_VM_BENCH_PROFILE;
const run = await withGuest(
  {
    devices: [{ id: 'ftdi' }],
    job: 'hardware-tests/vm/jobs/bench.ts',
    env: {
      VM_BENCH_BYTES: env.USB_HARNESS_VM_BENCH_BYTES ?? String(1 << 20),
      VM_BENCH_ROUNDS: env.USB_HARNESS_VM_BENCH_ROUNDS ?? '5',
      VM_BENCH_PATHS: env.USB_HARNESS_VM_BENCH_PATHS ?? 'kernel,libusb,nusb',
      VM_BENCH_PROFILE: profileDir ? '1' : '0',
    },
    timeoutMs: 1_800_000,
    onLine: (l) => process.stderr.write(`  [guest] ${l}\n`),
  },
  async (guest) => {
    const peer = echoPeer(await guest.serial('ftdi'));
    // Boot under TCG on a busy host can take minutes: the run's own timeout bounds it.
    await guest.channel.next('ready', 600_000);
    let waker: NodeJS.Timeout | undefined;
    if (wake) waker = setInterval(() => void guest.qmp.execute('query-status').catch(() => undefined), 1);
    if (profileDir) {
      guest.channel.handle('profiles-written', () => {
        const from = join(guest.dir, 'prof');
        mkdirSync(profileDir, { recursive: true });
        if (existsSync(from)) cpSync(from, profileDir, { recursive: true });
        process.stderr.write(`bench:vm profiles copied to ${profileDir}\n`);
        return true;
      });
    }
    // Runs until the guest powers off; the waker stops with the runner's teardown.
    return { peer, stop: () => clearInterval(waker) };
  },
);
run.value.stop();
process.stderr.write(`bench:vm guest ${formatTimings(run.timings)}\n`);
if (run.status !== 0) {
  process.stderr.write(run.jobLog);
  throw new Error(`bench job exited ${run.status}`);
}

const { bytes, rounds, paths, turns, unhandled } = run.result as { bytes: number; rounds: number; paths: string[]; turns: TurnResult[]; unhandled: number };
if (unhandled) process.stderr.write(`bench:vm ${unhandled} unhandled rejection(s) in the guest job (a bug: see its log)\n`);
for (const t of turns) if (t.errors.length) process.stderr.write(`bench:vm round ${t.round} ${t.path}: ${t.errors.join('; ')}\n`);
const ctx = { bytes, wake, accel: env.USB_HARNESS_VM_ACCEL ?? 'tcg', interleaved: paths.join(',') };

type Figure = 'kBps' | 'guestCpuMsPerMiB' | 'processCpuMsPerMiB' | 'plugToEchoMs' | 'appearToEchoMs' | 'plugToAppearMs' | 'plugToConnectMs' | 'connectToPortMs';
const FIGURES: readonly { key: Figure; name: string; unit: string; digits: number; note?: string }[] = [
  { key: 'kBps', name: 'echo_throughput', unit: 'kB/s', digits: 0 },
  { key: 'guestCpuMsPerMiB', name: 'echo_cpu', unit: 'ms/MiB', digits: 0, note: 'all guest CPU over the echo window (/proc/stat, all CPUs, user+nice+system+irq+softirq) per MiB echoed' },
  { key: 'processCpuMsPerMiB', name: 'echo_process_cpu', unit: 'ms/MiB', digits: 0, note: "the guest node process's CPU (user+sys) per MiB echoed" },
  { key: 'plugToEchoMs', name: 'plug_to_echo', unit: 'ms', digits: 0 },
  { key: 'appearToEchoMs', name: 'appear_to_echo', unit: 'ms', digits: 1 },
  { key: 'plugToAppearMs', name: 'plug_to_appear', unit: 'ms', digits: 0, note: 'QMP device_add to the tty node (kernel) or our port object' },
  { key: 'plugToConnectMs', name: 'plug_to_connect', unit: 'ms', digits: 0, note: "ours: QMP device_add to the backend's connect event" },
  { key: 'connectToPortMs', name: 'connect_to_port', unit: 'ms', digits: 1, note: "ours: the backend's connect event to our port object (probe, kernel driver detached)" },
];
/** The figure in the rounds where it was measured, keyed by round. */
const values = (path: string, key: Figure) => new Map(turns.filter((t) => t.path === path && t[key] !== undefined).map((t) => [t.round, t[key]!]));

for (const path of paths) {
  for (const f of FIGURES) {
    const v = [...values(path, f.key).values()];
    if (v.length) emit({ name: `vm.${f.name}.${path}`, unit: f.unit, ...spread(v, f.digits), ...(f.note ? { note: f.note } : {}), ...ctx });
  }
}
if (paths.includes('kernel')) {
  for (const path of paths.filter((p) => p !== 'kernel')) {
    for (const f of FIGURES) {
      const mine = values(path, f.key);
      const kernel = values('kernel', f.key);
      // Only rounds where both sides measured: a ratio across rounds would not be fair.
      const both = [...mine.keys()].filter((r) => kernel.has(r));
      if (both.length === 0) continue;
      emit({ name: `vm.${f.name}_ratio.${path}_vs_kernel`, unit: 'x', ...roundRatios(both.map((r) => mine.get(r)!), both.map((r) => kernel.get(r)!), 2), of: `${path} / kernel per round`, ...ctx, roundsPlanned: rounds });
    }
  }
}
