// Guest job: the seed's hotplug scenario on a real kernel. The host plugs and unplugs two of
// QEMU's FTDIs over QMP (serials HP0, HP1) on its own schedule while this job registers and
// deregisters our ftdi_sio in a loop and opens every port it gets. Everything observed goes into
// the result (the host test checks the invariants):
// - `stream`: the hotplug stream (attach/detach, serial, seq), from its own subscription;
// - `calls`: every serial-driver method call, with its registration generation and whether that
//   generation's deregistration had already resolved (it must never have);
// - `snapshots`: at each registration, the matching interfaces on the bus and whether bound;
// - `opens`: how each port open ended; `final`: what is left after the last deregistration.
import { readFileSync } from 'node:fs';
import { DriverModel } from '../../../src/core/index.ts';
import { createHostBackend, type HostBackendName } from '../../../src/usb/backends/select.ts';
import { hotplugEvents, UsbInterface, UsbSubsystem, type HostDevice } from '../../../src/usb/index.ts';
import {
  deregisterUsbSerialDrivers,
  registerUsbSerialDrivers,
  usbSerialBusOf,
  type SerialDriverSpec,
  type UsbSerial,
  type UsbSerialPort,
  type UsbSerialRegistration,
} from '../../../src/serial/index.ts';
import { ftdiSerialDriver, FTDI_IDS } from '../../../drivers/ftdi/index.ts';
import { hostLink, writeResult } from '../guest/link.ts';

const backendName = (process.env.VM_BACKEND ?? 'libusb') as HostBackendName;
const seed = Number(process.env.VM_SEED ?? 1);
const link = hostLink();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let rng = seed >>> 0 || 1;
const rand = (lo: number, hi: number) => {
  rng ^= rng << 13;
  rng >>>= 0;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  rng >>>= 0;
  return lo + (rng % (hi - lo + 1));
};

let tick = 0;
const attachmentIds = new WeakMap<HostDevice, number>();
let nextAttachment = 1;
const idOf = (h: HostDevice) => {
  let id = attachmentIds.get(h);
  if (id === undefined) attachmentIds.set(h, (id = nextAttachment++));
  return id;
};

const stream: { type: string; serial: string | undefined; port: string | undefined; key: string; attachment: number; seq: number; tick: number; ms: number }[] = [];
const t0 = performance.now();
/** Kernel uptime (s) at t0: lines dmesg's timestamps up with this job's milliseconds. */
const uptimeAtStart = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const calls: { method: string; gen: number; attachment: number; serial: string | undefined; afterDeregistration: boolean; tick: number }[] = [];
const gens: { gen: number; registeredTick: number; deregisterStartTick?: number; deregisteredTick?: number }[] = [];
const snapshots: { gen: number; interfaces: { name: string; serial: string | undefined; bound: boolean; gone: boolean; present: boolean }[] }[] = [];
const opens: { port: string; serial: string | undefined; gen: number; outcome: string }[] = [];
const errors: string[] = [];
// A rejection nobody handled would kill the job (Node's default): record it instead, so the
// rest of the run still says what it saw.
const unhandled: string[] = [];
process.on('unhandledRejection', (err) => unhandled.push(err instanceof Error ? `${err.name}: ${err.message}\n${err.stack?.split('\n').slice(1, 8).join('\n')}` : String(err)));

// Event-loop stalls (a synchronous native call blocking the JS thread shows here).
const stalls: { atMs: number; ms: number }[] = [];
let lastBeat = performance.now();
const heartbeat = setInterval(() => {
  const now = performance.now();
  if (now - lastBeat > 600) stalls.push({ atMs: Math.round(lastBeat - t0), ms: Math.round(now - lastBeat - 100) });
  lastBeat = now;
}, 100);

const backend = await createHostBackend(backendName);
const model = new DriverModel();
const usb = new UsbSubsystem({ model });
// Attachments whose interface reached our bus. The subsystem applies a port's events in order, so
// an attachment unplugged while its port's queue was still busy (the previous attachment's
// removal waiting out a probe) is dropped before it is added: no probe is then right.
const interfacesAdded = new Set<number>();
model.uevents.subscribe((u) => {
  if (u.action !== 'add' || u.kind !== 'device' || u.bus !== usb.bus.name) return;
  const node = usb.bus.getDevice(u.name);
  if (node instanceof UsbInterface) interfacesAdded.add(idOf(node.usbDevice.host));
});
const sub = hotplugEvents(backend).subscribe({
  next: (e) => stream.push({ type: e.type, serial: e.serialNumber, port: e.portPath, key: e.device.key, attachment: idOf(e.device), seq: e.seq, tick: ++tick, ms: Math.round(performance.now() - t0) }),
  error: (err: unknown) => errors.push(`stream: ${String(err)}`),
});
const stop = await usb.attachBackend(backend, (err) => errors.push(`subsystem: ${String(err)}`));
await usb.settled();

/** Whether the kernel still has this attachment (same port and address: a port can be reused). */
function stillInSysfs(dev: UsbInterface['usbDevice']): boolean {
  try {
    const devnum = Number(readFileSync(`/sys/bus/usb/devices/${dev.name}/devnum`, 'utf8'));
    return dev.location?.deviceAddress === undefined || devnum === dev.location.deviceAddress;
  } catch {
    return false;
  }
}

