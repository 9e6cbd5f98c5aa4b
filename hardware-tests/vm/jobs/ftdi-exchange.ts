// Guest job: our FTDI driver on QEMU's usb-serial through the `usb` package (VM_BACKEND).
// Register ftdi_sio (ours) → the kernel's ftdi_sio is detached from that interface only → open
// the port → change baud and line settings (the host checks what QEMU's chip received, from
// its trace) → echo VM_BYTES through the host-side peer and compare byte for byte → close and
// deregister → the kernel's ftdi_sio has the interface back.
import { existsSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { DriverModel } from '../../../src/core/index.ts';
import { createHostBackend, type HostBackendName } from '../../../src/usb/backends/select.ts';
import { UsbSubsystem } from '../../../src/usb/index.ts';
import { deregisterUsbSerialDrivers, usbSerialBusOf } from '../../../src/serial/index.ts';
import { registerFtdi, ftdiPort } from '../../../drivers/ftdi/index.ts';
import { hostLink, writeResult } from '../guest/link.ts';
import { patternBytes } from './pattern.ts';

const SYS_FTDI = '/sys/bus/usb/drivers/ftdi_sio';
const backendName = (process.env.VM_BACKEND ?? 'libusb') as HostBackendName;
const total = Number(process.env.VM_BYTES ?? 1 << 20);
const kernelBound = () => (existsSync(SYS_FTDI) ? readdirSync(SYS_FTDI).filter((n) => /^\d+-[\d.]+:\d+\.\d+$/.test(n)).sort() : []);
const ttys = () => readdirSync('/dev').filter((n) => n.startsWith('ttyUSB')).sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const link = hostLink();
const result: Record<string, unknown> = { backend: backendName };
result.before = { kernelBound: kernelBound(), ttys: ttys() };

const backend = await createHostBackend(backendName);
const usb = new UsbSubsystem({ model: new DriverModel() });
const stop = await usb.attachBackend(backend);
await usb.settled();
const reg = await registerFtdi(usb.bus);
await usb.settled();
const ports = reg.ports();
if (ports.length !== 1) throw new Error(`expected one ftdi_sio port, got ${ports.length}`);
const port = ports[0]!;
const ctl = ftdiPort(port);
result.bound = { port: port.name, chip: ctl.chip, maxPacketSize: ctl.maxPacketSize, kernelBound: kernelBound(), ttys: ttys(), claimed: port.serial.intf.claimed };

// Received bytes, as they come.
const chunks: Uint8Array[] = [];
let received = 0;
let waiter: (() => void) | null = null;
port.events.subscribe((e) => {
  if (e.type === 'data') {
    chunks.push(e.data);
    received += e.data.length;
    waiter?.();
  }
});

const opened = await port.open({ baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 });
const changed = await port.setSettings({ baudRate: 921600, dataBits: 7, parity: 'even', stopBits: 2 });
const back = await port.setSettings({ baudRate: 3_000_000, dataBits: 8, parity: 'none', stopBits: 1 });
const latency = await ctl.getLatencyTimer().catch((e: Error) => `${e.name}: ${e.message}`);
result.settings = {
  opened: { baud: opened.actualBaudRate, dataBits: opened.dataBits, parity: opened.parity, stopBits: opened.stopBits },
  changed: { baud: changed.actualBaudRate, dataBits: changed.dataBits, parity: changed.parity, stopBits: changed.stopBits },
  back: { baud: back.actualBaudRate, dataBits: back.dataBits, parity: back.parity, stopBits: back.stopBits },
  latency,
};

// The exchange: the host echoes; we write everything and read it all back.
link.emit('ready', { bytes: total });
const data = patternBytes(total, 0x5eed);
const t0 = performance.now();
const writing = port.write(data);
const deadline = Date.now() + 120_000;
while (received < total && Date.now() < deadline) await new Promise<void>((r) => ((waiter = r), setTimeout(r, 1000)));
waiter = null;
const written = await writing;
const seconds = (performance.now() - t0) / 1000;
const got = Buffer.concat(chunks);
let firstDiff = -1;
for (let i = 0; i < Math.min(got.length, data.length); i++) {
  if (got[i] !== data[i]) {
    firstDiff = i;
    break;
  }
}
result.exchange = {
  bytes: total,
  written,
  received: got.length,
  identical: got.length === data.length && firstDiff === -1,
  firstDiff,
  sha256Sent: createHash('sha256').update(data).digest('hex'),
  sha256Received: createHash('sha256').update(got).digest('hex'),
  seconds: Number(seconds.toFixed(2)),
  kBps: Math.round(total / 1000 / seconds),
  stats: { ...port.stats },
};

await port.close();
await deregisterUsbSerialDrivers(reg);
await usb.settled();
for (let i = 0; i < 40 && ttys().length < (result.before as { ttys: string[] }).ttys.length; i++) await sleep(50);
const dev = usb.bus.listDevices().find((d) => d.name === port.serial.intf.usbDevice.name);
result.released = {
  kernelBound: kernelBound(),
  ttys: ttys(),
  claimed: port.serial.intf.claimed,
  kernelDriverDetached: port.serial.intf.kernelDriverDetached,
  deviceOpened: port.serial.intf.usb.opened,
  openCount: port.serial.intf.usbDevice.openCount,
  minorsInUse: usbSerialBusOf(usb.bus).minors.inUse,
  stillOnBus: !!dev,
};
stop();
await usb.stop();
await backend.close();
writeResult(result);
console.log(JSON.stringify(result, null, 1));
link.close();
