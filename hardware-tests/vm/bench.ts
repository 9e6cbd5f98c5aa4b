// `npm run bench:vm`: our userspace FTDI driver on each `usb` backend against the kernel's
// ftdi_sio + /dev/ttyUSB0 with node-serialport, side by side in one guest on the same emulated
// device (see jobs/bench.ts). JSON lines {name, value, unit, ...} on stdout; progress on stderr.
//
// What limits the figures (so read them as relative, not as the chip's speed): QEMU's emulated
// FTDI does not pace by baud, buffers at most 496 bytes, and reads its chardev again only when
// QEMU's main loop wakes; under TCG the guest CPU is slow (one `usb` 3.x read in flight used a
// whole vCPU). USB_HARNESS_VM_WAKE=1 wakes QEMU's main loop with a 1 kHz QMP query-status from
// the host (same for every path), which lifts the chardev limit so the paths' own costs show.
// Options: USB_HARNESS_VM_BENCH_BYTES (default 1 MiB), _RUNS (3), _PLUGS (3), _PATHS.
import { emit, round } from '../../bench/report.ts';
import { echoPeer } from './peers.ts';
import { formatTimings, withGuest } from './runner.ts';
import { prepareVm, VmUnavailableError } from './setup.ts';

interface PathResult {
  path: string;
  kBps: number[];
  cpuMsPerMiB: number[];
  plugToEchoMs: number[];
  appearToEchoMs: number[];
  errors: string[];
}

const env = process.env;
const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

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
const run = await withGuest(
  {
    devices: [{ id: 'ftdi' }],
    job: 'hardware-tests/vm/jobs/bench.ts',
    env: {
      VM_BENCH_BYTES: env.USB_HARNESS_VM_BENCH_BYTES ?? String(1 << 20),
      VM_BENCH_RUNS: env.USB_HARNESS_VM_BENCH_RUNS ?? '3',
      VM_BENCH_PLUGS: env.USB_HARNESS_VM_BENCH_PLUGS ?? '3',
      VM_BENCH_PATHS: env.USB_HARNESS_VM_BENCH_PATHS ?? 'kernel,libusb,nusb',
    },
    timeoutMs: 900_000,
    onLine: (l) => process.stderr.write(`  [guest] ${l}\n`),
  },
  async (guest) => {
    const peer = echoPeer(await guest.serial('ftdi'));
    await guest.channel.next('ready', 120_000);
    let waker: NodeJS.Timeout | undefined;
    if (wake) waker = setInterval(() => void guest.qmp.execute('query-status').catch(() => undefined), 1);
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

const { bytes, results, unhandled } = run.result as { bytes: number; results: PathResult[]; unhandled: number };
if (unhandled) process.stderr.write(`bench:vm ${unhandled} unhandled rejection(s) in the guest job (a bug: see its log)\n`);
const ctx = { bytes, wake, accel: env.USB_HARNESS_VM_ACCEL ?? 'tcg' };
const byPath = new Map(results.map((r) => [r.path, r]));
for (const r of results) {
  if (r.errors.length) process.stderr.write(`bench:vm ${r.path}: ${r.errors.join('; ')}\n`);
  emit({ name: `vm.echo_throughput.${r.path}`, value: round(median(r.kBps), 0), unit: 'kB/s', runs: r.kBps.map((x) => round(x, 0)), ...ctx });
  emit({ name: `vm.echo_cpu.${r.path}`, value: round(median(r.cpuMsPerMiB), 0), unit: 'ms/MiB', note: 'guest node process CPU (user+sys) per MiB echoed; kernel-side work not included', ...ctx });
  emit({ name: `vm.plug_to_echo.${r.path}`, value: round(median(r.plugToEchoMs), 0), unit: 'ms', runs: r.plugToEchoMs.map((x) => round(x, 0)), ...ctx });
  emit({ name: `vm.appear_to_echo.${r.path}`, value: round(median(r.appearToEchoMs), 1), unit: 'ms', runs: r.appearToEchoMs.map((x) => round(x, 1)), ...ctx });
}
const kernel = byPath.get('kernel');
if (kernel) {
  for (const r of results.filter((x) => x.path !== 'kernel')) {
    emit({ name: `vm.echo_throughput_ratio.${r.path}_vs_kernel`, value: round(median(r.kBps) / median(kernel.kBps), 2), unit: 'x', ...ctx });
    emit({ name: `vm.plug_to_echo_ratio.${r.path}_vs_kernel`, value: round(median(r.plugToEchoMs) / median(kernel.plugToEchoMs), 2), unit: 'x', ...ctx });
    emit({ name: `vm.appear_to_echo_ratio.${r.path}_vs_kernel`, value: round(median(r.appearToEchoMs) / median(kernel.appearToEchoMs), 2), unit: 'x', ...ctx });
  }
}
