// FTDI loopback throughput: an emulated FT232H (512-byte packets) and FT232R (64-byte packets)
// with a loopback plug, wire pacing off, through the whole stack (subsystem, usb-serial,
// ftdi_sio, port), next to the raw mock ceiling measured in the same run: the same emulated chip
// and the same transfers (16 KiB OUT; IN transfers of 16 packets, as many in flight as the host
// allows), issued straight at the mock device with no driver (the 2 status bytes of each packet
// are only counted off, not parsed). Also CPU time (user + system) per MiB moved. Raw and
// driver runs alternate round by round; the ratio is the median of the per-round ratios (with
// min and max), so drift in machine load between rounds hits both sides of each ratio alike.
import { performance } from 'node:perf_hooks';
import { DriverModel } from '../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers } from '../src/serial/index.ts';
import { UsbSubsystem } from '../src/usb/index.ts';
import { FTDI_IDS, ftdiSerialDriver } from '../drivers/ftdi/index.ts';
import { loopbackPlug, MockUsbHost } from '../mocks/index.ts';
import { mockFtdi, type MockFtdi } from '../mocks/ftdi/index.ts';
import { emit, median, round, roundRatios, spread } from './report.ts';

const MiB = 1024 * 1024;
const RUNS = 5;
const OUT_CHUNK = 16384; // what UsbSerialPort hands the driver per write step
const PACKETS_PER_IN = 16; // the driver's IN transfer size, in packets
const IN_FLIGHT = 4;

const CASES = [
  { label: 'FT232H', chip: 'FT232H', bytes: 8 * MiB, baud: 12_000_000 },
  { label: 'FT232R', chip: 'FT232R', bytes: 4 * MiB, baud: 3_000_000 },
] as const;

function emulated(chip: 'FT232H' | 'FT232R'): MockFtdi {
  const f = mockFtdi(chip, { device: { transferLog: { captureData: false, limit: 100 } } });
  loopbackPlug(f.uart());
  return f;
}

function payload(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + (i >> 8)) & 0xff;
  return b;
}

interface Sample {
  ms: number;
  cpuMs: number;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** The ceiling: the emulated chip driven with raw WebUSB transfers, no driver. */
async function raw(chip: 'FT232H' | 'FT232R', data: Uint8Array): Promise<Sample> {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' }, maxTransfersInFlight: IN_FLIGHT });
  const f = emulated(chip);
  const device = f.device;
  host.plug(device);
  await device.open();
  await device.claimInterface(0);
  const packet = f.channel().packetSize;
  // The UART at the rate the driver will use (SET_BAUD_RATE as the driver sends it).
  await device.controlTransferOut({ requestType: 'vendor', recipient: 'device', request: 3, value: 0, index: chip === 'FT232H' ? 0x0201 : 0 });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let got = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((r) => (done = r));
  const reader = async () => {
    while (got < data.length) {
      const r = await device.transferIn(1, PACKETS_PER_IN * packet);
      const n = r.data?.byteLength ?? 0;
      got += n - 2 * Math.ceil(n / packet); // the data behind the status bytes
      if (got >= data.length) done();
    }
  };
  const readers = Array.from({ length: IN_FLIGHT }, reader);
  for (let at = 0; at < data.length; at += OUT_CHUNK) {
    await device.transferOut(2, data.subarray(at, at + OUT_CHUNK) as Uint8Array<ArrayBuffer>);
  }
  await all;
  const sample = { ms: performance.now() - t0, cpuMs: cpuMs(cpu0) };
  if (got !== data.length) throw new Error(`${chip} raw: ${got} bytes back of ${data.length}`);
  // Readers still pending once everything arrived end with the unplug.
  host.unplug(device);
  await Promise.allSettled(readers);
  await host.close();
  return sample;
}

/** The whole stack: port.write and the port's data events. */
async function driver(chip: 'FT232H' | 'FT232R', data: Uint8Array, baud: number): Promise<Sample> {
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const host = new MockUsbHost({ maxTransfersInFlight: IN_FLIGHT });
  const stop = await usb.attachBackend(host);
  const reg = await registerUsbSerialDrivers([ftdiSerialDriver], 'ftdi_sio', FTDI_IDS, { usbBus: usb.bus });
  const f = emulated(chip);
  host.plug(f.device);
  await host.flush();
  await usb.settled();
  const port = reg.ports()[0];
  if (!port) throw new Error(`${chip}: no port bound`);
  await port.open({ baudRate: baud });
  let got = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((r) => (done = r));
  const sub = port.events.subscribe((e) => {
    if (e.type === 'data' && (got += e.data.length) >= data.length) done();
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await port.write(data);
  await all;
  const sample = { ms: performance.now() - t0, cpuMs: cpuMs(cpu0) };
  if (got !== data.length) throw new Error(`${chip} driver: ${got} bytes back of ${data.length}`);
  sub.unsubscribe();
  await port.close();
  await deregisterUsbSerialDrivers(reg);
  host.unplugAll();
  stop();
  await usb.stop();
  await host.close();
  return sample;
}

export async function run(): Promise<void> {
  // The emulation's timers (the latency timer that sends the last short packet) are unref'd, as
  // a device's should be; hold the event loop open while a run waits on them.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    await cases();
  } finally {
    clearInterval(keepAlive);
  }
}

async function cases(): Promise<void> {
  for (const c of CASES) {
    const data = payload(c.bytes);
    const raws: Sample[] = [];
    const drvs: Sample[] = [];
    // Interleaved, so drift in machine load hits both alike.
    for (let i = 0; i < RUNS; i++) {
      raws.push(await raw(c.chip, data));
      drvs.push(await driver(c.chip, data, c.baud));
    }
    const mb = c.bytes / 1e6;
    const mib = c.bytes / MiB;
    const rate = (x: Sample) => mb / (x.ms / 1000);
    const ctx = { chip: c.chip, bytes: c.bytes, runs: RUNS, inFlight: IN_FLIGHT, packet: c.chip === 'FT232H' ? 512 : 64, outChunk: OUT_CHUNK };
    emit({ name: `ftdi.loopback.${c.label}.raw_mock`, unit: 'MB/s', ...spread(raws.map(rate), 2), ...ctx });
    emit({ name: `ftdi.loopback.${c.label}.driver`, unit: 'MB/s', ...spread(drvs.map(rate), 2), ...ctx });
    emit({ name: `ftdi.loopback.${c.label}.ratio`, unit: 'ratio', ...roundRatios(drvs.map(rate), raws.map(rate)), of: 'driver / raw_mock per round', chip: c.chip });
    emit({ name: `ftdi.loopback.${c.label}.raw_mock_cpu`, value: round(median(raws.map((s) => s.cpuMs)) / mib, 2), unit: 'ms CPU/MiB', chip: c.chip });
    emit({ name: `ftdi.loopback.${c.label}.driver_cpu`, value: round(median(drvs.map((s) => s.cpuMs)) / mib, 2), unit: 'ms CPU/MiB', chip: c.chip });
  }
}
