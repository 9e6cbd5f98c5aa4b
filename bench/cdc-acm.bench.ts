// CDC-ACM loopback throughput: an emulated Arduino Uno (CDC-ACM, 64-byte bulk packets) with a
// loopback plug, through the whole stack (subsystem, usb-serial, class driver, port), next to
// the raw mock ceiling measured in the same run: the same emulation and the same transfers
// (16 KiB OUT, 1 KiB IN as the generic layer reads, as many IN in flight as the host allows),
// issued straight at the mock device after claiming both interfaces, no driver.
import { performance } from 'node:perf_hooks';
import { DriverModel } from '../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers } from '../src/serial/index.ts';
import { UsbSubsystem } from '../src/usb/index.ts';
import { CDC_ACM_ID_TABLE, createCdcAcmDriver } from '../drivers/cdc-acm/index.ts';
import { loopbackPlug, MockUsbHost } from '../mocks/index.ts';
import { createCdcAcm, type CdcAcmBoard } from '../mocks/cdc-acm/index.ts';
import { emit, round } from './report.ts';

const BYTES = 8 * 1024 * 1024;
const RUNS = 5;
const OUT_CHUNK = 16384;
const IN_SIZE = 1024;
const IN_FLIGHT = 4;

function emulated(part: CdcAcmBoard) {
  const emu = createCdcAcm(part, { device: { transferLog: { captureData: false, limit: 100 } } });
  loopbackPlug(emu.chip.uart);
  return emu;
}

function payload(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + (i >> 8)) & 0xff;
  return b;
}

/** The ceiling: the emulated chip driven with raw WebUSB transfers. Returns ms. */
async function raw(part: CdcAcmBoard, data: Uint8Array): Promise<number> {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' }, maxTransfersInFlight: IN_FLIGHT });
  const { device } = emulated(part);
  host.plug(device);
  await device.open();
  await device.claimInterface(0);
  await device.claimInterface(1);
  const t0 = performance.now();
  let got = 0;
  const reader = async () => {
    while (got < data.length) {
      const r = await device.transferIn(3, IN_SIZE);
      got += r.data?.byteLength ?? 0;
    }
  };
  const readers = Array.from({ length: IN_FLIGHT }, reader);
  for (let at = 0; at < data.length; at += OUT_CHUNK) {
    await device.transferOut(4, data.subarray(at, at + OUT_CHUNK) as Uint8Array<ArrayBuffer>);
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
async function driver(part: CdcAcmBoard, data: Uint8Array): Promise<number> {
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const host = new MockUsbHost({ maxTransfersInFlight: IN_FLIGHT });
  await usb.attachBackend(host);
  const reg = await registerUsbSerialDrivers([createCdcAcmDriver()], 'cdc_acm', CDC_ACM_ID_TABLE, { usbBus: usb.bus });
  const { device } = emulated(part);
  host.plug(device);
  await host.flush();
  await usb.settled();
  const port = reg.ports()[0];
  if (!port) throw new Error(`${part}: no port bound`);
  await port.open();
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
  await deregisterUsbSerialDrivers(reg);
  host.unplugAll();
  await usb.stop();
  await host.close();
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function run(): Promise<void> {
  const data = payload(BYTES);
  const mb = BYTES / 1e6;
  for (const [label, part] of [['uno', 'uno']] as const) {
    const rawMs: number[] = [];
    const drvMs: number[] = [];
    // Interleaved, so drift in machine load hits both alike.
    for (let i = 0; i < RUNS; i++) {
      rawMs.push(await raw(part, data));
      drvMs.push(await driver(part, data));
    }
    const rawRate = mb / (median(rawMs) / 1000);
    const drvRate = mb / (median(drvMs) / 1000);
    const ctx = { part, bytes: BYTES, runs: RUNS, inFlight: IN_FLIGHT, inSize: IN_SIZE, outChunk: OUT_CHUNK };
    emit({ name: `cdc_acm.loopback.${label}.raw_mock`, value: round(rawRate, 2), unit: 'MB/s', ...ctx });
    emit({ name: `cdc_acm.loopback.${label}.driver`, value: round(drvRate, 2), unit: 'MB/s', ...ctx });
    emit({ name: `cdc_acm.loopback.${label}.ratio`, value: round(drvRate / rawRate, 3), unit: 'ratio', part });
  }
}
