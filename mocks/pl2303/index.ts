// usb-serial-harness/mocks PL2303 emulation: emulated parts built from the part table, from
// descriptor data, or from `lsusb -v` text. Each is a MockUsbDevice (transfer log, faults,
// resources) whose behaviour is a Pl2303Chip with a UartPort to wire up.
import type { Pl2303Type } from '../../drivers/pl2303/types.ts';
import { defineDevice, type DeviceDescriptor, type DeviceSpec } from '../descriptors.ts';
import { MockUsbDevice, type MockUsbDeviceOptions } from '../device.ts';
import { MockLabError } from '../errors.ts';
import { parseLsusb } from '../lsusb.ts';
import { Pl2303Chip, type Pl2303ChipOptions } from './chip.ts';
import { pl2303DeviceSpec, pl2303PartInfo, pl2303TypeForDescriptor, type Pl2303Part } from './parts.ts';

export {
  Pl2303Chip,
  PL2303_EP_BULK_IN,
  PL2303_EP_BULK_OUT,
  PL2303_EP_INTERRUPT_IN,
  type Pl2303ChipFlow,
  type Pl2303ChipOptions,
  type Pl2303ChipRefusal,
  type Pl2303ChipStats,
} from './chip.ts';
export {
  PL2303_PARTS,
  PL2303_PART_NAMES,
  PL2303_ENDPOINTS,
  pl2303DeviceSpec,
  pl2303PartInfo,
  pl2303TypeForDescriptor,
  type Pl2303Part,
  type Pl2303PartInfo,
} from './parts.ts';
export { pl2303ChipBaud, Pl2303BaudRejected } from './baud-decode.ts';

export interface EmulatedPl2303 {
  readonly device: MockUsbDevice;
  readonly chip: Pl2303Chip;
}

export interface EmulatedPl2303Options {
  /** Descriptor fields on top of the part's (e.g. an OEM idVendor/idProduct, a serial number). */
  descriptor?: Partial<DeviceSpec>;
  /** Chip options beyond the type (UART pacing and FIFO, idle ZLP time, ...). */
  chip?: Omit<Pl2303ChipOptions, 'type' | 'clone'>;
  device?: MockUsbDeviceOptions;
}

/** An emulated PL2303 of a given part, with the descriptors that part reports. */
export function createPl2303(part: Pl2303Part, options: EmulatedPl2303Options = {}): EmulatedPl2303 {
  const info = pl2303PartInfo(part);
  const chip = new Pl2303Chip({
    uart: { rxFifoSize: info.rxFifo, ...options.chip?.uart },
    ...options.chip,
    type: info.type,
    clone: info.clone,
  });
  const device = new MockUsbDevice(pl2303DeviceSpec(part, options.descriptor), chip, options.device);
  return { device, chip };
}

export interface Pl2303FromDescriptorOptions {
  /**
   * The chip behaviour. Needed where the descriptor alone does not say (bcdUSB 2.00 with bcdDevice
   * 3.00 or 5.00 on an OEM product ID is a TA/TB or a G-series part: only the chip knows).
   */
  type?: Pl2303Type;
  /** An HXD clone (GET_LINE and BREAK stall). */
  clone?: boolean;
  chip?: Omit<Pl2303ChipOptions, 'type' | 'clone'>;
  device?: MockUsbDeviceOptions;
}

/** An emulated PL2303 from descriptor data (a DeviceSpec or a parsed descriptor set). */
export function pl2303FromDescriptor(
  descriptor: DeviceSpec | DeviceDescriptor,
  options: Pl2303FromDescriptorOptions = {},
): EmulatedPl2303 {
  const d = defineDevice(descriptor);
  const type = options.type ?? pl2303TypeForDescriptor(d);
  if (!type) {
    throw new MockLabError(
      `cannot tell which PL2303 type ${hex(d.idVendor)}:${hex(d.idProduct)} (bcdUSB ${hex(d.bcdUSB)}, ` +
        `bcdDevice ${hex(d.bcdDevice)}) is; pass { type }`,
    );
  }
  const chip = new Pl2303Chip({ ...options.chip, type, clone: options.clone ?? false });
  return { device: new MockUsbDevice(d, chip, options.device), chip };
}

/** An emulated PL2303 with the descriptors of `lsusb -v` text (one device). */
export function pl2303FromLsusb(text: string, options: Pl2303FromDescriptorOptions = {}): EmulatedPl2303 {
  return pl2303FromDescriptor(parseLsusb(text), options);
}

function hex(n: number): string {
  return n.toString(16).padStart(4, '0');
}
