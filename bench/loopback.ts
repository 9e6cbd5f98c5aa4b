// Loopback throughput of one emulated chip with a loopback plug, through the whole stack
// (createStack: subsystem, usb-serial, the chip's driver, port), next to the raw mock ceiling
// measured in the same run: the same emulation and the same transfers (OUT chunks as the port
// hands them over, IN transfers of the driver's size, as many in flight as the host allows),
// issued straight at the mock device, no driver. Runs alternate (raw, stack, raw, ...) so drift in
// machine load hits both alike; the medians give three lines: raw_mock, driver (MB/s) and ratio.
import { performance } from 'node:perf_hooks';
import type { UsbSerialDriverSet, UsbSerialPort } from '../src/serial/index.ts';
import type { SerialSettings } from '../src/serial/settings.ts';
import { createStack } from '../src/stack.ts';
import { loopbackPlug, MockUsbHost, type MockUsbDevice } from '../mocks/index.ts';
import type { UartPort } from '../mocks/uart.ts';
import { emit, round } from './report.ts';

export interface LoopbackCase {
  /** Figure names: `<family>.loopback.<label>.{raw_mock,driver,ratio}`. */
  readonly family: string;
  readonly label: string;
  /** The emulated part, reported with the figures. */
  readonly part: string;
  /** A fresh emulated device with its loopback plug in. */
  emulate(): MockUsbDevice;
  /** The raw run's set-up on the opened device (claims, the chip requests the driver would send); its IN and OUT endpoint numbers. */
  rawSetup(device: MockUsbDevice): Promise<{ inEp: number; outEp: number }>;
  /** The driver set under test (built with the transfer sizes below). */
  readonly driverSet: UsbSerialDriverSet;
  /** The port to loop through (default the first). */
  pickPort?(ports: readonly UsbSerialPort[]): UsbSerialPort | undefined;
  /** Port settings at open (default the port's defaults). */
  readonly settings?: Partial<SerialSettings>;
  /** Bytes per IN transfer in both runs. */
  readonly inSize: number;
  /** The payload (default a counting pattern). */
  payload?(n: number): Uint8Array;
  /** Extra context reported with the rates. */
  readonly context?: Record<string, unknown>;
}

const BYTES = 8 * 1024 * 1024;
const RUNS = 5;
/** What UsbSerialPort hands the driver per write step. */
const OUT_CHUNK = 16384;
const IN_FLIGHT = 4;

/** Emulation options for a benchmark: the device keeps no data in its transfer log. */
export const QUIET = { device: { transferLog: { captureData: false, limit: 100 } } } as const;

/** An emulated device with a loopback plug in the UART `uartOf` picks from its chip. */
export function looped<C>(emu: { device: MockUsbDevice; chip: C }, uartOf: (chip: C) => UartPort): MockUsbDevice {
  loopbackPlug(uartOf(emu.chip));
  return emu.device;
}

/** The bytes the loopback benchmarks move unless a case needs others. */
export function benchPayload(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + (i >> 8)) & 0xff;
  return b;
}

/** The ceiling: the emulated chip driven with raw WebUSB transfers. Returns ms. */
async function raw(c: LoopbackCase, data: Uint8Array): Promise<number> {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' }, maxTransfersInFlight: IN_FLIGHT });
  const device = c.emulate();
  host.plug(device);
  await device.open();
  const { inEp, outEp } = await c.rawSetup(device);
  const t0 = performance.now();
  let got = 0;
  const reader = async () => {
    while (got < data.length) {
      const r = await device.transferIn(inEp, c.inSize);
      got += r.data?.byteLength ?? 0;
    }
  };
  const readers = Array.from({ length: IN_FLIGHT }, reader);
  for (let at = 0; at < data.length; at += OUT_CHUNK) {
    await device.transferOut(outEp, data.subarray(at, at + OUT_CHUNK) as Uint8Array<ArrayBuffer>);
  }
  // The readers still pending once everything arrived are ended by the unplug below.
  while (got < data.length) await new Promise((r) => setImmediate(r));
  const ms = performance.now() - t0;
  host.unplug(device);
  await Promise.allSettled(readers);
  await host.close();
  return ms;
}

/** The whole stack: port.write and the port's data events. Returns ms. */
async function throughStack(c: LoopbackCase, data: Uint8Array): Promise<number> {
  const host = new MockUsbHost({ maxTransfersInFlight: IN_FLIGHT });
  const stack = await createStack({ host, driverSets: [c.driverSet], closeHost: false });
  host.plug(c.emulate());
  await host.flush();
  await stack.settled();
  const port = c.pickPort ? c.pickPort(stack.ports()) : stack.ports()[0];
  if (!port) throw new Error(`${c.part}: no port bound`);
  await port.open(c.settings);
  let got = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((r) => (done = r));
  const sub = port.events.subscribe((e) => {
    if (e.type === 'data' && (got += e.data.length) >= data.length) done();
  });
  const t0 = performance.now();
  await port.write(data);
  await all;
  const ms = performance.now() - t0;
  sub.unsubscribe();
  await port.close();
  await stack.close();
  host.unplugAll();
  await host.close();
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Measures one case and emits its three figures. */
export async function loopbackVsCeiling(c: LoopbackCase): Promise<void> {
  const data = (c.payload ?? benchPayload)(BYTES);
  const mb = BYTES / 1e6;
  const rawMs: number[] = [];
  const drvMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    rawMs.push(await raw(c, data));
    drvMs.push(await throughStack(c, data));
  }
  const rawRate = mb / (median(rawMs) / 1000);
  const drvRate = mb / (median(drvMs) / 1000);
  const ctx = { part: c.part, ...c.context, bytes: BYTES, runs: RUNS, inFlight: IN_FLIGHT, inSize: c.inSize, outChunk: OUT_CHUNK };
  const name = `${c.family}.loopback.${c.label}`;
  emit({ name: `${name}.raw_mock`, value: round(rawRate, 2), unit: 'MB/s', ...ctx });
  emit({ name: `${name}.driver`, value: round(drvRate, 2), unit: 'MB/s', ...ctx });
  emit({ name: `${name}.ratio`, value: round(drvRate / rawRate, 3), unit: 'ratio', part: c.part });
}
