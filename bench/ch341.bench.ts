// CH341 loopback throughput: an emulated CH340 (version 0x31) with a loopback plug at 3 Mbaud,
// through the whole stack (subsystem, usb-serial, driver, port), next to the raw mock ceiling
// measured in the same run: the same chip emulation and the same transfers (16 KiB OUT, 512-byte
// IN as Linux's ch341 reads, as many IN in flight as the host allows), issued straight at the
// mock device, no driver. The raw run sets the chip's rate registers as the driver would (one
// WRITE_REG with the "send now" flag) so the chip hands over short packets alike.
import { performance } from 'node:perf_hooks';
import { DriverModel } from '../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers } from '../src/serial/index.ts';
import { UsbSubsystem } from '../src/usb/index.ts';
import { CH341_ID_TABLE, createCh341Driver, encodeCh341Baud } from '../drivers/ch341/index.ts';
import { loopbackPlug, MockUsbHost } from '../mocks/index.ts';
import { createCh34x, type Ch34xPart } from '../mocks/ch34x/index.ts';
import { emit, round } from './report.ts';

const BYTES = 8 * 1024 * 1024;
const RUNS = 5;
const OUT_CHUNK = 16384;
const IN_SIZE = 512;
const BAUD = 3_000_000;
const IN_FLIGHT = 4;

function emulated(part: Ch34xPart) {
  const emu = createCh34x(part, { device: { transferLog: { captureData: false, limit: 100 } } });
  loopbackPlug(emu.chip.uart);
  return emu;
}

function payload(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + (i >> 8)) & 0xff;
  return b;
}

/** The ceiling: the emulated chip driven with raw WebUSB transfers. Returns ms. */
async function raw(part: Ch34xPart, data: Uint8Array): Promise<number> {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' }, maxTransfersInFlight: IN_FLIGHT });
  const { device } = emulated(part);
  host.plug(device);
  await device.open();
  await device.claimInterface(0);
  const enc = encodeCh341Baud(BAUD, 0x31);
  await device.controlTransferOut({ requestType: 'vendor', recipient: 'device', request: 0x9a, value: 0x1312, index: enc.wIndex });
  const t0 = performance.now();
  let got = 0;
  const reader = async () => {
    while (got < data.length) {
      const r = await device.transferIn(2, IN_SIZE);
      got += r.data?.byteLength ?? 0;
    }
  };
  const readers = Array.from({ length: IN_FLIGHT }, reader);
  for (let at = 0; at < data.length; at += OUT_CHUNK) {
    await device.transferOut(2, data.subarray(at, at + OUT_CHUNK) as Uint8Array<ArrayBuffer>);
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
async function driver(part: Ch34xPart, data: Uint8Array): Promise<number> {
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const host = new MockUsbHost({ maxTransfersInFlight: IN_FLIGHT });
  await usb.attachBackend(host);
  const reg = await registerUsbSerialDrivers([createCh341Driver({ readTransferSize: IN_SIZE })], 'ch341', CH341_ID_TABLE, { usbBus: usb.bus });
  const { device } = emulated(part);
  host.plug(device);
  await host.flush();
  await usb.settled();
  const port = reg.ports()[0];
  if (!port) throw new Error(`${part}: no port bound`);
  await port.open({ baudRate: BAUD });
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
  for (const [label, part] of [['CH340', 'CH340']] as const) {
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
    emit({ name: `ch341.loopback.${label}.raw_mock`, value: round(rawRate, 2), unit: 'MB/s', ...ctx });
    emit({ name: `ch341.loopback.${label}.driver`, value: round(drvRate, 2), unit: 'MB/s', ...ctx });
    emit({ name: `ch341.loopback.${label}.ratio`, value: round(drvRate / rawRate, 3), unit: 'ratio', part });
  }
}
