// Guest job: the host-backend conformance suite (../../backend-conformance.ts) against the real
// libusb and nusb backends on QEMU's usb-serial (0403:6001), with hotplug done by the host over
// QMP. Writes { backend: ConformanceResult[] } as the run's result.
import { createHostBackend, type HostBackendName } from '../../../src/usb/backends/select.ts';
import { runBackendConformance, type ConformanceResult } from '../../backend-conformance.ts';
import { hostLink, writeResult } from '../guest/link.ts';

const IN_TIMEOUT_MS = 500;
const device = process.env.VM_DEVICE_ID ?? 'ftdi';
const backends = (process.env.VM_BACKENDS ?? 'libusb,nusb').split(',') as HostBackendName[];
const link = hostLink();
const results: Record<string, ConformanceResult[]> = {};

for (const name of backends) {
  const t0 = performance.now();
  results[name] = await runBackendConformance(
    name,
    () => createHostBackend(name, { libusb: { inTimeoutMs: IN_TIMEOUT_MS }, nusb: { inTimeoutMs: IN_TIMEOUT_MS } }),
    {
      pickDevice: (devices) => devices.find((d) => d.usb.vendorId === 0x0403 && d.usb.productId === 0x6001),
      interfaceNumber: 0,
      idleIn: { endpointNumber: 1, timeoutMs: IN_TIMEOUT_MS },
      hotplug: { unplug: () => link.unplug(device), plug: () => link.plug(device), timeoutMs: 10_000 },
    },
  );
  for (const r of results[name]!) console.log(`[${name}] ${r.outcome.padEnd(7)} ${r.check}${r.detail ? ` — ${r.detail}` : ''}`);
  console.log(`[${name}] ${Math.round(performance.now() - t0)} ms`);
}
writeResult(results);
link.close();
