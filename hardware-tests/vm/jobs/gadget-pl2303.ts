// Part C (guest job): our emulated PL2303 (mocks/pl2303, VM_GADGET_PART) presented to the guest
// kernel through dummy_hcd + a FunctionFS gadget (guest/functionfs-bridge.ts): the kernel's own
// pl2303 binds it; /dev/ttyUSB* is opened with node-serialport at several settings (one baud the
// kernel sends as a divisor) and loops back through the emulated wire. Records every delegated
// control request the bridge answered (with its latency), what the emulated chip made of them,
// and usbmon's record of what the kernel sent on the dummy bus, for the host test to compare.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { SerialPortStream } from '@serialport/stream';
import { autoDetect } from '@serialport/bindings-cpp';
import { createPl2303, type Pl2303Part } from '../../../mocks/pl2303/index.ts';
import { loopbackPlug } from '../../../mocks/uart.ts';
import { bridgeMockFfs, formatSetup, latencySummary } from '../guest/functionfs-bridge.ts';
import { dummyBusNumber, UsbmonRecorder } from '../guest/usbmon.ts';
import { findGadgetDevice } from '../guest/gadget-device.ts';
import { writeResult } from '../guest/link.ts';
import { patternBytes } from './pattern.ts';

const part = (process.env.VM_GADGET_PART ?? 'PL2303TA') as Pl2303Part;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const result: Record<string, unknown> = { part };
const t0 = performance.now();
const ms = () => Math.round(performance.now() - t0);

const findDevice = () => findGadgetDevice('067b');

/** The settings each session opens with: one plain rate per kind, and divisor-encoded ones (not in pl2303's direct table). */
const SESSIONS = [
  [9600, 8, 'none', 1],
  [115200, 8, 'none', 1],
  [115200, 7, 'even', 1],
  [250000, 8, 'none', 1],
  [500000, 8, 'odd', 2],
] as const;

try {
  execSync('modprobe dummy_hcd is_high_speed=0 is_super_speed=0 && modprobe pl2303');
  const mon = new UsbmonRecorder(dummyBusNumber());
  mon.start();
  const emu = createPl2303(part);
  loopbackPlug(emu.chip.uart);
  const bridge = await bridgeMockFfs(emu.device);
  let found = findDevice();
  for (let i = 0; i < 300 && !found?.tty; i++) {
    await sleep(50);
    found = findDevice();
  }
  for (let i = 0; i < 200 && found?.tty && !existsSync(`/dev/${found.tty}`); i++) await sleep(25);
  result.enumerated = { ...found, ms: ms() };
  const startup = bridge.log.setups.length;
  result.startup = bridge.log.setups.map(formatSetup);
  if (found?.tty) {
    const binding = autoDetect();
    const loops: Record<string, unknown>[] = [];
    for (const [baudRate, dataBits, parity, stopBits] of SESSIONS) {
      const port = new SerialPortStream({ binding, path: `/dev/${found.tty}`, baudRate, dataBits, parity, stopBits, autoOpen: false });
      const firstSetup = bridge.log.setups.length;
      const tw = performance.now();
      await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
      const data = patternBytes(baudRate < 100_000 ? 256 : 2048, baudRate);
      if (dataBits === 7) for (let i = 0; i < data.length; i++) data[i]! &= 0x7f;
      const chunks: Buffer[] = [];
      port.on('data', (c: Buffer) => chunks.push(c));
      await new Promise<void>((res, rej) => port.write(Buffer.from(data), (e) => (e ? rej(e) : res())));
      for (let i = 0; i < 200 && Buffer.concat(chunks).length < data.length; i++) await sleep(25);
      const got = Buffer.concat(chunks);
      // Read after the exchange: serialport applies the settings (tcsetattr) after open() returned.
      const line = { ...emu.chip.lineSettings };
      const requests = bridge.log.setups.slice(firstSetup).map(formatSetup);
      loops.push({ baudRate, dataBits, parity, stopBits, chipSide: line, lineCoding: Buffer.from(emu.chip.lineCoding).toString('hex'), requests, sent: data.length, received: got.length, identical: got.equals(Buffer.from(data)), ms: Math.round(performance.now() - tw) });
      await new Promise<void>((res) => port.close(() => res()));
    }
    result.loopbacks = loops;
  }
  await sleep(200);
  const usbmon = await mon.stop();
  result.usbmon = { lines: usbmon.lines, controls: usbmon.controls };
  result.bridge = bridge.log;
  result.latency = { all: latencySummary(bridge.log.setups), startup: latencySummary(bridge.log.setups.slice(0, startup)) };
  result.chip = { refusals: emu.chip.refusals, rejectedBauds: emu.chip.rejectedBauds.map((e) => e.message), type: emu.chip.type };
} catch (err) {
  result.error = `${(err as Error).name}: ${(err as Error).message}\n${(err as Error).stack}`;
}
result.ms = ms();
result.dmesg = execSync('dmesg | grep -i -E "pl2303|ttyUSB|gadget|dummy|configfs|functionfs" | tail -40').toString();
writeResult(result);
console.log(JSON.stringify(result, null, 1));
process.kill(process.pid, 'SIGKILL'); // FunctionFS reads hold thread-pool threads; exit() would join them
