// The string descriptors' texts of a libusb device: from sysfs on Linux (no open, off the JS
// thread), elsewhere by opening the device briefly and asking it, as browsers do.
import type { UsbLocation } from '../host.ts';
import { childLog } from '../../log.ts';
import type { DescriptorNames } from './libusb-descriptors.ts';
import type { LibusbUsbDevice } from './libusb-device.ts';
import type { LibusbConfigDescriptor, LibusbLegacyDevice } from './libusb-module.ts';
import { readSysfsStringAsync, sysfsDeviceName, sysfsUsbRoot, type SysfsOptions } from './linux-sysfs.ts';

const log = childLog('usb.backend.libusb');
/**
 * Strings from sysfs: readable without opening the device (so without device-node access).
 * Read on the thread pool, never on the JS thread (see readSysfsStringAsync).
 */
export async function sysfsNames(
  opts: SysfsOptions,
  loc: UsbLocation,
  legacy: LibusbLegacyDevice,
): Promise<{
  manufacturer: string | null;
  product: string | null;
  serial: string | null;
  /** The active configuration value; null when unconfigured, undefined when unreadable. */
  active: number | null | undefined;
  names: DescriptorNames;
}> {
  const dir = `${sysfsUsbRoot(opts)}/devices/${sysfsDeviceName(loc)}`;
  const [activeValue, manufacturer, product, serial, configuration] = await Promise.all(
    ['bConfigurationValue', 'manufacturer', 'product', 'serial', 'configuration'].map((a) => readSysfsStringAsync(`${dir}/${a}`)),
  );
  // sysfs only describes the active configuration; other names stay null.
  const active = safeConfigs(legacy).find((c) => String(c.bConfigurationValue) === activeValue);
  const interfaceNames = new Map<number, string | null>();
  if (active) {
    await Promise.all(
      active.interfaces.map(async (alts) => {
        const n = alts[0]?.bInterfaceNumber;
        if (n === undefined) return;
        interfaceNames.set(n, await readSysfsStringAsync(`${dir}:${active.bConfigurationValue}.${n}/interface`));
      }),
    );
  }
  return {
    manufacturer,
    product,
    serial,
    // '' = unconfigured; unreadable (null) = undefined, so libusb is asked after all.
    active: activeValue === null ? undefined : /^\d+$/.test(activeValue) ? Number(activeValue) : null,
    names: {
      configuration: (cfg) => (String(cfg.bConfigurationValue) === activeValue ? configuration : null),
      iface: (cfg, alt) =>
        String(cfg.bConfigurationValue) === activeValue && alt.bAlternateSetting === 0
          ? (interfaceNames.get(alt.bInterfaceNumber) ?? null)
          : null,
    },
  };
}

/** Off Linux: open the device briefly and read its string descriptors (as browsers do). */
export async function readStringsViaDescriptors(dev: LibusbUsbDevice): Promise<void> {
  const dd = dev.legacy.deviceDescriptor;
  const indexes = new Set<number>([dd.iManufacturer, dd.iProduct, dd.iSerialNumber]);
  for (const cfg of safeConfigs(dev.legacy)) {
    indexes.add(cfg.iConfiguration);
    for (const alts of cfg.interfaces) for (const alt of alts) indexes.add(alt.iInterface);
  }
  indexes.delete(0);
  if (indexes.size === 0) return;
  const strings = new Map<number, string>();
  try {
    dev.legacy.__open();
  } catch (err) {
    log.debug({ err, device: dev.label }, 'cannot open to read string descriptors');
    return;
  }
  try {
    for (const index of indexes) {
      const s = await readStringDescriptor(dev.legacy, index).catch(() => null);
      if (s !== null) strings.set(index, s);
    }
  } finally {
    try {
      dev.legacy.__close();
    } catch (err) {
      log.debug({ err, device: dev.label }, 'closing after reading strings failed');
    }
  }
  dev.manufacturerName = strings.get(dd.iManufacturer) ?? null;
  dev.productName = strings.get(dd.iProduct) ?? null;
  dev.serialNumber = strings.get(dd.iSerialNumber) ?? null;
  dev.readDescriptors({
    configuration: (cfg) => strings.get(cfg.iConfiguration) ?? null,
    iface: (_cfg, alt) => strings.get(alt.iInterface) ?? null,
  });
}

function safeConfigs(legacy: LibusbLegacyDevice): LibusbConfigDescriptor[] {
  try {
    return legacy.allConfigDescriptors;
  } catch {
    return [];
  }
}

function readStringDescriptor(legacy: LibusbLegacyDevice, index: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    try {
      // GET_DESCRIPTOR(STRING, index), US English.
      legacy.controlTransfer(0x80, 0x06, 0x0300 | index, 0x0409, 255, (err, data) => {
        if (err) reject(err);
        else resolve(data instanceof Buffer && data.length >= 2 ? data.toString('utf16le', 2, data[0]) : null);
      });
    } catch (err) {
      reject(err);
    }
  });
}
