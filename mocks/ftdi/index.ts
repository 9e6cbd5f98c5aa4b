// The emulated FTDI chips (usb-serial-harness/mocks adds these to its exports).
export { FtdiDivisorRejected, ftdiChipBaudFromDivisor } from './clock.ts';
export type { FtdiChipBaud } from './clock.ts';
export { FTDI_PARTS, FTDI_PART_LIST, ftdiPartFor } from './parts.ts';
export type { FtdiPart, FtdiGeneration } from './parts.ts';
export { FtdiChipEmulation, FtdiEmulatedChannel, FtdiEmulationError } from './chip.ts';
export type { FtdiChannelState, FtdiChannelStats, FtdiChipEmulationOptions, FtdiFlowMode, FtdiStallRecord } from './chip.ts';
export {
  MockFtdi,
  MOCK_FTDI_FACTORIES,
  ftdiDeviceSpec,
  mockFtdi,
  mockFtdiFromDescriptor,
  mockFtdiFromLsusb,
  mockSio,
  mockFt232am,
  mockFt232bm,
  mockFt2232c,
  mockFt232r,
  mockFt2232h,
  mockFt4232h,
  mockFt232h,
  mockFtX,
  mockFt2233hp,
  mockFt4233hp,
  mockFt2232hp,
  mockFt4232hp,
  mockFt233hp,
  mockFt232hp,
  mockFt4232ha,
} from './devices.ts';
export type { MockFtdiOptions, MockFtdiFromDescriptorOptions } from './devices.ts';
