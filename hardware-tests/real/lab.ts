// What a real lab has: our dongles (FTDI, PL2303) on a real host backend, how their UARTs are
// wired (found by sending a token out of each port), and which hang from a hub port with
// per-port power switching. Anything missing comes back as a reason to skip, in one line.
import { defaultDriverSets } from '../../drivers/index.ts';
import { DriverModel } from '../../src/core/index.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, usbSerialBusOf, type UsbSerialRegistration } from '../../src/serial/index.ts';
import { discoverWiring, HubControl, ourDevicePredicate, type StressDriverSet, type TopologyLink } from '../../src/stress/index.ts';
import { createHostBackend, UsbSubsystem, type HostBackend, type HostBackendName } from '../../src/usb/index.ts';

export interface RealLab {
  backend: HostBackend;
  driverSets: StressDriverSet[];
  /** Port slots (`1-2:0.0`: device path, interface, port) of our dongles. */
  slots: string[];
  links: TopologyLink[];
  /** Dongles (port paths) behind a switchable hub port with nothing foreign on it. */
  switchable: string[];
}

export const hwEnv = {
  backend: (process.env.USB_HARNESS_HW_BACKEND ?? 'auto') as HostBackendName,
  seconds: Number(process.env.USB_HARNESS_HW_STRESS_SECONDS ?? 20),
  seed: process.env.USB_HARNESS_HW_STRESS_SEED ? Number(process.env.USB_HARNESS_HW_STRESS_SEED) : undefined,
  baudRate: Number(process.env.USB_HARNESS_HW_BAUD ?? 115200),
};

const slotOf = (path: string, intf: number, port: number) => `${path}:${intf}.${port}`;

/** Looks at the lab; resolves with it or with the reason there is nothing to test. */
export async function openRealLab(): Promise<RealLab | { skip: string }> {
  let backend: HostBackend;
  try {
    backend = await createHostBackend(hwEnv.backend);
  } catch (err) {
    return { skip: `no USB here (${err instanceof Error ? err.message : String(err)})` };
  }
  const driverSets = defaultDriverSets();
  const usb = new UsbSubsystem({ model: new DriverModel() });
  const regs: UsbSerialRegistration[] = [];
  try {
    for (const s of driverSets) regs.push(await registerUsbSerialDrivers(s.specs, s.name, s.ids, { usbBus: usb.bus }));
    try {
      await usb.attachBackend(backend);
    } catch (err) {
      await backend.close().catch(() => undefined);
      return { skip: `no USB here (${err instanceof Error ? err.message : String(err)})` };
    }
    await usb.settled();
    const ports = usbSerialBusOf(usb.bus)
      .listDevices()
      .filter((p) => p.serial.usbDevice.location)
      .map((p) => {
        const loc = p.serial.usbDevice.location!;
        return { slot: slotOf(`${loc.busNumber}-${loc.portNumbers.join('.')}`, p.serial.intf.interfaceNumber, p.portNumber), port: p };
      });
    if (ports.length === 0) {
      await backend.close().catch(() => undefined);
      return { skip: 'no FTDI or PL2303 dongle is plugged in (or none could be claimed: check the udev rule)' };
    }
    const links = await discoverWiring(ports, { baudRate: hwEnv.baudRate });
    const hubs = await new HubControl([backend], { isOurs: ourDevicePredicate(driverSets, []) }).listHubs().catch(() => []);
    const switchable = hubs.filter((h) => h.switchable).flatMap((h) => h.ports.filter((p) => p.allOurs).flatMap((p) => p.devices.map((d) => d.path)));
    return { backend, driverSets, slots: ports.map((p) => p.slot), links, switchable };
  } finally {
    for (const r of regs.reverse()) await deregisterUsbSerialDrivers(r).catch(() => undefined);
    await usb.stop();
  }
}

export const dongleOfSlot = (slot: string) => slot.slice(0, slot.indexOf(':'));
