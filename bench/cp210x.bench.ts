// CP210x loopback throughput: an emulated CP2102N (3 Mbaud) and a CP2105's ECI (2 Mbaud) with a
// loopback plug, through the whole stack (subsystem, usb-serial, cp210x driver in event mode,
// port), next to the raw mock ceiling measured in the same run: the same chip emulation and the
// same transfers (16 KiB OUT, 4 KiB IN, as many IN in flight as the host allows), issued straight
// at the mock device after enabling the port (IFC_ENABLE), no driver and no event insertion.
import { performance } from 'node:perf_hooks';
import { DriverModel } from '../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers } from '../src/serial/index.ts';
import { UsbSubsystem } from '../src/usb/index.ts';
import { createCp210xDriver, CP210X_ID_TABLE } from '../drivers/cp210x/index.ts';
import { loopbackPlug, MockUsbHost } from '../mocks/index.ts';
import { createCp210x, type Cp210xPart } from '../mocks/cp210x/index.ts';
import { emit, round } from './report.ts';

const BYTES = 8 * 1024 * 1024;
const RUNS = 5;
const OUT_CHUNK = 16384;
const IN_SIZE = 4096;
const IN_FLIGHT = 4;
const BAUD: Record<string, number> = { CP2102N: 3_000_000, CP2105: 2_000_000 };

function emulated(part: Cp210xPart) {
  const emu = createCp210x(part, { device: { transferLog: { captureData: false, limit: 100 } } });
  loopbackPlug(emu.chip.uart(0));
  return emu;
}

/** Bytes with no 0xEC, so the raw run (no event insertion) and the driver run move the same bytes. */
function payload(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = (i * 131 + (i >> 8)) & 0xff;
    b[i] = v === 0xec ? 0xed : v;
  }
  return b;
}

/** The ceiling: the emulated chip driven with raw WebUSB transfers. Returns ms. */
async function raw(part: Cp210xPart, data: Uint8Array): Promise<number> {
  const host = new MockUsbHost({ kernelDriver: { bound: 'none' }, maxTransfersInFlight: IN_FLIGHT });
  const { device, chip } = emulated(part);
  host.plug(device);
  await device.open();
  await device.claimInterface(0);
  const setup = (request: number, value: number) => ({ requestType: 'vendor' as const, recipient: 'interface' as const, request, value, index: 0 });
  await device.controlTransferOut(setup(0x00, 1)); // IFC_ENABLE
  const rate = new Uint8Array(4);
  new DataView(rate.buffer).setUint32(0, BAUD[part]!, true);
  await device.controlTransferOut(setup(0x1e, 0), rate); // SET_BAUDRATE
  const inEp = chip.port(0).model.bulkIn & 0x7f;
  const outEp = chip.port(0).model.bulkOut;
  const t0 = performance.now();
  let got = 0;
  const reader = async () => {
    while (got < data.length) {
      const r = await device.transferIn(inEp, IN_SIZE);
      got += r.data?.byteLength ?? 0;
    }
  };
  const readers = Array.from({ length: IN_FLIGHT }, reader);
  for (let at = 0; at < data.length; at += OUT_CHUNK) {
    await device.transferOut(outEp, data.subarray(at, at + OUT_CHUNK) as Uint8Array<ArrayBuffer>);
  }
  while (got < data.length) await new Promise((r) => setImmediate(r));
  const ms = performance.now() - t0;
  host.unplug(device);
  await Promise.allSettled(readers);
  await host.close();
  return ms;
}

/** The whole stack: port.write and the port's data events. Returns ms. */
async function driver(part: Cp210xPart, data: Uint8Array): Promise<number> {
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const host = new MockUsbHost({ maxTransfersInFlight: IN_FLIGHT });
  await usb.attachBackend(host);
  const reg = await registerUsbSerialDrivers([createCp210xDriver({ readTransferSize: IN_SIZE, writeTransferSize: OUT_CHUNK })], 'cp210x', CP210X_ID_TABLE, { usbBus: usb.bus });
  const { device } = emulated(part);
  host.plug(device);
  await host.flush();
  await usb.settled();
  const port = reg.ports().find((p) => p.serial.intf.interfaceNumber === 0);
  if (!port) throw new Error(`${part}: no port bound`);
  await port.open({ baudRate: BAUD[part] });
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
  return s[Math.floor(s.length / 2)]!;
}

export async function run(): Promise<void> {
  const data = payload(BYTES);
  const mb = BYTES / 1e6;
  for (const part of ['CP2102N', 'CP2105'] as const) {
    const rawMs: number[] = [];
    const drvMs: number[] = [];
    // Interleaved, so drift in machine load hits both alike.
    for (let i = 0; i < RUNS; i++) {
      rawMs.push(await raw(part, data));
      drvMs.push(await driver(part, data));
    }
    const rawRate = mb / (median(rawMs) / 1000);
    const drvRate = mb / (median(drvMs) / 1000);
    const ctx = { part, baud: BAUD[part], bytes: BYTES, runs: RUNS, inFlight: IN_FLIGHT, inSize: IN_SIZE, outChunk: OUT_CHUNK };
    emit({ name: `cp210x.loopback.${part}.raw_mock`, value: round(rawRate, 2), unit: 'MB/s', ...ctx });
    emit({ name: `cp210x.loopback.${part}.driver`, value: round(drvRate, 2), unit: 'MB/s', ...ctx });
    emit({ name: `cp210x.loopback.${part}.ratio`, value: round(drvRate / rawRate, 3), unit: 'ratio', part });
  }
}
