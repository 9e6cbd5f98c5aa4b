// Two-level registration (Linux: usb_serial_register_drivers, with its fixes, and the ones Linux
// never made). Each serial driver lives on the usb-serial bus; its adapters are probed through
// one usb driver on the usb bus.
//
// Register: (1) the usb driver, with no IDs, so nothing can probe yet; (2) each serial driver,
// pointing at it; (3) the IDs, then driverAttach under a pin. A failure at any step undoes the
// steps before it, with zero dynamic IDs left.
//
// Deregister (and roll back): the usb driver goes first. That releases every adapter, calling
// the serial drivers' disconnect/release and port removal while they are still registered;
// then the serial drivers go, in reverse. Linux does it the other way round and lets a serial
// driver's methods run after usb_serial_deregister returned; here none runs after
// deregistration resolves.
import {
  BusyError,
  CoreError,
  DriverStateError,
  driverAttach,
  getDriver,
  inspectDriver,
  ProbeNoMatch,
  putDriver,
  NoSuchDeviceError,
  type Attribute,
} from '../core/index.ts';
import { childLog } from '../log.ts';
import type { UsbBus } from '../usb/bus.ts';
import { defaultUsb } from '../usb/default.ts';
import type { UsbInterface } from '../usb/device.ts';
import { UsbDriver } from '../usb/driver.ts';
import { formatUsbId, parseUsbNewId, parseUsbRemoveId, usbMatchId, type UsbDeviceId } from '../usb/ids.ts';
import { usbSerialBusOf, type UsbSerialBus } from './bus.ts';
import { SerialDriver, type SerialDriverSpec } from './driver.ts';
import { UsbSerial, UsbSerialPort } from './port.ts';

const log = childLog('serial.register');

export type UsbSerialRegistrationState = 'registering' | 'registered' | 'deregistering' | 'deregistered';

/** What registerUsbSerialDrivers hands back: the only way to deregister. */
export class UsbSerialRegistration {
  state: UsbSerialRegistrationState = 'registering';
  /** @internal */ deregistration: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly usbDriver: UsbDriver,
    readonly serialDrivers: readonly SerialDriver[],
    readonly usbBus: UsbBus,
    readonly serialBus: UsbSerialBus,
  ) {}

  /** Adapters currently bound (one per usb interface). */
  adapters(): UsbSerial[] {
    return inspectDriver(this.usbDriver)
      .boundDevices.map((name) => this.usbBus.getDevice(name)?.driverData)
      .filter((d): d is UsbSerial => d instanceof UsbSerial);
  }

  ports(): UsbSerialPort[] {
    return this.adapters().flatMap((a) => a.ports);
  }
}

export class UsbSerialRegistrationError extends CoreError {
  constructor(
    readonly registration: string,
    readonly failedDriver: string,
    cause: unknown,
  ) {
    super('EREG', `registering usb-serial drivers '${registration}' failed at '${failedDriver}': ${cause instanceof Error ? cause.message : String(cause)} (rolled back)`, { cause });
  }
}

export interface RegisterUsbSerialOptions {
  /** The usb bus to register on (default: the default USB subsystem's). */
  usbBus?: UsbBus;
}

