// Emulated FTDI devices: descriptors as each part reports them plus the chip behind them, one
// factory per generation, and a builder from `lsusb -v` text of a real part.
import type { FtdiChip } from '../../drivers/ftdi/chips.ts';
import { defineDevice, type ConfigurationSpec, type DeviceDescriptor, type DeviceSpec } from '../descriptors.ts';
import { MockUsbDevice, type MockUsbDeviceOptions } from '../device.ts';
import { parseLsusb } from '../lsusb.ts';
import type { UartPort } from '../uart.ts';
import { FtdiChipEmulation, FtdiEmulationError, type FtdiEmulatedChannel } from './chip.ts';
import { FTDI_PARTS, ftdiPartFor, type FtdiPart } from './parts.ts';

export interface MockFtdiOptions {
  /** OEM IDs (default 0403 and the part's PID). */
  idVendor?: number;
  idProduct?: number;
  /** Report another bcdDevice than the part's (e.g. one no FTDI part uses). */
  bcdDevice?: number;
  manufacturer?: string | null;
  product?: string | null;
  /**
   * null: no serial number (iSerialNumber 0). An FT232BM then reports bcdDevice 0x200, as the
   * real part does. Default: a made-up 8-character serial, unique per process.
   */
  serialNumber?: string | null;
  /** Bulk wMaxPacketSize, e.g. 64 for an H part on a full-speed port (default: the part's). */
  packetSize?: number;
  /** Pace the UARTs at their baud rate (default false). */
  pacing?: boolean;
  /** Options of the MockUsbDevice (transfer log, timeouts). */
  device?: MockUsbDeviceOptions;
}

/** An emulated FTDI device: the USB side (`device`) and the chip with its UART channels. */
export class MockFtdi {
  constructor(
    readonly device: MockUsbDevice,
    readonly chip: FtdiChipEmulation,
  ) {}

  get part(): FtdiPart {
    return this.chip.part;
  }

  /** Channel `index` (0 is channel A). */
  channel(index = 0): FtdiEmulatedChannel {
    return this.chip.channel(index);
  }

  /** The UART pins of channel `index`, for wires (loopbackPlug, nullModem). */
  uart(index = 0): UartPort {
    return this.chip.channel(index).uart;
  }
}

let serials = 0;

function nextSerial(): string {
  serials++;
  return `FTM${serials.toString(36).toUpperCase().padStart(5, '0')}`;
}

/** The descriptor set of a part (with options applied). */
export function ftdiDeviceSpec(part: FtdiPart, opts: MockFtdiOptions = {}): DeviceSpec {
  const serial = opts.serialNumber === undefined ? nextSerial() : opts.serialNumber;
  // FT232BM bug: without a serial number the part reports the AM's bcdDevice.
  const bcdDevice = opts.bcdDevice ?? (part.chip === 'FT232BM' && serial === null ? 0x0200 : part.bcdDevice);
  const size = opts.packetSize ?? part.packetSize;
  const product = opts.product === undefined ? part.product : opts.product;
  const config: ConfigurationSpec = {
    bConfigurationValue: 1,
    bmAttributes: part.bmAttributes,
    maxPowerMa: part.maxPowerMa,
    interfaces: Array.from({ length: part.channels }, (_, i) => ({
      bInterfaceNumber: i,
      bInterfaceClass: 0xff,
      bInterfaceSubClass: 0xff,
      bInterfaceProtocol: 0xff,
      // Real parts point iInterface at the product string.
      interfaceName: product ?? undefined,
      endpoints: [
        { bEndpointAddress: 0x81 + 2 * i, type: 'bulk' as const, wMaxPacketSize: size },
        { bEndpointAddress: 0x02 + 2 * i, type: 'bulk' as const, wMaxPacketSize: size },
      ],
    })),
  };
  return {
    idVendor: opts.idVendor ?? 0x0403,
    idProduct: opts.idProduct ?? part.idProduct,
    bcdUSB: part.bcdUSB,
    bMaxPacketSize0: part.bMaxPacketSize0,
    bcdDevice,
    manufacturer: opts.manufacturer === undefined ? 'FTDI' : opts.manufacturer,
    product,
    serialNumber: serial,
    iSerialNumber: serial === null ? 0 : undefined,
    configurations: [config],
  };
}

