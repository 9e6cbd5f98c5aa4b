// The cp210x driver's public surface: the serial driver, its ID table, and the pure chip logic
// (part detection, baud encoder, event parser, request encoders).
export {
  createCp210xDriver,
  cp210xDriver,
  cp210xDriverSet,
  registerCp210x,
  cp210xAdapterOf,
  CP210X_DRIVER_NAME,
  CP210X_BAUD_TOLERANCE,
  type Cp210xAdapter,
  type Cp210xEndpoints,
  type Cp210xDriverOptions,
} from './driver.ts';
export { Cp210xEndpointError } from './errors.ts';
export { CP210X_ID_TABLE, CP210X_VENDOR_ID } from './ids.ts';
export {
  encodeCp210xBaud,
  cp210xAn205Rate,
  cp210xActualRate,
  Cp210xBaudError,
  CP210X_BAUD_RANGES,
  CP210X_AN205_TABLE,
  type Cp210xBaudEncoding,
  type Cp210xBaudRange,
} from './baud.ts';
export { Cp210xEventParser, cp210xLsrFlag, CP210X_LSR, CP210X_ESCAPE_CHAR, type Cp210xByteFlag, type Cp210xParsed, type Cp210xEventCounts } from './events.ts';
export { CP210X_PARTNUM, CP210X_BAUD_PARTS, cp210xPartFromPartnum, cp210xBaudPart, type Cp210xFamily, type Cp210xBaudPart, type Cp210xPartInfo } from './parts.ts';
export {
  CP210X_REQ,
  CP210X_VENDOR,
  CP210X_PURGE,
  CP210X_MHS,
  CP210X_MDMSTS,
  CP210X_HANDSHAKE,
  CP210X_FLOW_REPLACE,
  CP210X_ESCCHAR,
  CP210X_XON_XOFF_LIMIT,
  encodeCp210xLineCtl,
  cp210xMhsValue,
  decodeCp210xModemStatus,
  cp210xLinesBeforeMsr,
  decodeCp210xFlow,
  encodeCp210xFlow,
  cp210xFlowFor,
  cp210xFlowLines,
  encodeCp210xChars,
  decodeCp210xCommStatus,
  type Cp210xFlowCtl,
  type Cp210xFlowTarget,
  type Cp210xCommStatus,
} from './requests.ts';
