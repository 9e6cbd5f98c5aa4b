// Part C (guest job): our emulated FT232R (mocks/ftdi, VM_GADGET_CHIP) presented to the guest
// kernel through dummy_hcd + a FunctionFS gadget (guest/functionfs-bridge.ts); the kernel's own
// ftdi_sio binds it, and /dev/ttyUSB* passes a loopback through the emulated wire at several
// settings. Records the delegated control requests (with their latency), what the emulated chip
// made of them, and usbmon's record of what the kernel sent on the dummy bus.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { SerialPortStream } from '@serialport/stream';
import { autoDetect } from '@serialport/bindings-cpp';
import { mockFtdi } from '../../../mocks/ftdi/index.ts';
import { loopbackPlug } from '../../../mocks/uart.ts';
import { bridgeMockFfs, formatSetup, latencySummary } from '../guest/functionfs-bridge.ts';
import { dummyBusNumber, UsbmonRecorder } from '../guest/usbmon.ts';
import { findGadgetDevice } from '../guest/gadget-device.ts';
import { writeResult } from '../guest/link.ts';
import { patternBytes } from './pattern.ts';

const SERIAL = 'GADGET01';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const result: Record<string, unknown> = {};
const t0 = performance.now();
const ms = () => Math.round(performance.now() - t0);

const findDevice = () => findGadgetDevice('0403');

try {
  execSync('modprobe dummy_hcd is_high_speed=0 is_super_speed=0');
  const mon = new UsbmonRecorder(dummyBusNumber());
  mon.start();
  const chipName = (process.env.VM_GADGET_CHIP ?? 'FT232R') as Parameters<typeof mockFtdi>[0];
  const m = mockFtdi(chipName, { serialNumber: SERIAL });
  loopbackPlug(m.uart());
  const bridge = await bridgeMockFfs(m.device);
  result.udc = bridge.udc;
  let found = findDevice();
  for (let i = 0; i < Number(process.env.VM_GADGET_WAIT ?? 400); i++) {
    if (found?.tty) break;
    await sleep(50);
    found = findDevice();
  }
  result.enumerated = { ...found, ms: ms() };
  result.startup = bridge.log.setups.map(formatSetup);
  // sysfs has the tty before udev made its /dev node.
  for (let i = 0; i < 200 && found?.tty && !existsSync(`/dev/${found.tty}`); i++) await sleep(25);
  if (found?.tty) {
    const binding = autoDetect();
    const loops: Record<string, unknown>[] = [];
    for (const [baudRate, dataBits, parity, stopBits] of [
      [9600, 8, 'none', 1],
      [115200, 8, 'none', 1],
      [921600, 8, 'none', 1],
      [115200, 7, 'even', 1],
      [115200, 8, 'odd', 2],
    ] as const) {
      const port = new SerialPortStream({ binding, path: `/dev/${found.tty}`, baudRate, dataBits, parity, stopBits, autoOpen: false });
      const firstSetup = bridge.log.setups.length;
      await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
      const data = patternBytes(baudRate < 100_000 ? 256 : 4096, baudRate);
      if (dataBits === 7) for (let i = 0; i < data.length; i++) data[i]! &= 0x7f;
      const chunks: Buffer[] = [];
      port.on('data', (c: Buffer) => chunks.push(c));
      const tw = performance.now();
      await new Promise<void>((res, rej) => port.write(Buffer.from(data), (e) => (e ? rej(e) : res())));
      for (let i = 0; i < 200 && Buffer.concat(chunks).length < data.length; i++) await sleep(25);
      const got = Buffer.concat(chunks);
      // What the emulated chip made of the kernel's requests (its own decoding), read after the
      // exchange: serialport applies the settings (tcsetattr) after open() returned.
      const st = m.channel(0).state;
      const chipSide = { baudRate: st.baudRate, dataBits: st.dataBits, parity: st.parity, stopBits: st.stopBits, flow: st.flow, dtr: st.dtr, rts: st.rts };
      const requests = bridge.log.setups.slice(firstSetup).map(formatSetup);
      let firstDiff = -1;
      for (let i = 0; i < Math.min(got.length, data.length); i++) if (got[i] !== data[i]) { firstDiff = i; break; }
      const around = firstDiff < 0 ? undefined : { sent: Buffer.from(data.subarray(firstDiff, firstDiff + 12)).toString('hex'), got: got.subarray(firstDiff, firstDiff + 12).toString('hex') };
      loops.push({ baudRate, dataBits, parity, stopBits, chipSide, requests, sent: data.length, received: got.length, identical: got.equals(Buffer.from(data)), firstDiff, around, ms: Math.round(performance.now() - tw) });
      await new Promise<void>((res) => port.close(() => res()));
    }
    result.loopbacks = loops;
  }
  await sleep(200);
  const usbmon = await mon.stop();
  result.usbmon = { lines: usbmon.lines, controls: usbmon.controls };
  result.bridge = bridge.log;
  result.latency = { all: latencySummary(bridge.log.setups) };
  result.chip = { baud: m.channel(0).state };
} catch (err) {
  result.error = `${(err as Error).name}: ${(err as Error).message}`;
}
result.ms = ms();
result.dmesg = execSync('dmesg | tail -25').toString();
writeResult(result);
console.log(JSON.stringify(result, null, 1));
// FunctionFS reads still block thread-pool threads, and exit() joins them: end the process hard
// (stage 2 then records 137; the result is written already).
process.kill(process.pid, 'SIGKILL');
