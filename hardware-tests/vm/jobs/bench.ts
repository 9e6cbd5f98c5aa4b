// Guest job for `npm run bench:vm`: on the same emulated FTDI (QEMU usb-serial, the host echoing
// on its chardev), in this one guest, the paths take turns round by round (kernel, libusb, nusb,
// kernel, libusb, nusb, ...) so a noisy stretch on the shared host lands on every path alike:
// - kernel: ftdi_sio + /dev/ttyUSB0 opened with node-serialport (@serialport/stream over
//   @serialport/bindings-cpp), as an application does today;
// - ours on each `usb` backend: our ftdi_sio driver (libusb = usb 2.x, nusb = usb 3.x).
// Each turn measures one echo run (VM_BENCH_BYTES) and one plug-to-first-echo (QMP device_add
// asked of the host → port found → opened → one byte echoed), same baud (3 Mbaud: QEMU does not
// pace by baud anyway), same write size, same reader. CPU is the guest's own accounting over the
// echo window (/proc/stat, all CPUs, user+nice+system+irq+softirq): the kernel path's work in
// ftdi_sio, the tty layer and the xHCI driver counts as much as our process's.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { SerialPortStream } from '@serialport/stream';
import { autoDetect } from '@serialport/bindings-cpp';
import { DriverModel } from '../../../src/core/index.ts';
import { createHostBackend, type HostBackendName } from '../../../src/usb/backends/select.ts';
import { UsbSubsystem } from '../../../src/usb/index.ts';
import { deregisterUsbSerialDrivers, type UsbSerialPort } from '../../../src/serial/index.ts';
import { registerFtdi } from '../../../drivers/ftdi/index.ts';
import { hostLink, writeResult } from '../guest/link.ts';
import { patternBytes } from './pattern.ts';

const BYTES = Number(process.env.VM_BENCH_BYTES ?? 1 << 20);
const ROUNDS = Number(process.env.VM_BENCH_ROUNDS ?? 5);
const BAUD = 3_000_000;
const TTY = '/dev/ttyUSB0';
/** /proc/stat counts in USER_HZ, which Linux fixes at 100 on every architecture it exports it to. */
const MS_PER_TICK = 10;
/** VM_BENCH_PROFILE=1: a CPU profile of each echo window, in the job folder's prof/ (the host copies it out). */
const PROFILE = process.env.VM_BENCH_PROFILE === '1';
const PROFILE_DIR = '/vmjob/prof';
const link = hostLink();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const data = patternBytes(BYTES, 99);
// An unhandled rejection must not end the benchmark: count it, report it.
let unhandled = 0;
process.on('unhandledRejection', (err) => {
  unhandled++;
  console.log(`unhandled rejection: ${err instanceof Error ? err.message : String(err)}`);
});

/** One path's turn in one round. */
export interface TurnResult {
  path: string;
  round: number;
  kBps?: number;
  /** All guest CPU (every CPU, kernel included) over the echo window, per MiB echoed. */
  guestCpuMsPerMiB?: number;
  /** The guest's node process alone (user+system), per MiB echoed. */
  processCpuMsPerMiB?: number;
  plugToEchoMs?: number;
  /** From the device's port being there (tty node / our port object) to the byte echoed. */
  appearToEchoMs?: number;
  /** From the plug to the port being there (tty node / our port object). */
  plugToAppearMs?: number;
  /** Ours: from the plug to the backend's connect event, and from there to our port. */
  plugToConnectMs?: number;
  connectToPortMs?: number;
  /** Bytes left over from an earlier turn, dropped before this one measured. */
  staleBytes?: number;
  errors: string[];
}

/** A minimal port both paths are driven through, so the measuring code is the same. */
interface Echoable {
  write(bytes: Uint8Array): Promise<void>;
  onData(fn: (chunk: Uint8Array) => void): void;
  close(): Promise<void>;
}

/** Busy ticks of all the guest's CPUs: user, nice, system, irq, softirq (not idle, iowait, steal). */
function guestBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return f[0]! + f[1]! + f[2]! + f[5]! + f[6]!;
}

