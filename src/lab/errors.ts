// The lab layer's errors: a lab file that does not describe a lab (naming the field), a usbip
// command that failed (naming the command and what it said), and a dongle the lab cannot reach.

/** The lab description is wrong; `field` names where (`hosts[1].dongles[0].busid`). */
export class LabFileError extends Error {
  override readonly name = 'LabFileError';
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly source = 'lab file',
  ) {
    super(`${source}: ${field === '' ? '' : `${field}: `}${problem}`);
  }
}

/** A `usbip` command exited non-zero (or could not start); `detail` is its last error line. */
export class UsbipCommandError extends Error {
  override readonly name = 'UsbipCommandError';
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly detail: string,
  ) {
    super(`${argv.join(' ')} failed${exitCode === null ? '' : ` (exit ${exitCode})`}: ${detail}`);
  }
}

/** A lab operation that cannot be done: an unknown dongle, a device the exporter does not offer. */
export class LabError extends Error {
  override readonly name = 'LabError';
}
