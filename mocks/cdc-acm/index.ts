// usb-serial-harness/mocks CDC-ACM emulation: boards (an Uno-style ACM device, a Pico with an IAD
// and a vendor interface, a device without a union descriptor), each a MockUsbDevice whose
// behaviour is a CdcAcmChip with a UartPort.
import { MockUsbDevice, type MockUsbDeviceOptions } from '../device.ts';
import type { DeviceSpec } from '../descriptors.ts';
import { parseLsusb } from '../lsusb.ts';
import { cdcAcmBoardInfo, cdcAcmDeviceSpec, type CdcAcmBoard } from './boards.ts';
import { CdcAcmChip, type CdcAcmChipOptions } from './chip.ts';

export { CdcAcmChip, type CdcAcmChipOptions, type CdcAcmChipRefusal } from './chip.ts';
export { CDC_ACM_BOARDS, CDC_ACM_BOARD_NAMES, cdcAcmBoardInfo, cdcAcmDeviceSpec, type CdcAcmBoard, type CdcAcmBoardInfo } from './boards.ts';

export interface EmulatedCdcAcm {
  readonly device: MockUsbDevice;
  readonly chip: CdcAcmChip;
}

export interface EmulatedCdcAcmOptions {
  /** Descriptor fields on top of the board's (the interface layout must stay the board's). */
  descriptor?: Partial<DeviceSpec>;
  chip?: CdcAcmChipOptions;
  device?: MockUsbDeviceOptions;
}

export function createCdcAcm(board: CdcAcmBoard, options: EmulatedCdcAcmOptions = {}): EmulatedCdcAcm {
  const chip = new CdcAcmChip(cdcAcmBoardInfo(board), options.chip);
  return { device: new MockUsbDevice(cdcAcmDeviceSpec(board, options.descriptor), chip, options.device), chip };
}

/** An emulated ACM board with the descriptors of `lsusb -v` text; the board says where its interfaces and endpoints are. */
export function cdcAcmFromLsusb(text: string, board: CdcAcmBoard, options: Omit<EmulatedCdcAcmOptions, 'descriptor'> = {}): EmulatedCdcAcm {
  const chip = new CdcAcmChip(cdcAcmBoardInfo(board), options.chip);
  return { device: new MockUsbDevice(parseLsusb(text), chip, options.device), chip };
}
