// What every command starts from: a USB subsystem on a backend (the built-in mock lab or the
// `usb` package), with the FTDI and PL2303 usb-serial drivers registered.
import {
  createHostBackend,
  deregisterUsbSerialDrivers,
  DriverModel,
  NoUsbSubsystemError,
  registerUsbSerialDrivers,
  UsbSubsystem,
  type HostBackend,
  type HostBackendName,
  type SerialDriverSpec,
  type UsbDeviceId,
  type UsbSerialPort,
  type UsbSerialRegistration,
} from '../index.ts';
import { CliError, EXIT } from './errors.ts';

/** One usb-serial registration: its serial drivers, the usb driver's name, the ID table. */
export interface DriverSet {
  name: string;
  specs: SerialDriverSpec[];
  ids: UsbDeviceId[];
}

/** The part of the mock lab the CLI needs (mocks/lab.ts provides it). */
export interface CliLab {
  readonly backend: HostBackend;
  /** Plugs every dongle (wired as the lab describes). */
  plugAll(): void;
  /** Dongle names, and plugging them one by one (monitor --churn, the demo). */
  dongles(): string[];
  plug(name: string): void;
  unplug(name: string): void;
  isPlugged(name: string): boolean;
  /** Waits until plug/unplug events were delivered. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface ContextOptions {
  mockLab: boolean;
  backend: HostBackendName;
  /** Register the drivers (default true; `monitor --no-drivers` shows bare hotplug). */
  drivers?: boolean;
}

export interface CliContext {
  readonly usb: UsbSubsystem;
  readonly model: DriverModel;
  readonly backend: HostBackend;
  readonly lab: CliLab | undefined;
  readonly registrations: UsbSerialRegistration[];
  ports(): UsbSerialPort[];
  /** A port by ttyUSB name, stable path, or adapter serial number; a clear error otherwise. */
  findPort(name: string): UsbSerialPort;
  close(): Promise<void>;
}

export interface ContextDeps {
  driverSets(): DriverSet[];
  createLab(): CliLab;
  /** Wraps the backend before the subsystem attaches it (--capture records through it). */
  wrapBackend?: (backend: HostBackend) => HostBackend;
}

export async function openContext(options: ContextOptions, deps: ContextDeps): Promise<CliContext> {
  const model = new DriverModel();
  const usb = new UsbSubsystem({ model });
  const lab = options.mockLab ? deps.createLab() : undefined;
  let backend: HostBackend;
  try {
    backend = lab ? lab.backend : await createHostBackend(options.backend);
    if (deps.wrapBackend) backend = deps.wrapBackend(backend);
  } catch (err) {
    throw noUsb(err);
  }
  const registrations: UsbSerialRegistration[] = [];
  const close = async () => {
    for (const r of registrations.splice(0).reverse()) await deregisterUsbSerialDrivers(r).catch(() => undefined);
    await usb.stop();
    await backend.close().catch(() => undefined);
    await lab?.close();
  };
  try {
    if (options.drivers !== false) {
      for (const set of deps.driverSets()) registrations.push(await registerUsbSerialDrivers(set.specs, set.name, set.ids, { usbBus: usb.bus }));
    }
    lab?.plugAll();
    await lab?.flush();
    await usb.attachBackend(backend);
    await usb.settled();
  } catch (err) {
    await close();
    throw noUsb(err);
  }
  const ports = () => registrations.flatMap((r) => r.ports()).sort((a, b) => a.minor - b.minor);
  return {
    usb,
    model,
    backend,
    lab,
    registrations,
    ports,
    findPort(name) {
      const all = ports();
      const found =
        all.find((p) => p.name === name || `/dev/${p.name}` === name || p.stablePath === name) ??
        all.find((p) => p.serial.usbDevice.serialNumber === name && p.serial.ports.length === 1);
      if (!found) {
        const known = all.map((p) => `${p.name} (${p.stablePath})`).join(', ') || 'none';
        throw new CliError(`unknown port '${name}'; ports: ${known}`, EXIT.usage);
      }
      return found;
    },
    close,
  };
}

function noUsb(err: unknown): unknown {
  if (err instanceof NoUsbSubsystemError) {
    return new CliError(`${err.message}`, EXIT.noUsb);
  }
  return err;
}
