// Guest job for `npm run bench:vm`: on the same emulated FTDI (QEMU usb-serial, the host echoing
// on its chardev), one after the other in this one guest:
// - kernel: ftdi_sio + /dev/ttyUSB0 opened with node-serialport (@serialport/stream over
//   @serialport/bindings-cpp), as an application does today;
// - ours on each `usb` backend: our ftdi_sio driver (libusb = usb 2.x, nusb = usb 3.x).
// For each: echo throughput (VM_BENCH_BYTES, VM_BENCH_RUNS times) and plug-to-echo latency
// (QMP device_add asked of the host → port found → opened → one byte echoed), same baud
// (3 Mbaud: QEMU does not pace by baud anyway), same write size, same reader.
import { existsSync } from 'node:fs';
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
const RUNS = Number(process.env.VM_BENCH_RUNS ?? 3);
const PLUGS = Number(process.env.VM_BENCH_PLUGS ?? 3);
const BAUD = 3_000_000;
const TTY = '/dev/ttyUSB0';
const link = hostLink();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const data = patternBytes(BYTES, 99);
// An unhandled rejection (the pipeline once had one on unplug, fixed) must not end the benchmark:
// count it, report it.
let unhandled = 0;
process.on('unhandledRejection', (err) => {
  unhandled++;
  console.log(`unhandled rejection: ${err instanceof Error ? err.message : String(err)}`);
});

interface PathResult {
  path: string;
  kBps: number[];
  cpuMsPerMiB: number[];
  plugToEchoMs: number[];
  /** From the device's port being there (tty node / our port object) to the byte echoed. */
  appearToEchoMs: number[];
  errors: string[];
}

/** A minimal port both paths are driven through, so the measuring code is the same. */
interface Echoable {
  write(bytes: Uint8Array): Promise<void>;
  onData(fn: (chunk: Uint8Array) => void): void;
  close(): Promise<void>;
}

async function echoRun(p: Echoable, bytes: Uint8Array): Promise<{ seconds: number; cpuMs: number }> {
  let got = 0;
  let firstBad = -1;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  p.onData((c) => {
    for (let i = 0; i < c.length && firstBad < 0; i++) if (c[i] !== bytes[got + i]) firstBad = got + i;
    got += c.length;
    if (got >= bytes.length) done();
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await p.write(bytes);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`echo stalled at ${got} of ${bytes.length} bytes`)), 120_000)))]).finally(() => clearTimeout(timer));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (firstBad >= 0) throw new Error(`echo differs at byte ${firstBad}`);
  return { seconds, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function firstEcho(p: Echoable): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const echoed = new Promise<void>((r) => p.onData(() => r()));
  await p.write(new Uint8Array([0x55]));
  await Promise.race([echoed, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('no echo of the first byte')), 10_000)))]).finally(() => clearTimeout(timer));
}

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

async function kernelPath(): Promise<PathResult> {
  const r: PathResult = { path: 'kernel', kBps: [], cpuMsPerMiB: [], plugToEchoMs: [], appearToEchoMs: [], errors: [] };
  for (let i = 0; i < 100 && !existsSync(TTY); i++) await sleep(50);
  const port = await openTty();
  for (let i = 0; i < RUNS; i++) {
    const { seconds, cpuMs } = await echoRun(port, data);
    r.kBps.push(BYTES / 1000 / seconds);
    r.cpuMsPerMiB.push(cpuMs / (BYTES / (1 << 20)));
  }
  await port.close();
  for (let i = 0; i < PLUGS; i++) {
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
    if (!p) {
      r.errors.push(`plug ${i}: ${TTY} did not open`);
      continue;
    }
    await firstEcho(p);
    const t1 = performance.now();
    r.plugToEchoMs.push(t1 - t0);
    r.appearToEchoMs.push(t1 - appeared);
    await p.close();
  }
  return r;
}

// -- our path: the ftdi_sio driver on a `usb` backend ------------------------------------------

function ourPort(port: UsbSerialPort): Echoable {
  let listener: ((c: Uint8Array) => void) | null = null;
  port.events.subscribe((e) => {
    if (e.type === 'data') listener?.(e.data);
  });
  return {
    write: async (bytes) => void (await port.write(bytes)),
    onData: (fn) => (listener = fn),
    close: () => port.close(),
  };
}

async function ourPath(backendName: HostBackendName): Promise<PathResult> {
  const r: PathResult = { path: backendName, kBps: [], cpuMsPerMiB: [], plugToEchoMs: [], appearToEchoMs: [], errors: [] };
  const backend = await createHostBackend(backendName);
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const stop = await usb.attachBackend(backend);
  await usb.settled();
  const reg = await registerFtdi(usb.bus);
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
  if (!first) throw new Error(`${backendName}: no port`);
  await first.open({ baudRate: BAUD });
  const p = ourPort(first);
  for (let i = 0; i < RUNS; i++) {
    const { seconds, cpuMs } = await echoRun(p, data);
    r.kBps.push(BYTES / 1000 / seconds);
    r.cpuMsPerMiB.push(cpuMs / (BYTES / (1 << 20)));
  }
  await p.close();
  for (let i = 0; i < PLUGS; i++) {
    await link.unplug('ftdi');
    for (let j = 0; j < 500 && reg.ports().length > 0; j++) await sleep(10);
    const t0 = performance.now();
    await link.plug('ftdi');
    const port = await waitPort(20_000);
    if (!port) {
      r.errors.push(`plug ${i}: no port`);
      continue;
    }
    const appeared = performance.now();
    await port.open({ baudRate: BAUD });
    const q = ourPort(port);
    await firstEcho(q);
    const t1 = performance.now();
    r.plugToEchoMs.push(t1 - t0);
    r.appearToEchoMs.push(t1 - appeared);
    await q.close();
  }
  await deregisterUsbSerialDrivers(reg);
  stop();
  await usb.stop();
  await backend.close();
  // The kernel's ftdi_sio has the interface back: let udev make /dev/ttyUSB0 before the next path.
  for (let j = 0; j < 100 && !existsSync(TTY); j++) await sleep(20);
  return r;
}

link.emit('ready');
const paths = (process.env.VM_BENCH_PATHS ?? 'kernel,libusb,nusb').split(',');
const results: PathResult[] = [];
for (const path of paths) {
  const t0 = performance.now();
  results.push(path === 'kernel' ? await kernelPath() : await ourPath(path as HostBackendName));
  console.log(`${path}: ${JSON.stringify(results.at(-1))} (${Math.round(performance.now() - t0)} ms)`);
}
writeResult({ bytes: BYTES, runs: RUNS, plugs: PLUGS, results, unhandled });
link.close();
