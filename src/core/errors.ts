// Typed errors of the driver model. Each carries a Linux-style `code` so that tools (the CLI,
// the attribute tree) can report them the way sysfs users expect, and a message naming the problem.

export type CoreErrorCode =
  | 'EINVAL' // malformed input
  | 'ENODEV' // no such device / no match / not registered
  | 'ENOENT' // no such attribute
  | 'EEXIST' // duplicate name or ID
  | 'EBUSY' // already bound / in the wrong state
  | 'EACCES' // attribute not readable or not writable
  | 'EPROBE' // probe failed
  | 'EREG'; // registration failed part-way

export class CoreError extends Error {
  constructor(
    readonly code: CoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The driver is not in the state the operation needs (e.g. unregistering an unregistered driver). */
export class DriverStateError extends CoreError {
  constructor(
    readonly driver: string,
    readonly state: string,
    wanted: string,
  ) {
    super('EBUSY', `driver '${driver}' is ${state}; ${wanted}`);
  }
}

export class DuplicateNameError extends CoreError {
  constructor(
    readonly kind: 'driver' | 'device' | 'bus',
    readonly duplicate: string,
    where: string,
  ) {
    super('EEXIST', `a ${kind} named '${duplicate}' already exists on ${where}`);
  }
}

/** Registration failed at `step`; everything done before it was rolled back. */
export class RegistrationError extends CoreError {
  constructor(
    readonly driver: string,
    readonly step: RegistrationStep,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super('EREG', `registering driver '${driver}' failed at ${step}: ${why} (rolled back)`, { cause });
  }
}

export type RegistrationStep = 'name' | 'bus' | 'attributes' | 'hook';

export class PinError extends CoreError {
  constructor(message: string) {
    super('EINVAL', message);
  }
}

/** Bad text written to new_id / remove_id, naming what is wrong with it. */
export class IdParseError extends CoreError {
  constructor(
    readonly input: string,
    readonly problem: string,
  ) {
    super('EINVAL', `invalid ID '${input.trim()}': ${problem}`);
  }
}

export class NoSuchDeviceError extends CoreError {
  constructor(message: string) {
    super('ENODEV', message);
  }
}

export class BusyError extends CoreError {
  constructor(message: string) {
    super('EBUSY', message);
  }
}

export class AttrError extends CoreError {
  constructor(
    code: CoreErrorCode,
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * Thrown by a driver's probe to say "not mine" (Linux: -ENODEV / -ENXIO): quiet, the next
 * driver is tried.
 */
export class ProbeNoMatch extends Error {
  override readonly name = 'ProbeNoMatch';
  constructor(reason = 'driver declined the device') {
    super(reason);
  }
}

/**
 * Thrown by a driver's probe to say "not yet" (Linux: -EPROBE_DEFER): the device is parked
 * and probed again after any later successful bind.
 */
export class ProbeDefer extends Error {
  override readonly name = 'ProbeDefer';
  constructor(reason = 'probe deferred') {
    super(reason);
  }
}
