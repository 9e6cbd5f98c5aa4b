// Loopback throughput through the user-facing serial APIs, on the same emulated port in one
// run: the driver level (port.write and the port's data events: the ceiling), the Node stream
// (SerialStream), the node-serialport binding (through @serialport/stream's SerialPortStream)
// and Web Serial (a writer and a reader on SerialPort's streams, bufferSize 64 KiB like the
// others' buffers, and once more at the spec's default of 255). Each API writes the whole
// payload in one call and counts the echo. Runs are interleaved API by API so drift in machine
// load hits all alike; the best run is the figure (other load on the machine only ever slows a
// run down), with the median beside it; each API's ratio to the driver level is the median of
// the per-round ratios (each round's API run over the same round's driver run), with min and
// max; and its CPU time (user + system) per MiB (median).
import { performance } from 'node:perf_hooks';
import { SerialPortStream } from '@serialport/stream';
import { DriverModel } from '../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, type UsbSerialPort, type UsbSerialRegistration } from '../src/serial/index.ts';
import { openSerialStream } from '../src/serial/stream.ts';
import { createUsbSerialBinding } from '../src/serial/serialport-binding.ts';
import { createWebSerial } from '../src/serial/web-serial.ts';
import { UsbSubsystem } from '../src/usb/index.ts';
import { FTDI_IDS, ftdiSerialDriver } from '../drivers/ftdi/index.ts';
import { createPl2303Driver, PL2303_ID_TABLE } from '../drivers/pl2303/index.ts';
import { loopbackPlug, MockUsbHost, type MockUsbDevice, type UartPort } from '../mocks/index.ts';
import { mockFtdi } from '../mocks/ftdi/index.ts';
import { createPl2303 } from '../mocks/pl2303/index.ts';
import { emit, median, round, roundRatios } from './report.ts';

const MiB = 1024 * 1024;
const RUNS = 5;
const WEB_BUFFER = 64 * 1024;

type Api = 'driver' | 'stream' | 'binding' | 'webserial' | 'webserial_default_buffer';
const APIS: readonly Api[] = ['driver', 'stream', 'binding', 'webserial', 'webserial_default_buffer'];

interface Case {
  label: string;
  bytes: number;
  baud: number;
  make(): { device: MockUsbDevice; uart: UartPort };
}

const CASES: readonly Case[] = [
  {
    label: 'FT232H',
    bytes: 8 * MiB,
    baud: 12_000_000,
    make: () => {
      const f = mockFtdi('FT232H', { device: { transferLog: { captureData: false, limit: 100 } } });
      return { device: f.device, uart: f.uart() };
    },
  },
  {
    label: 'PL2303GC',
    bytes: 4 * MiB,
    baud: 12_000_000,
    make: () => {
      const p = createPl2303('PL2303GC', { device: { transferLog: { captureData: false, limit: 100 } } });
      return { device: p.device, uart: p.chip.uart };
    },
  },
];

interface Sample {
  ms: number;
  cpuMs: number;
}

function payload(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + (i >> 8)) & 0xff;
  return b;
}

async function timed(fn: () => Promise<void>): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const d = process.cpuUsage(cpu0);
  return { ms, cpuMs: (d.user + d.system) / 1000 };
}