let profiler: Session | undefined;
async function startProfile(): Promise<void> {
  if (!PROFILE) return;
  if (!profiler) {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    mkdirSync(PROFILE_DIR, { recursive: true });
  }
  await profiler.post('Profiler.start');
}
async function stopProfile(turn: TurnResult): Promise<void> {
  if (!profiler) return;
  const { profile } = await profiler.post('Profiler.stop');
  writeFileSync(`${PROFILE_DIR}/${turn.path}.round${turn.round}.cpuprofile`, JSON.stringify(profile));
}

/** Quiet before a turn measures: bytes still echoing from an earlier turn that gave up are read and dropped. */
const QUIET_MS = 300;

async function drainStale(p: Echoable, turn: TurnResult): Promise<void> {
  let stale = 0;
  let last = performance.now();
  p.onData((c) => {
    stale += c.length;
    last = performance.now();
  });
  const end = last + 30_000;
  while (performance.now() - last < QUIET_MS && performance.now() < end) await sleep(50);
  if (stale > 0) turn.staleBytes = stale;
  if (performance.now() >= end) throw new Error(`the line did not go quiet (${stale} stale bytes in 30 s)`);
}

async function echoRun(p: Echoable, bytes: Uint8Array, turn: TurnResult): Promise<void> {
  await drainStale(p, turn);
  let got = 0;
  let firstBad = -1;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  p.onData((c) => {
    for (let i = 0; i < c.length && firstBad < 0; i++) if (c[i] !== bytes[got + i]) firstBad = got + i;
    got += c.length;
    if (got >= bytes.length) done();
  });
  await startProfile();
  const ticks0 = guestBusyTicks();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await p.write(bytes);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`echo stalled at ${got} of ${bytes.length} bytes`)), 120_000)))]).finally(() => clearTimeout(timer));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const ticks = guestBusyTicks() - ticks0;
  await stopProfile(turn);
  if (firstBad >= 0) throw new Error(`echo differs at byte ${firstBad}`);
  const mib = bytes.length / (1 << 20);
  turn.kBps = bytes.length / 1000 / seconds;
  turn.guestCpuMsPerMiB = (ticks * MS_PER_TICK) / mib;
  turn.processCpuMsPerMiB = (cpu.user + cpu.system) / 1000 / mib;
}

async function firstEcho(p: Echoable): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const echoed = new Promise<void>((r) => p.onData(() => r()));
  await p.write(new Uint8Array([0x55]));
  await Promise.race([echoed, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('no echo of the first byte')), 10_000)))]).finally(() => clearTimeout(timer));
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

// -- the kernel path: ftdi_sio + node-serialport ---------------------------------------------

const binding = autoDetect();

async function openTty(): Promise<Echoable> {
  const port = new SerialPortStream({ binding, path: TTY, baudRate: BAUD, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((err) => (err ? rej(err) : res())));
  let listener: ((c: Uint8Array) => void) | null = null;
  port.on('data', (c: Buffer) => listener?.(c));
  return {
    write: (bytes) => new Promise<void>((res, rej) => port.write(Buffer.from(bytes), (err) => (err ? rej(err) : res()))),
    onData: (fn) => (listener = fn),
    close: () => new Promise<void>((res) => port.close(() => res())),
  };
}

async function kernelTurn(turn: TurnResult): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(TTY); i++) await sleep(20);
  const port = await openTty();
  try {
    await echoRun(port, data, turn);
  } finally {
    await port.close();
  }
  await link.unplug('ftdi');
  for (let j = 0; j < 200 && existsSync(TTY); j++) await sleep(10);
  const t0 = performance.now();
  await link.plug('ftdi');
  // What an application does without udev rules: wait for the node, open it (retrying while
  // udev still sets it up).
  let appeared = 0;
  let p: Echoable | undefined;
  for (let j = 0; j < 2000 && !p; j++) {
    if (existsSync(TTY)) {
      appeared ||= performance.now();
      p = await openTty().catch(() => undefined);
    }
    if (!p) await sleep(2);
  }
  if (!p) throw new Error(`${TTY} did not open after the plug`);
  try {
    await firstEcho(p);
    const t1 = performance.now();
    turn.plugToEchoMs = t1 - t0;
    turn.appearToEchoMs = t1 - appeared;
    turn.plugToAppearMs = appeared - t0;
  } finally {
    await p.close();
  }
}

