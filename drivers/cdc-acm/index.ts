// The CDC-ACM class driver's public surface: the serial driver, its ID table, and the pure class
// logic (descriptor walk and function finder, line coding, quirks, SERIAL_STATE notifications).
export {
  createCdcAcmDriver,
  cdcAcmDriver,
  cdcAcmDriverSet,
  registerCdcAcm,
  cdcAcmAdapterOf,
  CDC_ACM_DRIVER_NAME,
  CDC_ACM_ID_TABLE,
  ACM_REQUEST,
  AcmRequestError,
  type AcmIdInfo,
  type CdcAcmAdapter,
  type CdcAcmDriverOptions,
} from './driver.ts';
export * from './descriptors.ts';
export * from './line-coding.ts';
export * from './quirks.ts';
export * from './serial-state.ts';
