// Guest job: our stack enumerates QEMU's FTDIs through the `usb` package (VM_BACKEND), a plain
// UsbDriver binds one of them (declining the other by serial number), and the guest kernel's
// ftdi_sio is detached from exactly that interface and given back when the driver goes.
// What sysfs showed at each step is the result; the host test asserts on it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { DriverModel, ProbeNoMatch } from '../../../src/core/index.ts';
import { createHostBackend, type HostBackendName } from '../../../src/usb/backends/select.ts';
import { UsbDriver, UsbInterface, UsbSubsystem, usbDevice } from '../../../src/usb/index.ts';
import { writeResult } from '../guest/link.ts';

const SYS_FTDI = '/sys/bus/usb/drivers/ftdi_sio';
const backendName = (process.env.VM_BACKEND ?? 'libusb') as HostBackendName;
const want = process.env.VM_BIND_SERIAL ?? 'BIND';

/** Interfaces ftdi_sio holds now, e.g. ['1-1:1.0', '1-2:1.0']. */
const kernelBound = () => (existsSync(SYS_FTDI) ? readdirSync(SYS_FTDI).filter((n) => /^\d+-[\d.]+:\d+\.\d+$/.test(n)).sort() : []);
const ttys = () => readdirSync('/dev').filter((n) => n.startsWith('ttyUSB')).sort();
/** The sysfs interface name of the device with that serial number. */
function sysfsInterfaceOf(serial: string): string | undefined {
  for (const d of readdirSync('/sys/bus/usb/devices')) {
    try {
      const s = readFileSync(`/sys/bus/usb/devices/${d}/serial`, 'utf8').trim();
      if (s === serial) return `${d}:1.0`;
    } catch {
      // hubs and interfaces have no serial file
    }
  }
  return undefined;
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
const steps: Record<string, unknown> = {};
steps.before = { kernelBound: kernelBound(), ttys: ttys(), target: sysfsInterfaceOf(want) };

const backend = await createHostBackend(backendName, { libusb: { inTimeoutMs: 500 }, nusb: { inTimeoutMs: 500 } });
const usb = new UsbSubsystem({ model: new DriverModel() });
const stop = await usb.attachBackend(backend);
await usb.settled();
const interfaces = usb.bus.listDevices().filter((n): n is UsbInterface => n instanceof UsbInterface && n.vendorId === 0x0403);
steps.enumerated = interfaces.map((i) => ({ name: i.name, serial: i.usbDevice.serialNumber, product: i.usbDevice.product, endpoints: i.endpoints.length }));

const probed: string[] = [];
const declined: string[] = [];
const disconnected: string[] = [];
const driver = new UsbDriver(usb.bus, {
  name: 'vm_plain',
  idTable: [usbDevice(0x0403, 0x6001)],
  probe(intf) {
    if (intf.usbDevice.serialNumber !== want) {
      declined.push(intf.name);
      throw new ProbeNoMatch(`serial ${intf.usbDevice.serialNumber} is not ${want}`);
    }
    probed.push(intf.name);
  },
  disconnect(intf) {
    disconnected.push(intf.name);
  },
});
await usb.bus.registerDriver(driver);
await usb.settled();
const bound = interfaces.find((i) => i.usbDevice.serialNumber === want);
// A GET_DESCRIPTOR through our claim, to show the handle is ours and working.
let descriptorOk = false;
if (bound) {
  const r = await bound.usb.controlTransferIn({ requestType: 'standard', recipient: 'device', request: 6, value: 0x100, index: 0 }, 18);
  descriptorOk = r.status === 'ok' && r.data?.getUint16(8, true) === 0x0403;
}
steps.bound = {
  probed: [...probed],
  declined: [...declined],
  claimed: bound?.claimed,
  kernelDriverDetached: bound?.kernelDriverDetached,
  descriptorOk,
  kernelBound: kernelBound(),
  ttys: ttys(),
};

await usb.bus.unregisterDriver(driver);
await usb.settled();
// The kernel rebinds synchronously on USBDEVFS_CONNECT; udev makes /dev/ttyUSB* a moment later.
for (let i = 0; i < 40 && ttys().length < (steps.before as { ttys: string[] }).ttys.length; i++) await settle(50);
steps.released = { disconnected: [...disconnected], claimed: bound?.claimed, kernelBound: kernelBound(), ttys: ttys(), openCount: bound?.usbDevice.openCount, opened: bound?.usb.opened };

stop();
await usb.stop();
await backend.close();
writeResult(steps);
console.log(JSON.stringify(steps, null, 1));