/** ftdi_sio with every method recorded against its registration generation. */
function recordedSpec(gen: number, done: { resolved: boolean }): SerialDriverSpec {
  const note = (method: string, serial: UsbSerial) => {
    const h = serial.intf.usbDevice.host;
    calls.push({ method, gen, attachment: idOf(h), serial: serial.intf.usbDevice.serialNumber, afterDeregistration: done.resolved, tick: ++tick });
  };
  const base = ftdiSerialDriver;
  return {
    ...base,
    probe: (serial, id) => (note('probe', serial), base.probe?.(serial, id)),
    attach: (serial) => (note('attach', serial), base.attach?.(serial)),
    portProbe: async (port) => {
      note('portProbe', port.serial);
      await base.portProbe?.(port);
      openLater(port, gen);
    },
    portRemove: (port) => (note('portRemove', port.serial), base.portRemove?.(port)),
    disconnect: (serial) => (note('disconnect', serial), base.disconnect?.(serial)),
    release: (serial) => (note('release', serial), base.release?.(serial)),
  };
}

/** Opens each new port right away, as an application would; records how it ended. */
function openLater(port: UsbSerialPort, gen: number): void {
  setTimeout(() => {
    port
      .open({ baudRate: 115200 })
      .then(
        () => 'opened',
        (err: Error) => `${err.name}${(err as { code?: string }).code ? `(${(err as { code?: string }).code})` : ''}: ${err.message}`,
      )
      .then((outcome) => opens.push({ port: port.name, serial: port.serial.intf.usbDevice.serialNumber, gen, outcome }));
  }, 0);
}

let hostDone = false;
const doneFromHost = link.next<{ plugs: Record<string, number> }>('done', 300_000).then((d) => {
  hostDone = true;
  return d;
});
link.emit('ready');

// The registration loop, until the host has finished its schedule.
let gen = 0;
let current: { reg: UsbSerialRegistration; done: { resolved: boolean } } | undefined;
while (!hostDone) {
  gen++;
  const done = { resolved: false };
  const reg = await registerUsbSerialDrivers([recordedSpec(gen, done)], 'ftdi_sio', FTDI_IDS, { usbBus: usb.bus });
  gens.push({ gen, registeredTick: ++tick });
  // Probes that hotplug started before the registration finished complete first.
  await usb.settled();
  snapshots.push({
    gen,
    interfaces: usb.bus
      .listDevices()
      .filter((n): n is UsbInterface => n instanceof UsbInterface && n.vendorId === 0x0403)
      // present: whether the kernel still has the device. An unplug reaches sysfs at once but our
      // bus only when the backend reports it; a probe in between fails with "device disconnected".
      .map((i) => ({ name: i.name, serial: i.usbDevice.serialNumber, bound: i.bound, gone: i.usbDevice.gone, present: stillInSysfs(i.usbDevice) })),
  });
  current = { reg, done };
  await Promise.race([sleep(rand(1500, 3000)), doneFromHost]);
  if (hostDone) break;
  gens.at(-1)!.deregisterStartTick = ++tick;
  await deregisterUsbSerialDrivers(reg);
  done.resolved = true;
  gens.at(-1)!.deregisteredTick = ++tick;
  current = undefined;
  await sleep(rand(300, 800));
}
const { plugs } = await doneFromHost;
// Let the last detaches arrive and apply: nusb hears them from udev, which lags under a busy TCG
// guest (seen: seconds).
const want = Object.values(plugs).reduce((a, b) => a + b, 0);
const waitStart = performance.now();
for (let i = 0; i < 300 && stream.filter((e) => e.type === 'detach').length < want; i++) await sleep(100);
const finalWaitMs = Math.round(performance.now() - waitStart);
await usb.settled();
if (current) {
  gens.at(-1)!.deregisterStartTick = ++tick;
  await deregisterUsbSerialDrivers(current.reg);
  current.done.resolved = true;
  gens.at(-1)!.deregisteredTick = ++tick;
}
await usb.settled();
await sleep(300); // any straggling driver call would be recorded (and flagged) by now

const final = {
  boundInterfaces: usb.bus.listDevices().filter((n) => n instanceof UsbInterface && n.bound).map((n) => n.name),
  ftdiOnBus: usb.bus.listDevices().filter((n) => n.vendorId === 0x0403).map((n) => n.name),
  minorsInUse: usbSerialBusOf(usb.bus).minors.inUse,
  serialDevices: usbSerialBusOf(usb.bus).listDevices().length,
  eventsApplied: usb.eventsApplied,
};
sub.unsubscribe();
stop();
await usb.stop();
await backend.close();
clearInterval(heartbeat);
writeResult({ backend: backendName, uptimeAtStart, stalls, finalWaitMs, plugs, stream, interfacesAdded: [...interfacesAdded], calls, gens, snapshots, opens, errors, unhandled, final });
console.log(`generations ${gen}, stream events ${stream.length}, driver calls ${calls.length}, opens ${opens.length}, errors ${errors.length}, unhandled rejections ${unhandled.length}`);
link.close();
