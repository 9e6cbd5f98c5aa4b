// The composition root: a driver model, a usb bus fed by one host backend, and usb-serial driver
// sets registered on it, with the teardown that undoes exactly that. The command line, the demo,
// the stress harness and the test labs build their stacks here (Linux's equivalent is boot: the core, the host
// controller driver, then the modules).
import { CoreError, DriverModel } from './core/index.ts';
import { childLog } from './log.ts';
import { deregisterUsbSerialDrivers, registerUsbSerialDrivers, type UsbSerialRegistration } from './serial/register.ts';
import type { UsbSerialDriverSet } from './serial/driver-set.ts';
import type { UsbSerialPort } from './serial/port.ts';
import { findPort } from './serial/port-resolver.ts';
import type { HostBackend } from './usb/host.ts';
import { UsbSubsystem } from './usb/subsystem.ts';

const log = childLog('stack');

export interface StackOptions {
  /** The host backend the usb bus is fed from: createHostBackend(), a WebUSB one, a mock host. */
  host: HostBackend;
  /** Driver sets to register, in order (e.g. defaultDriverSets() from drivers/index.ts). Default none. */
  driverSets?: readonly UsbSerialDriverSet[];
  /** The driver model (default a fresh one: stacks share no state). */
  model?: DriverModel;
  /**
   * 'drivers-first' (default): register the drivers, then attach the host, so devices present at
   * start probe as they enumerate (drivers built in at boot). 'host-first': attach the host,
   * then register, so the drivers bind devices already on the bus (a module loaded later).
   */
  order?: 'drivers-first' | 'host-first';
  /**
   * Attach the host while building (default true). false: register the driver sets now and
   * attach the host when the caller calls attachHost() (the stress harness plugs its lab first,
   * so the devices present at start enumerate against drivers already registered).
   */
  attachHost?: boolean;
  /** Close the host backend on close() (default true; false when its owner closes it, e.g. a mock lab). */
  closeHost?: boolean;
  /** Hotplug stream errors after start (default: logged). */
  onHotplugError?: (err: unknown) => void;
}

export interface UsbSerialStack {
  readonly model: DriverModel;
  readonly usb: UsbSubsystem;
  readonly host: HostBackend;
  /** The registrations made so far, in registration order. */
  readonly registrations: readonly UsbSerialRegistration[];
  /** Every port of every registration, by minor (ttyUSB number). */
  ports(): UsbSerialPort[];
  /** A ready port by ttyUSB name, stable path, by-id name or serial number (serial/port-resolver.ts). */
  findPort(name: string): UsbSerialPort;
  /** Attaches the host backend to the usb bus, once (createStack does unless told not to). */
  attachHost(): Promise<void>;
  /** Registers one more driver set (deregistered by close()). */
  register(set: UsbSerialDriverSet): Promise<UsbSerialRegistration>;
  /** Deregisters one registration of this stack. */
  deregister(registration: UsbSerialRegistration): Promise<void>;
  /** Resolves when queued hotplug events and probes are applied. */
  settled(): Promise<void>;
  /** Deregisters every driver set (last first), stops the usb bus, closes the host. Idempotent. */
  close(): Promise<void>;
}

/**
 * Builds a stack and waits until the initial enumeration is applied. On failure (the backend
 * cannot start, a registration fails) whatever was set up is torn down before the error is thrown.
 */
export async function createStack(options: StackOptions): Promise<UsbSerialStack> {
  const model = options.model ?? new DriverModel();
  const usb = new UsbSubsystem({ model });
  const host = options.host;
  const registrations: UsbSerialRegistration[] = [];
  let closing: Promise<void> | undefined;

  const register = async (set: UsbSerialDriverSet) => {
    const reg = await registerUsbSerialDrivers(set.specs, set.name, set.ids, { usbBus: usb.bus });
    registrations.push(reg);
    return reg;
  };
  const deregister = async (reg: UsbSerialRegistration) => {
    const at = registrations.indexOf(reg);
    if (at < 0) throw new CoreError('ENODEV', `usb-serial registration '${reg.name}' is not part of this stack`);
    registrations.splice(at, 1);
    await deregisterUsbSerialDrivers(reg);
  };
  const close = () =>
    (closing ??= (async () => {
      for (const reg of registrations.splice(0).reverse()) {
        if (reg.state !== 'registered') continue;
        await deregisterUsbSerialDrivers(reg).catch((err: unknown) => log.warn({ err, registration: reg.name }, 'deregistering at stack close failed'));
      }
      await usb.stop();
      if (options.closeHost ?? true) await host.close().catch((err: unknown) => log.warn({ err }, 'closing the host backend failed'));
    })());
  let attached: Promise<void> | undefined;
  const attach = () => (attached ??= usb.attachBackend(host, options.onHotplugError).then(() => undefined));
  const attachNow = options.attachHost ?? true;

  try {
    if (attachNow && options.order === 'host-first') await attach();
    for (const set of options.driverSets ?? []) await register(set);
    if (attachNow && options.order !== 'host-first') await attach();
    await usb.settled();
  } catch (err) {
    await close();
    throw err;
  }

  return {
    model,
    usb,
    host,
    registrations,
    ports: () => registrations.flatMap((r) => r.ports()).sort((a, b) => a.minor - b.minor),
    findPort: (name) => findPort(usb, name),
    attachHost: async () => {
      if (closing) throw new CoreError('ENODEV', 'the stack is closed');
      await attach();
    },
    register,
    deregister,
    settled: () => usb.settled(),
    close,
  };
}