export async function registerUsbSerialDrivers(
  specs: readonly SerialDriverSpec[],
  name: string,
  ids: readonly UsbDeviceId[],
  options: RegisterUsbSerialOptions = {},
): Promise<UsbSerialRegistration> {
  const usbBus = options.usbBus ?? defaultUsb().bus;
  const serialBus = usbSerialBusOf(usbBus);
  const serialDrivers: SerialDriver[] = [];

  // (1) The usb driver: no IDs yet, no new_id of its own (its serial drivers have one). Its
  // bind/unbind files stay, as usb_serial_register_drivers leaves them (`echo 1-1:1.0 >
  // .../ftdi_sio/unbind` detaches an adapter).
  const usbDriver: UsbDriver = new UsbDriver(usbBus, {
    name,
    idTable: [],
    noDynamicId: true,
    probe: (intf, id) => usbSerialProbe(serialBus, serialDrivers, intf, id),
    disconnect: (intf) => usbSerialDisconnect(serialBus, intf),
  });
  try {
    await usbBus.registerDriver(usbDriver);
  } catch (err) {
    throw new UsbSerialRegistrationError(name, name, err);
  }

  const registration = new UsbSerialRegistration(name, usbDriver, serialDrivers, usbBus, serialBus);

  // (2) Each serial driver, pointing at the usb driver.
  for (const spec of specs) {
    const sd: SerialDriver = new SerialDriver(serialBus, spec, newIdAttributes(() => sd, registration));
    sd.usbDriver = usbDriver;
    try {
      await serialBus.registerDriver(sd);
    } catch (err) {
      await teardown(registration, serialDrivers);
      registration.state = 'deregistered';
      throw new UsbSerialRegistrationError(name, spec.name, err);
    }
    serialDrivers.push(sd);
  }

  // (3) The IDs: the static table, plus what was written to the serial drivers' new_id while
  // the registration ran; then attach under a pin. From reading those IDs to marking the
  // registration complete nothing yields, so no write falls in between.
  usbDriver.setIdTable(ids);
  for (const sd of serialDrivers) {
    for (const id of inspectDriver(sd).dynamicIds) {
      const key = formatUsbId(id as UsbDeviceId);
      if (!inspectDriver(usbDriver).dynamicIds.some((x) => formatUsbId(x) === key)) usbBus.addDynamicId(usbDriver, id as UsbDeviceId, { attach: false });
    }
  }
  registration.state = 'registered';
  const pin = getDriver(usbDriver, `usb-serial:${name}:register`);
  if (pin) {
    try {
      if (usbBus.autoprobe) await driverAttach(pin);
    } finally {
      putDriver(pin);
    }
  }
  return registration;
}

export function deregisterUsbSerialDrivers(registration: UsbSerialRegistration): Promise<void> {
  if (registration.deregistration) return registration.deregistration;
  if (registration.state !== 'registered') {
    return Promise.reject(new DriverStateError(registration.name, registration.state, 'only registered usb-serial drivers can be deregistered'));
  }
  registration.state = 'deregistering';
  registration.deregistration = teardown(registration, registration.serialDrivers).finally(() => {
    registration.state = 'deregistered';
    registration.deregistration = null;
  });
  return registration.deregistration;
}

async function teardown(reg: UsbSerialRegistration, serialDrivers: readonly SerialDriver[]): Promise<void> {
  await reg.usbBus.unregisterDriver(reg.usbDriver);
  for (const sd of [...serialDrivers].reverse()) {
    if (sd.state === 'registered') await reg.serialBus.unregisterDriver(sd);
  }
}

/**
 * A serial driver's new_id / remove_id. The ID goes into the serial driver's own dynamic IDs
 * (which pick the serial driver at probe time) and is forwarded to the usb driver, under a pin,
 * only while both are registered and the registration is complete. While the registration runs,
 * the ID is kept and its last step forwards it; once the usb driver is gone, the write is refused.
 */
function newIdAttributes(self: () => SerialDriver, reg: UsbSerialRegistration): Record<string, Attribute> {
  return {
    new_id: {
      show: () => inspectDriver(self()).dynamicIds.map((id) => formatUsbId(id as UsbDeviceId)).join('\n'),
      store: async (text) => {
        const sd = self();
        if (sd.state !== 'registering' && sd.state !== 'registered') {
          throw new DriverStateError(sd.name, sd.state, 'new_id needs a registered serial driver');
        }
        const id = parseUsbNewId(text, sd.spec.idTable);
        if (reg.state === 'registering') {
          // Kept; the registration's last step forwards it, so nothing binds before it completes.
          reg.serialBus.addDynamicId(sd, id);
          return;
        }
        const usbPin = getDriver(reg.usbDriver, `usb-serial:${sd.name}:new_id`);
        if (!usbPin) {
          throw new BusyError(`new_id of '${sd.name}': its usb driver '${reg.usbDriver.name}' is not registered`);
        }
        try {
          reg.serialBus.addDynamicId(sd, id);
          try {
            const key = formatUsbId(id);
            if (!inspectDriver(reg.usbDriver).dynamicIds.some((x) => formatUsbId(x) === key)) await reg.usbBus.addDynamicId(reg.usbDriver, id);
          } catch (err) {
            reg.serialBus.removeDynamicIds(sd, (x) => x === id);
            throw err;
          }
        } finally {
          putDriver(usbPin);
        }
      },
    },
    remove_id: {
      store: (text) => {
        const sd = self();
        const select = parseUsbRemoveId(text);
        const n = reg.serialBus.removeDynamicIds(sd, (id) => select(id as UsbDeviceId));
        if (n === 0) throw new NoSuchDeviceError(`serial driver '${sd.name}' has no dynamic ID '${text.trim()}'`);
        // The usb driver keeps an ID while another of its serial drivers still has it.
        const stillWanted = (id: UsbDeviceId) =>
          reg.serialDrivers.some((other) => inspectDriver(other).dynamicIds.some((x) => formatUsbId(x as UsbDeviceId) === formatUsbId(id)));
        reg.usbBus.removeDynamicIds(reg.usbDriver, (id) => select(id) && !stillWanted(id));
      },
    },
  };
}