function create(part: FtdiPart, descriptor: DeviceDescriptor, opts: { pacing?: boolean; device?: MockUsbDeviceOptions }): MockFtdi {
  const chip = new FtdiChipEmulation(part, descriptor, { pacing: opts.pacing });
  return new MockFtdi(new MockUsbDevice(descriptor, chip, opts.device), chip);
}

/** An emulated FTDI part of the given generation. */
export function mockFtdi(chip: FtdiChip, opts: MockFtdiOptions = {}): MockFtdi {
  const part = FTDI_PARTS[chip];
  if (!part) throw new FtdiEmulationError(`no emulated FTDI part '${String(chip)}'`);
  return create(part, defineDevice(ftdiDeviceSpec(part, opts)), opts);
}

// One factory per generation.
export const mockSio = (opts?: MockFtdiOptions) => mockFtdi('SIO', opts);
export const mockFt232am = (opts?: MockFtdiOptions) => mockFtdi('FT232AM', opts);
export const mockFt232bm = (opts?: MockFtdiOptions) => mockFtdi('FT232BM', opts);
export const mockFt2232c = (opts?: MockFtdiOptions) => mockFtdi('FT2232C', opts);
export const mockFt232r = (opts?: MockFtdiOptions) => mockFtdi('FT232R', opts);
export const mockFt2232h = (opts?: MockFtdiOptions) => mockFtdi('FT2232H', opts);
export const mockFt4232h = (opts?: MockFtdiOptions) => mockFtdi('FT4232H', opts);
export const mockFt232h = (opts?: MockFtdiOptions) => mockFtdi('FT232H', opts);
export const mockFtX = (opts?: MockFtdiOptions) => mockFtdi('FT-X', opts);
export const mockFt2233hp = (opts?: MockFtdiOptions) => mockFtdi('FT2233HP', opts);
export const mockFt4233hp = (opts?: MockFtdiOptions) => mockFtdi('FT4233HP', opts);
export const mockFt2232hp = (opts?: MockFtdiOptions) => mockFtdi('FT2232HP', opts);
export const mockFt4232hp = (opts?: MockFtdiOptions) => mockFtdi('FT4232HP', opts);
export const mockFt233hp = (opts?: MockFtdiOptions) => mockFtdi('FT233HP', opts);
export const mockFt232hp = (opts?: MockFtdiOptions) => mockFtdi('FT232HP', opts);
export const mockFt4232ha = (opts?: MockFtdiOptions) => mockFtdi('FT4232HA', opts);

export const MOCK_FTDI_FACTORIES: Readonly<Record<FtdiChip, (opts?: MockFtdiOptions) => MockFtdi>> = Object.freeze({
  SIO: mockSio,
  FT232AM: mockFt232am,
  FT232BM: mockFt232bm,
  FT2232C: mockFt2232c,
  FT232R: mockFt232r,
  FT2232H: mockFt2232h,
  FT4232H: mockFt4232h,
  FT232H: mockFt232h,
  'FT-X': mockFtX,
  FT2233HP: mockFt2233hp,
  FT4233HP: mockFt4233hp,
  FT2232HP: mockFt2232hp,
  FT4232HP: mockFt4232hp,
  FT233HP: mockFt233hp,
  FT232HP: mockFt232hp,
  FT4232HA: mockFt4232ha,
});

export interface MockFtdiFromDescriptorOptions {
  /**
   * The part behind the descriptor. Default: from bcdDevice (0x200 is an FT232AM; pass
   * 'FT232BM' for the BM with iSerialNumber 0).
   */
  chip?: FtdiChip;
  pacing?: boolean;
  device?: MockUsbDeviceOptions;
}

/** An emulated FTDI with a given descriptor set (e.g. a real part's, from lsusb). */
export function mockFtdiFromDescriptor(descriptor: DeviceSpec | DeviceDescriptor, opts: MockFtdiFromDescriptorOptions = {}): MockFtdi {
  const d = defineDevice(descriptor);
  const part = opts.chip ? FTDI_PARTS[opts.chip] : ftdiPartFor(d.bcdDevice);
  if (!part) {
    throw new FtdiEmulationError(`bcdDevice 0x${d.bcdDevice.toString(16).padStart(4, '0')} is no FTDI part the emulation knows; pass { chip } to choose one`);
  }
  return create(part, d, opts);
}

/** An emulated FTDI with the descriptors of `lsusb -v` text for a real part. */
export function mockFtdiFromLsusb(text: string, opts: MockFtdiFromDescriptorOptions = {}): MockFtdi {
  return mockFtdiFromDescriptor(parseLsusb(text), opts);
}
