// Guest job: unplug (QMP device_del, asked of the host) in the middle of a read and in the
// middle of a write on our FTDI port. Records what the user sees (events, the rejected write
// and its bytesWritten, what later calls throw) and what is left afterwards (claims, handles,
// ttyUSB minors, bus nodes, the process's active resources).
import { DriverModel } from '../../../src/core/index.ts';
import { createHostBackend, type HostBackendName } from '../../../src/usb/backends/select.ts';
import { UsbSubsystem } from '../../../src/usb/index.ts';
import { deregisterUsbSerialDrivers, usbSerialBusOf, type PortEvent, type UsbSerialPort } from '../../../src/serial/index.ts';
import { registerFtdi } from '../../../drivers/ftdi/index.ts';
import { hostLink, writeResult } from '../guest/link.ts';
import { patternBytes } from './pattern.ts';

const backendName = (process.env.VM_BACKEND ?? 'libusb') as HostBackendName;
const WRITE_BYTES = Number(process.env.VM_WRITE_BYTES ?? 8 << 20);
const link = hostLink();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `p`, or `fallback` after `ms`; the timer is cleared either way (it would keep the process alive). */
function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<F>((r) => (timer = setTimeout(() => r(fallback), ms)))]).finally(() => clearTimeout(timer));
}
const unhandled: string[] = [];
process.on('unhandledRejection', (err) => unhandled.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err)));

const describeError = (err: unknown) => {
  const e = err as { name?: string; code?: string; message?: string; bytesWritten?: number; constructor?: { name?: string } };
  return { class: e?.constructor?.name, name: e?.name, code: e?.code, message: e?.message, bytesWritten: e?.bytesWritten };
};
const attempt = async (fn: () => unknown) => {
  try {
    await fn();
    return { ok: true };
  } catch (err) {
    return describeError(err);
  }
};

const backend = await createHostBackend(backendName);
const usb = new UsbSubsystem({ model: new DriverModel() });
const stop = await usb.attachBackend(backend);
await usb.settled();
const reg = await registerFtdi(usb.bus);
await usb.settled();

async function waitPort(previous?: UsbSerialPort): Promise<UsbSerialPort> {
  for (let i = 0; i < 300; i++) {
    const p = reg.ports().find((x) => x !== previous && !x.gone);
    if (p) return p;
    await sleep(50);
  }
  throw new Error('no ftdi_sio port appeared within 15 s');
}

function watch(port: UsbSerialPort) {
  const events: PortEvent['type'][] = [];
  let disconnectError: unknown;
  let gotDisconnect: () => void = () => undefined;
  const disconnected = new Promise<void>((r) => (gotDisconnect = r));
  let completed = false;
  port.events.subscribe({
    next: (e) => {
      events.push(e.type);
      if (e.type === 'disconnect') {
        disconnectError = e.error;
        gotDisconnect();
      }
    },
    complete: () => (completed = true),
  });
  return { events, disconnected, error: () => disconnectError, completed: () => completed };
}

/** What is left of an adapter after its device went away. */
async function leftovers(port: UsbSerialPort) {
  const intf = port.serial.intf;
  // The port hears of the unplug from its failing transfers at once; the bus only when the
  // backend reports the disconnect (nusb via udev: up to ~2 s later under TCG). Wait for that.
  const t0 = performance.now();
  for (let i = 0; i < 200 && usb.bus.listDevices().includes(intf.usbDevice); i++) await sleep(50);
  await usb.settled();
  return {
    msUntilOffBus: Math.round(performance.now() - t0),
    portsBound: reg.ports().length,
    minorsInUse: usbSerialBusOf(usb.bus).minors.inUse,
    serialDevices: usbSerialBusOf(usb.bus).listDevices().length,
    interfaceClaimed: intf.claimed,
    deviceOpened: intf.usb.opened,
    openCount: intf.usbDevice.openCount,
    deviceOnBus: usb.bus.listDevices().includes(intf.usbDevice),
    interfaceOnBus: usb.bus.listDevices().includes(intf),
    portState: port.portState,
    portGone: port.gone,
  };
}

const result: Record<string, unknown> = { backend: backendName };

// -- mid-read: the port is open and its IN pipeline has transfers in flight ------------------
{
  const port = await waitPort();
  const w = watch(port);
  await port.open({ baudRate: 115200 });
  await sleep(300);
  const t0 = performance.now();
  await link.unplug('ftdi');
  const deleted = performance.now();
  const arrived = await within(w.disconnected.then(() => true), 10_000, false);
  result.midRead = {
    disconnectEvent: arrived,
    msFromUnplugRequest: Math.round(performance.now() - t0),
    msFromDeviceDeleted: Math.round(performance.now() - deleted),
    error: describeError(w.error()),
    events: w.events,
    eventsCompleted: w.completed(),
    writeAfter: await attempt(() => port.write(new Uint8Array([1, 2, 3]))),
    openAfter: await attempt(() => port.open()),
    closeAfter: await attempt(() => port.close()),
    left: await leftovers(port),
  };
}

// -- mid-write: 8 MiB going out at the emulated chip's pace, unplugged after 64 KiB ----------
{
  await link.plug('ftdi');
  const port = await waitPort();
  const w = watch(port);
  await port.open({ baudRate: 3_000_000 });
  const writing = port.write(patternBytes(WRITE_BYTES, 7)).then(
    (n) => ({ resolved: n }),
    (err: unknown) => describeError(err),
  );
  for (let i = 0; i < 400 && port.stats.bytesWritten < 64 * 1024; i++) await sleep(25);
  const before = port.stats.bytesWritten;
  await link.unplug('ftdi');
  const outcome = await within(writing, 15_000, { pending: true });
  await within(w.disconnected, 5000, undefined);
  result.midWrite = {
    bytesWrittenAtUnplug: before,
    outcome,
    statsBytesWritten: port.stats.bytesWritten,
    disconnectError: describeError(w.error()),
    events: w.events,
    drainAfter: await attempt(() => port.drain()),
    writeAfter: await attempt(() => port.write(new Uint8Array([1]))),
    left: await leftovers(port),
  };
}

await deregisterUsbSerialDrivers(reg);
stop();
await usb.stop();
await backend.close();
result.unhandled = unhandled;
link.close();
await sleep(200);
// What would keep the process alive (it must exit by itself: the runner's timeout catches a hang).
result.activeResources = process.getActiveResourcesInfo();
writeResult(result);
console.log(JSON.stringify(result, null, 1));
