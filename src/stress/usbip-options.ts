// `usb-harness stress --usbip-lab FILE`: the remote-dongle target's options from a lab file:
// the lab (src/lab), and the host backend showing only the imports (never this host's own
// devices). The dongles are attached first (usb-harness lab attach); the faults are those the
// lab file allows (exporter access for unplug, drop and restart; `detach` always).
import { readFile } from 'node:fs/promises';
import { Lab } from '../lab/lab.ts';
import { LabFileError } from '../lab/errors.ts';
import { parseLabFile } from '../lab/lab-file.ts';
import { importedOnly, vhciBusNumbers } from '../lab/imported-only.ts';
import type { HostBackend } from '../usb/host.ts';
import { StressOptionError } from './schedule.ts';
import type { StressDriverSet } from './target.ts';
import type { UsbipTargetOptions } from './usbip-target.ts';

export async function usbipStressOptions(file: string, backend: HostBackend, driverSets: readonly StressDriverSet[]): Promise<UsbipTargetOptions> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new StressOptionError(`cannot read the lab file ${file}: ${(err as Error).message}`);
  }
  let lab: Lab;
  try {
    lab = new Lab(parseLabFile(text, file));
  } catch (err) {
    if (err instanceof LabFileError) throw new StressOptionError(err.message);
    throw err;
  }
  const buses = await vhciBusNumbers();
  if (buses.size === 0) throw new StressOptionError('no vhci_hcd here: load it (modprobe vhci-hcd) and attach the lab (usb-harness lab attach)');
  return { lab, backend: importedOnly(backend, buses), driverSets };
}
