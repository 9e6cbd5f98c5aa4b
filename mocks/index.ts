// usb-serial-harness/mocks: the emulated USB lab. Chip emulations (FTDI, PL2303) add their
// exports below the base ones.
export {
  defineDevice,
  bcdVersion,
  toWebUsbConfiguration,
  toWebUsbEndpoint,
  encodeDeviceDescriptor,
  encodeConfigurationDescriptor,
  encodeStringDescriptor,
  encodeLangIds,
  findEndpoint,
  DescriptorType,
} from './descriptors.ts';
export type {
  DeviceDescriptor,
  ConfigurationDescriptor,
  InterfaceDescriptor,
  AlternateSettingDescriptor,
  EndpointDescriptor,
  EndpointTransferType,
  DeviceSpec,
  ConfigurationSpec,
  InterfaceSpec,
  AlternateSpec,
  EndpointSpec,
  InterfaceStateSource,
} from './descriptors.ts';

export { MockUsbDevice } from './device.ts';
export type { MockUsbDeviceOptions, ResourceReport } from './device.ts';
export { decodeSetup, encodeRequestType } from './emulation.ts';
export type { MockBehaviour, MockDeviceContext, ControlSetup, ControlReply, InReply, OutReply } from './emulation.ts';
export type { TransferOptions } from './endpoint-pipes.ts';

export { TransferLog } from './transfer-log.ts';
export type { TransferLogEntry, TransferLogOptions, TransferKind, SetupFields } from './transfer-log.ts';

export { FaultInjector } from './faults.ts';
export type { FaultSpec, FaultKind, FaultRule, FiredFault } from './faults.ts';

export { MockUsbHost, MockWebUsb, MockKernelDriver, MockUsbConnectionEvent, parsePortPath, filterMatches } from './host.ts';
export type { MockHostDevice, MockUsbHostOptions, PlugOptions, MockKernelDriverOptions, KernelDriverRecord } from './host.ts';

export { UartPort, loopbackPlug, nullModem, simulateLine, bitsPerChar, DEFAULT_LINE_SETTINGS } from './uart.ts';
export type {
  LineSettings,
  Parity,
  LineErrorKind,
  RxErrorMark,
  RxChunk,
  OutputPins,
  InputPins,
  UartStats,
  UartPortOptions,
  Wire,
} from './uart.ts';

export { parseLsusb, parseLsusbAll, mockDeviceFromLsusb } from './lsusb.ts';
export type { LsusbDevice } from './lsusb.ts';

export {
  MockLabError,
  DescriptorError,
  AlreadyPluggedError,
  NotPluggedError,
  PortPathError,
  FaultSpecError,
  KernelDriverError,
  UartError,
  LsusbParseError,
  TransferLimitError,
  webUsbError,
} from './errors.ts';
export type { WebUsbErrorName } from './errors.ts';

export * from './ftdi/index.ts';
export * from './pl2303/index.ts';
export { createMockLab, createScaledLab, MockLab, defaultLabOptions, scaledLabOptions } from './lab.ts';
export type { MockLabOptions, LabDongleSpec, LabPortSpec, LabWireSpec, LabHubSpec, LabDriverSet, LabDongle, DongleResources, ScaledLabShape } from './lab.ts';
export * from './replay/index.ts';
export * from './cp210x/index.ts';
export * from './ch34x/index.ts';
export * from './cdc-acm/index.ts';