// -- our path: the ftdi_sio driver on a `usb` backend ------------------------------------------

function ourPort(port: UsbSerialPort): Echoable {
  let listener: ((c: Uint8Array) => void) | null = null;
  const sub = port.events.subscribe((e) => {
    if (e.type === 'data') listener?.(e.data);
  });
  return {
    write: async (bytes) => void (await port.write(bytes)),
    onData: (fn) => (listener = fn),
    close: async () => {
      sub.unsubscribe();
      await port.close();
    },
  };
}

async function ourTurn(backendName: HostBackendName, turn: TurnResult): Promise<void> {
  const backend = await createHostBackend(backendName);
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const stop = await usb.attachBackend(backend);
  await usb.settled();
  const reg = await registerFtdi(usb.bus);
  try {
    await usb.settled();
    const waitPort = async (ms: number) => {
      const end = performance.now() + ms;
      for (;;) {
        const p = reg.ports().find((x) => !x.gone);
        if (p) return p;
        if (performance.now() > end) return undefined;
        await sleep(2);
      }
    };
    const first = await waitPort(10_000);
    if (!first) throw new Error('no port');
    await first.open({ baudRate: BAUD });
    const p = ourPort(first);
    try {
      await echoRun(p, data, turn);
    } finally {
      await p.close();
    }
    await link.unplug('ftdi');
    for (let j = 0; j < 500 && reg.ports().length > 0; j++) await sleep(10);
    let connected = 0;
    const unwatch = await backend.watch((e) => {
      if (e.type === 'connect') connected ||= performance.now();
    });
    const t0 = performance.now();
    await link.plug('ftdi');
    const port = await waitPort(20_000);
    unwatch();
    if (!port) throw new Error('no port after the plug');
    const appeared = performance.now();
    // Where a plug's time goes on our side: the backend's connect event, then our port.
    if (connected) {
      turn.plugToConnectMs = connected - t0;
      turn.connectToPortMs = appeared - connected;
    }
    await port.open({ baudRate: BAUD });
    const q = ourPort(port);
    try {
      await firstEcho(q);
      const t1 = performance.now();
      turn.plugToEchoMs = t1 - t0;
      turn.appearToEchoMs = t1 - appeared;
      turn.plugToAppearMs = appeared - t0;
    } finally {
      await q.close();
    }
  } finally {
    await deregisterUsbSerialDrivers(reg);
    stop();
    await usb.stop();
    await backend.close();
    // The kernel's ftdi_sio has the interface back: let udev make /dev/ttyUSB0 before the next turn.
    for (let j = 0; j < 100 && !existsSync(TTY); j++) await sleep(20);
  }
}

link.emit('ready');
const paths = (process.env.VM_BENCH_PATHS ?? 'kernel,libusb,nusb').split(',');
const turns: TurnResult[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const path of paths) {
    const turn: TurnResult = { path, round, errors: [] };
    const t0 = performance.now();
    try {
      if (path === 'kernel') await kernelTurn(turn);
      else await ourTurn(path as HostBackendName, turn);
    } catch (err) {
      turn.errors.push(message(err));
    }
    turns.push(turn);
    console.log(`round ${round} ${path}: ${JSON.stringify(turn)} (${Math.round(performance.now() - t0)} ms)`);
  }
}
writeResult({ bytes: BYTES, rounds: ROUNDS, paths, turns, unhandled });
// The host copies the profiles out of the job folder before the guest powers off.
if (PROFILE) await link.request('profiles-written');
link.close();
