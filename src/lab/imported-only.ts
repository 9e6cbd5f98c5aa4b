// A host backend that shows only the devices imported over USB/IP (those on a vhci_hcd root
// hub), so that the stack binds our drivers to the lab's remote dongles and never to the local
// devices of this host: on a host that also exports (a one-machine lab), the exported original
// stays bound to usbip-host and must not be claimed from under it.
import { readdir, realpath } from 'node:fs/promises';
import type { HostBackend, HostDevice, HostEvent } from '../usb/host.ts';

/** Bus numbers whose root hub is a vhci_hcd controller (/sys/bus/usb/devices/usbN -> .../vhci_hcd.K/usbN). */
export async function vhciBusNumbers(sysBusUsb = '/sys/bus/usb/devices'): Promise<Set<number>> {
  const buses = new Set<number>();
  for (const name of await readdir(sysBusUsb).catch(() => [] as string[])) {
    const m = /^usb(\d+)$/.exec(name);
    if (!m) continue;
    const real = await realpath(`${sysBusUsb}/${name}`).catch(() => '');
    if (/\/vhci_hcd\.\d+\//.test(real)) buses.add(Number(m[1]));
  }
  return buses;
}

/** Wraps `backend` so that only devices on the given buses are listed and reported. */
export function importedOnly(backend: HostBackend, buses: ReadonlySet<number>): HostBackend {
  // The vhci root hubs themselves are not imports.
  const keep = (d: HostDevice) => d.location !== undefined && d.location.portNumbers.length > 0 && buses.has(d.location.busNumber);
  return {
    name: `${backend.name}+usbip`,
    async getDevices() {
      return (await backend.getDevices()).filter(keep);
    },
    watch(listener: (event: HostEvent) => void) {
      return backend.watch((e) => {
        if (keep(e.device)) listener(e);
      });
    },
    close: () => backend.close(),
  };
}
