// The errors ftdi_sio raises beyond the generic layer's.
import type { FtdiChip } from './chips.ts';

/** The chip refused (stalled) a request, or answered it wrongly. */
export class FtdiControlError extends Error {
  override readonly name = 'FtdiControlError';
  constructor(
    readonly chip: FtdiChip,
    readonly request: string,
    readonly setup: { request: number; value: number; index: number },
    readonly status: string,
  ) {
    super(`${chip}: ${request} (wValue 0x${hex(setup.value)}, wIndex 0x${hex(setup.index)}) answered ${status}`);
  }
}

/** The chip has no such feature (e.g. the latency timer of the SIO and the FT232AM). */
export class FtdiUnsupportedError extends Error {
  override readonly name = 'FtdiUnsupportedError';
}

/** The interface is not one the driver can drive (no bulk endpoints, not an FTDI port). */
export class FtdiProbeError extends Error {
  override readonly name = 'FtdiProbeError';
}

/** ftdiPort() of a port that ftdi_sio does not drive. */
export class FtdiPortError extends Error {
  override readonly name = 'FtdiPortError';
}

function hex(n: number): string {
  return n.toString(16).padStart(4, '0');
}
