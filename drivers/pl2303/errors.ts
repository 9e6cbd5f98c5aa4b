// The errors the pl2303 driver raises beyond the generic layer's (stalls are Pl2303StallError,
// in types.ts, because detection uses them too).

/** A control request the chip did not complete. */
export class Pl2303TransferError extends Error {
  override readonly name = 'Pl2303TransferError';
  constructor(
    readonly request: string,
    readonly status: USBTransferStatus | 'short',
    detail: string,
  ) {
    super(`PL2303 ${request} failed: ${detail}`);
  }
}

/** The interface lacks an endpoint the driver needs. */
export class Pl2303EndpointError extends Error {
  override readonly name = 'Pl2303EndpointError';
  constructor(
    readonly interfaceName: string,
    readonly missing: string,
    hint = '',
  ) {
    super(`PL2303 on ${interfaceName}: required ${missing} endpoint missing${hint}`);
  }
}

/** GET_LINE read back something other than what SET_LINE sent: the chip did not take the settings. */
export class Pl2303LineSettingsError extends Error {
  override readonly name = 'Pl2303LineSettingsError';
  constructor(
    readonly sent: Uint8Array,
    readonly readBack: Uint8Array,
  ) {
    super(`PL2303 did not take the line settings: sent [${hex(sent)}], GET_LINE reads [${hex(readBack)}]`);
  }
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}
