// Picks a host backend by name and loads only that backend's package, so a browser bundle never
// pulls in `usb` and a machine without one native binary can still use the other.
import { NoUsbSubsystemError, type HostBackend } from '../host.ts';
import { childLog } from '../../log.ts';
// The backend modules themselves are light and browser-loadable; each imports its native
// package only when a backend is created. (Static imports also keep one instance of host.ts's
// error classes: under mocha's require(esm) a dynamic import() of a project .ts file loads a
// second copy, and `instanceof NoUsbSubsystemError` fails across the two.)
import { createLibusbBackend, type LibusbBackendOptions } from './libusb.ts';
import { createNusbBackend, type NusbBackendOptions } from './nusb.ts';
import { createWebUsbBackend, type WebUsbBackendOptions } from './webusb.ts';

const log = childLog('usb.backend.select');

export type HostBackendName = 'libusb' | 'nusb' | 'webusb' | 'auto';

export const HOST_BACKEND_NAMES: readonly HostBackendName[] = ['libusb', 'nusb', 'webusb', 'auto'];

/** Options per backend; only the chosen backend's entry is read. */
export interface HostBackendOptions {
  libusb?: LibusbBackendOptions;
  nusb?: NusbBackendOptions;
  webusb?: WebUsbBackendOptions;
}

export function isHostBackendName(name: string): name is HostBackendName {
  return (HOST_BACKEND_NAMES as readonly string[]).includes(name);
}

function inNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/**
 * Creates a backend. 'auto': navigator.usb outside Node; in Node libusb (`usb` 2.x, several IN
 * transfers in flight), falling back to nusb when libusb's binary cannot load.
 * Throws NoUsbSubsystemError when the chosen package cannot start (or, for 'webusb', when
 * there is no navigator.usb). A machine without /sys/bus/usb is reported by getDevices().
 */
export async function createHostBackend(
  name: HostBackendName,
  opts: HostBackendOptions = {},
): Promise<HostBackend> {
  switch (name) {
    case 'libusb':
      return createLibusbBackend(opts.libusb);
    case 'nusb':
      return createNusbBackend(opts.nusb);
    case 'webusb':
      return createWebUsbBackend(opts.webusb);
    case 'auto':
      return createAuto(opts);
    default: {
      const never: never = name;
      throw new TypeError(
        `unknown host backend '${String(never)}' (expected one of ${HOST_BACKEND_NAMES.join(', ')})`,
      );
    }
  }
}

async function createAuto(opts: HostBackendOptions): Promise<HostBackend> {
  if (!inNode()) return createHostBackend('webusb', opts);
  const failures: string[] = [];
  for (const candidate of ['libusb', 'nusb'] as const) {
    try {
      const backend = await createHostBackend(candidate, opts);
      log.debug({ backend: candidate }, 'auto picked host backend');
      return backend;
    } catch (err) {
      if (!(err instanceof NoUsbSubsystemError)) throw err;
      log.debug({ backend: candidate, err }, 'host backend unavailable');
      failures.push(`${candidate}: ${err.detail}`);
    }
  }
  throw new NoUsbSubsystemError('auto', failures.join('; '));
}
