// ftdi_sio's ID table (Linux: ftdi_sio_ids.h, the IDs bound by default).
import { usbDevice, type UsbDeviceId } from '../../src/serial/driver-api.ts';

export const FTDI_VID = 0x0403;

/** The product IDs the driver binds by default. */
export const FTDI_PIDS = Object.freeze({
  /** FT232AM, FT232BM, FT232R */
  FT232: 0x6001,
  /** FT2232C/D, FT2232H */
  FT2232: 0x6010,
  FT4232H: 0x6011,
  FT232H: 0x6014,
  /** FT-X series (FT230X, FT231X, ...) */
  FTX: 0x6015,
  FT2233HP: 0x6040,
  FT4233HP: 0x6041,
  FT2232HP: 0x6042,
  FT4232HP: 0x6043,
  FT233HP: 0x6044,
  FT232HP: 0x6045,
  FT4232HA: 0x6048,
  /** The original SIO (FT8U100AX) */
  SIO: 0x8372,
  /** FT232RL */
  FT232RL: 0xfbfa,
  /** Counterfeit chips whose PID a vendor driver zeroed */
  ZEROED: 0x0000,
});

export const FTDI_IDS: readonly UsbDeviceId[] = Object.freeze(Object.values(FTDI_PIDS).map((pid) => usbDevice(FTDI_VID, pid)));
