// ftdi_sio: the FTDI usb-serial driver and the pure logic under it (chip detection, baud
// encoding, request encoders, bulk IN parsing), usable without a device.
export { ftdiDriver, ftdiSerialDriver, ftdiDriverSet, registerFtdi, ftdiAdapterOf, frameSioOut, FTDI_DRIVER_NAME, type FtdiAdapter } from './driver.ts';
export { ftdiPort, type FtdiPortControl } from './port-control.ts';
export { FTDI_IDS, FTDI_PIDS, FTDI_VID } from './ids.ts';
export { FtdiControlError, FtdiUnsupportedError, FtdiProbeError, FtdiPortError } from './errors.ts';

export {
  detectFtdiChip,
  ftdiChannel,
  ftdiChipInfo,
  checkFtdiChannel,
  FTDI_CHIPS,
  FTDI_CHIP_LIST,
  UnsupportedFtdiChipError,
  FtdiChannelError,
} from './chips.ts';
export type { FtdiChip, FtdiChipInfo, FtdiClockFamily } from './chips.ts';

export { encodeFtdiBaud, FtdiBaudError, FTDI_BAUD_TOLERANCE, FTDI_SIO_RATES } from './baud.ts';
export type { FtdiBaudSetting } from './baud.ts';

export {
  FTDI_REQUEST,
  FTDI_REQUEST_TYPE_IN,
  FTDI_REQUEST_TYPE_OUT,
  FTDI_RESET,
  FTDI_FLOW,
  FTDI_SET_DATA_BREAK,
  FTDI_DEFAULT_XON,
  FTDI_DEFAULT_XOFF,
  FtdiRequestError,
  ftdiSetupPacket,
  ftdiSetDataValue,
  encodeReset,
  encodePurge,
  encodeSetData,
  encodeModemCtrl,
  encodeFlowControl,
  encodeEventChar,
  encodeErrorChar,
  encodeSetLatencyTimer,
  encodeGetLatencyTimer,
  encodeGetModemStatus,
  encodeSetBaudRate,
} from './requests.ts';
export type { FtdiControlSetup, FtdiControlInSetup, FtdiParity, FtdiLineSettings, FtdiFlowControl } from './requests.ts';

export {
  FTDI_MODEM_STATUS,
  FTDI_LINE_STATUS,
  FtdiPacketSizeError,
  parseFtdiBulkIn,
  parseFtdiModemStatus,
  parseFtdiLineStatus,
} from './status.ts';
export type { FtdiModemStatus, FtdiLineStatus, FtdiLineError, FtdiLineErrorKind, FtdiBulkIn } from './status.ts';