function check(api: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${api}: ${got} bytes back of ${want}`);
}

/** port.write and the port's data events, nothing above. */
async function viaDriver(port: UsbSerialPort, data: Uint8Array, baud: number): Promise<Sample> {
  await port.open({ baudRate: baud });
  let got = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((r) => (done = r));
  const sub = port.events.subscribe((e) => {
    if (e.type === 'data' && (got += e.data.length) >= data.length) done();
  });
  const s = await timed(async () => {
    await port.write(data);
    await all;
  });
  sub.unsubscribe();
  check('driver', got, data.length);
  await port.close();
  return s;
}

async function viaStream(port: UsbSerialPort, data: Uint8Array, baud: number): Promise<Sample> {
  const stream = await openSerialStream(port, { baudRate: baud });
  let got = 0;
  const s = await timed(
    () =>
      new Promise<void>((resolve) => {
        stream.on('data', (c: Buffer) => {
          if ((got += c.length) >= data.length) resolve();
        });
        stream.write(data);
      }),
  );
  check('stream', got, data.length);
  await stream.close();
  return s;
}

async function viaBinding(usb: UsbSubsystem, port: UsbSerialPort, data: Uint8Array, baud: number): Promise<Sample> {
  const binding = createUsbSerialBinding({ usb });
  const sp = await new Promise<SerialPortStream>((resolve, reject) => {
    const p = new SerialPortStream({ binding, path: port.stablePath, baudRate: baud }, (err) => (err ? reject(err) : resolve(p)));
  });
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let got = 0;
  const s = await timed(
    () =>
      new Promise<void>((resolve) => {
        sp.on('data', (c: Buffer) => {
          if ((got += c.length) >= data.length) resolve();
        });
        sp.write(buf);
      }),
  );
  check('binding', got, data.length);
  await new Promise<void>((resolve, reject) => sp.close((err) => (err ? reject(err) : resolve())));
  return s;
}

async function viaWebSerial(usb: UsbSubsystem, port: UsbSerialPort, data: Uint8Array, baud: number, bufferSize?: number): Promise<Sample> {
  const serial = createWebSerial({ usb });
  const sp = (await serial.getPorts()).find((p) => p.usbSerialPort === port)!;
  await sp.open({ baudRate: baud, ...(bufferSize ? { bufferSize } : {}) });
  const reader = sp.readable!.getReader();
  const writer = sp.writable!.getWriter();
  let got = 0;
  const s = await timed(async () => {
    const writing = writer.write(data);
    while (got < data.length) {
      const { value, done } = await reader.read();
      if (done) break;
      got += value.byteLength;
    }
    await writing;
  });
  check('webserial', got, data.length);
  await reader.cancel();
  reader.releaseLock();
  writer.releaseLock();
  await sp.close();
  await serial.dispose();
  return s;
}

async function runCase(c: Case): Promise<void> {
  const host = new MockUsbHost();
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const stop = await usb.attachBackend(host);
  const regs: UsbSerialRegistration[] = [
    await registerUsbSerialDrivers([ftdiSerialDriver], 'ftdi_sio', FTDI_IDS, { usbBus: usb.bus }),
    await registerUsbSerialDrivers([createPl2303Driver()], 'pl2303', PL2303_ID_TABLE, { usbBus: usb.bus }),
  ];
  const { device, uart } = c.make();
  loopbackPlug(uart);
  host.plug(device);
  await host.flush();
  await usb.settled();
  const port = regs.flatMap((r) => r.ports())[0];
  if (!port) throw new Error(`${c.label}: no port bound`);
  const data = payload(c.bytes);
  const samples = new Map<Api, Sample[]>(APIS.map((a) => [a, []]));
  for (let i = 0; i < RUNS; i++) {
    samples.get('driver')!.push(await viaDriver(port, data, c.baud));
    samples.get('stream')!.push(await viaStream(port, data, c.baud));
    samples.get('binding')!.push(await viaBinding(usb, port, data, c.baud));
    samples.get('webserial')!.push(await viaWebSerial(usb, port, data, c.baud, WEB_BUFFER));
    samples.get('webserial_default_buffer')!.push(await viaWebSerial(usb, port, data, c.baud));
  }
  const mb = c.bytes / 1e6;
  const rate = (a: Api) => mb / (Math.min(...samples.get(a)!.map((s) => s.ms)) / 1000);
  const medianRate = (a: Api) => mb / (median(samples.get(a)!.map((s) => s.ms)) / 1000);
  const ctx = { chip: c.label, port: port.stablePath, bytes: c.bytes, runs: RUNS };
  for (const a of APIS) {
    const r = rate(a);
    const buffer = a === 'webserial' ? { bufferSize: WEB_BUFFER } : a === 'webserial_default_buffer' ? { bufferSize: 255 } : {};
    emit({ name: `serial_apis.${c.label}.${a}`, value: round(r, 2), unit: 'MB/s', median: round(medianRate(a), 2), ...ctx, ...buffer });
    if (a !== 'driver') {
      const perRound = (x: Api) => samples.get(x)!.map((s) => mb / (s.ms / 1000));
      emit({ name: `serial_apis.${c.label}.${a}.ratio`, unit: 'ratio', ...roundRatios(perRound(a), perRound('driver')), chip: c.label, of: 'driver, per round' });
    }
    emit({ name: `serial_apis.${c.label}.${a}.cpu`, value: round(median(samples.get(a)!.map((s) => s.cpuMs)) / (c.bytes / MiB), 2), unit: 'ms CPU/MiB', chip: c.label });
  }
  for (const r of regs) await deregisterUsbSerialDrivers(r);
  host.unplugAll();
  stop();
  await usb.stop();
  await host.close();
}

export async function run(): Promise<void> {
  // The emulations' timers are unref'd, as a device's should be; hold the loop open meanwhile.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    for (const c of CASES) await runCase(c);
  } finally {
    clearInterval(keepAlive);
  }
}