/** The serial driver (in registration order) whose dynamic IDs, then static table, match. */
function pickSerialDriver(serialDrivers: readonly SerialDriver[], intf: UsbInterface): { sd: SerialDriver; id: UsbDeviceId } | null {
  for (const sd of serialDrivers) {
    const dyn = inspectDriver(sd).dynamicIds.find((id) => usbMatchId(intf, id as UsbDeviceId)) as UsbDeviceId | undefined;
    const id = dyn ?? sd.spec.idTable.find((e) => usbMatchId(intf, e));
    if (id) return { sd, id };
  }
  return null;
}

/** The usb driver's probe (Linux: usb_serial_probe). */
async function usbSerialProbe(
  serialBus: UsbSerialBus,
  serialDrivers: readonly SerialDriver[],
  intf: UsbInterface,
  _usbId: UsbDeviceId | null,
): Promise<void> {
  const picked = pickSerialDriver(serialDrivers, intf);
  if (!picked) throw new ProbeNoMatch(`no serial driver matches ${intf.name}`);
  // Pin the serial driver for the whole probe: it cannot finish unregistering meanwhile.
  const pin = getDriver(picked.sd, 'usb-serial:probe');
  if (!pin) throw new ProbeNoMatch(`serial driver '${picked.sd.name}' is not registered`);
  const serial = new UsbSerial(intf, picked.sd, picked.id);
  const spec = picked.sd.spec;
  let attached = false;
  try {
    await spec.probe?.(serial, picked.id);
    const n = (await spec.attach?.(serial)) ?? spec.numPorts ?? 1;
    attached = true;
    for (let i = 0; i < n; i++) {
      const port = new UsbSerialPort(serial, i, serialBus.minors.take());
      serial.ports.push(port);
      await serialBus.addDevice(port);
    }
    intf.driverData = serial;
  } catch (err) {
    await removePorts(serialBus, serial);
    if (attached) await safely(() => spec.release?.(serial), 'release after failed probe', serial);
    throw err;
  } finally {
    putDriver(pin);
  }
}

/** The usb driver's disconnect (Linux: usb_serial_disconnect). */
async function usbSerialDisconnect(serialBus: UsbSerialBus, intf: UsbInterface): Promise<void> {
  const serial = intf.driverData;
  if (!(serial instanceof UsbSerial)) return;
  // Users hear it first: open ports close with PortDisconnectedError, pending writes say how far they got.
  for (const port of serial.ports) port.markGone();
  await safely(() => serial.type.spec.disconnect?.(serial), 'disconnect', serial);
  await removePorts(serialBus, serial);
  await safely(() => serial.type.spec.release?.(serial), 'release', serial);
}

async function removePorts(serialBus: UsbSerialBus, serial: UsbSerial): Promise<void> {
  for (const port of [...serial.ports].reverse()) {
    if (port.state === 'live') await serialBus.removeDevice(port);
    serialBus.minors.free(port.minor);
  }
  serial.ports.length = 0;
}

async function safely(fn: () => unknown, step: string, serial: UsbSerial): Promise<void> {
  try {
    await fn();
  } catch (err) {
    log.warn({ err, step, adapter: serial.intf.name, driver: serial.type.name }, 'usb-serial teardown step failed');
  }
}
