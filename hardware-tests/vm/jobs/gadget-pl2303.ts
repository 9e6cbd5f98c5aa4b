// Part C (guest job): our emulated PL2303 (mocks/pl2303, VM_GADGET_PART) presented to the guest
// kernel through dummy_hcd + gadgetfs: does the kernel's own pl2303 bind it, detect the type our
// emulation models, and pass a loopback through the emulated wire? Records what the kernel sent.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { execSync } from 'node:child_process';
import { SerialPortStream } from '@serialport/stream';
import { autoDetect } from '@serialport/bindings-cpp';
import { createPl2303, type Pl2303Part } from '../../../mocks/pl2303/index.ts';
import { loopbackPlug } from '../../../mocks/uart.ts';
import { bridgeMock, setupGadgetfs } from '../guest/gadgetfs-bridge.ts';
import { writeResult } from '../guest/link.ts';
import { patternBytes } from './pattern.ts';

const part = (process.env.VM_GADGET_PART ?? 'PL2303TA') as Pl2303Part;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const result: Record<string, unknown> = { part };

/** Our gadget on dummy_hcd, by idVendor and sysfs path only (string attributes take the device lock). */
function findDevice(): { dev: string; tty?: string; driver?: string } | undefined {
  for (const d of readdirSync('/sys/bus/usb/devices')) {
    if (!/^\d+-[\d.]+$/.test(d)) continue;
    const path = `/sys/bus/usb/devices/${d}`;
    if (!realpathSync(path).includes('dummy_hcd')) continue;
    try {
      if (readFileSync(`${path}/idVendor`, 'utf8').trim() !== '067b') continue;
    } catch {
      continue;
    }
    const intf = `${path}/${d}:1.0`;
    const driver = existsSync(`${intf}/driver`) ? basename(realpathSync(`${intf}/driver`)) : undefined;
    const tty = existsSync(intf) ? readdirSync(intf).find((n) => n.startsWith('ttyUSB')) : undefined;
    return { dev: d, tty, driver };
  }
  return undefined;
}

try {
  execSync('modprobe pl2303');
  const udc = setupGadgetfs();
  const emu = createPl2303(part);
  loopbackPlug(emu.chip.uart);
  const bridge = await bridgeMock(emu.device, udc);
  let found = findDevice();
  for (let i = 0; i < 300 && !found?.tty; i++) {
    await sleep(50);
    found = findDevice();
  }
  for (let i = 0; i < 200 && found?.tty && !existsSync(`/dev/${found.tty}`); i++) await sleep(25);
  result.enumerated = found;
  if (found?.tty) {
    const binding = autoDetect();
    const loops: Record<string, unknown>[] = [];
    for (const [baudRate, dataBits, parity, stopBits] of [
      [9600, 8, 'none', 1],
      [115200, 8, 'none', 1],
      [115200, 7, 'even', 1],
    ] as const) {
      const port = new SerialPortStream({ binding, path: `/dev/${found.tty}`, baudRate, dataBits, parity, stopBits, autoOpen: false });
      const firstSetup = bridge.log.setups.length;
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
      const requests = bridge.log.setups.slice(firstSetup).map((x) => `${x.bmRequestType.toString(16)}/${x.bRequest.toString(16)} v${x.wValue.toString(16)} i${x.wIndex.toString(16)}: ${x.reply}`);
      loops.push({ baudRate, dataBits, parity, stopBits, chipSide: line, requests, sent: data.length, received: got.length, identical: got.equals(Buffer.from(data)) });
      await new Promise<void>((res) => port.close(() => res()));
    }
    result.loopbacks = loops;
  }
  result.bridge = bridge.log;
} catch (err) {
  result.error = `${(err as Error).name}: ${(err as Error).message}`;
}
result.dmesg = execSync('dmesg | grep -i -E "pl2303|3-1|gadget" | tail -20').toString();
writeResult(result);
console.log(JSON.stringify(result, null, 1));
process.kill(process.pid, 'SIGKILL'); // gadgetfs reads hold thread-pool threads; exit() would join them
