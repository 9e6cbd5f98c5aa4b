// The CH341 driver's public surface: the serial driver, its ID table, and the pure chip logic
// (baud and LCR encoders, requests and registers, modem status parser).
export {
  createCh341Driver,
  ch341Driver,
  ch341DriverSet,
  registerCh341,
  ch341AdapterOf,
  CH341_DRIVER_NAME,
  CH341_ID_TABLE,
  CH341_SIMULATED_BREAK_MS,
  Ch341RequestError,
  Ch341EndpointError,
  type Ch341Adapter,
  type Ch341Endpoints,
  type Ch341Quirks,
  type Ch341DriverOptions,
} from './driver.ts';
export { encodeCh341Baud, ch341ClockDivider, Ch341BaudError, CH341_CLOCK, CH341_MIN_BPS, CH341_MAX_BPS, CH341_BAUD_NO_WAIT, type Ch341BaudEncoding, type Ch341BaudOptions } from './baud.ts';
export { encodeCh341Lcr, decodeCh341Lcr, Ch341LcrError, CH341_LCR, CH341_LCR_MIN_VERSION, type Ch341Framing, type Ch341Parity } from './lcr.ts';
export { CH341_REQUEST, CH341_REG, CH341_NBREAK_BITS } from './requests.ts';
export { decodeCh341ModemByte, parseCh341InterruptStatus, encodeCh341ModemControl, CH341_MODEM_IN, CH341_MODEM_OUT, CH341_MULT_STAT, type Ch341ModemStatus, type Ch341InterruptStatus } from './status.ts';
