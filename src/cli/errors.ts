// Exit codes and one-line error messages for the command line.
import { CoreError, NoUsbSubsystemError } from '../index.ts';

export const EXIT = {
  ok: 0,
  /** The check ran and failed (loopback mismatch, stress violations). */
  failed: 1,
  /** Bad usage: unknown port, a setting the chip cannot do, bad option values. */
  usage: 2,
  /** No USB here, or no permission to use it. */
  noUsb: 3,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The one line a user sees for an error, and the exit code that goes with it. */
export function describeError(err: unknown): { line: string; exitCode: number } {
  if (err instanceof CliError) return { line: err.message, exitCode: err.exitCode };
  if (err instanceof NoUsbSubsystemError) return { line: err.message, exitCode: EXIT.noUsb };
  const msg = err instanceof Error ? err.message : String(err);
  if (/LIBUSB_ERROR_ACCESS|EACCES|permission denied|SecurityError/i.test(msg)) {
    return {
      line: `${msg}: no permission to open the USB device; add a udev rule (see README "Real dongles") or run with --mock-lab`,
      exitCode: EXIT.noUsb,
    };
  }
  if (err instanceof CoreError) return { line: msg, exitCode: EXIT.usage };
  // Typed errors from drivers (a baud the chip cannot do, a parity it lacks) name the problem.
  if (err instanceof Error && err.name !== 'Error' && err.name !== 'TypeError') return { line: msg, exitCode: EXIT.usage };
  return { line: msg, exitCode: EXIT.failed };
}
