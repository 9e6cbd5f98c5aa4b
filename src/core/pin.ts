// Pins (the get_driver / put_driver design Linux never adopted). getDriver() returns a pin only
// while the driver is registered; a pin blocks the driver's unregistration from completing
// until it is put back. Attaching a driver takes a pin, so an unpinned attach does not compile.
import { debugEnabled } from '../log.ts';
import { PinError } from './errors.ts';
import type { AnyDriver } from './driver.ts';
import { driverInternals } from './internal.ts';

let nextPinId = 1;

export class DriverPin<Drv extends AnyDriver = AnyDriver> implements Disposable {
  readonly id = nextPinId++;
  /** Where the pin was taken: a label, plus the call stack in debug mode. */
  readonly takenAt: string;

  /** @internal only getDriver() makes pins. */
  constructor(
    readonly driver: Drv,
    label: string | undefined,
    token: typeof pinToken,
  ) {
    if (token !== pinToken) throw new PinError('pins are made by getDriver(), not by hand');
    this.takenAt = label ?? (debugEnabled() ? callSite() : 'unknown (set LOG_LEVEL=debug for call sites)');
  }

  get returned(): boolean {
    return returnedPins.has(this);
  }

  /** `using pin = getDriver(d)` puts the pin back at the end of the scope (a no-op if put already). */
  [Symbol.dispose](): void {
    if (!this.returned) putDriver(this);
  }
}

const pinToken = Symbol('pin');
/** Pins put back; only putDriver adds to it. */
const returnedPins = new WeakSet<DriverPin>();

/**
 * Pins a driver: null unless it is registered. The caller must put the pin back (putDriver, or
 * `using`); until then the driver's unregistration cannot complete.
 */
export function getDriver<Drv extends AnyDriver>(driver: Drv, label?: string): DriverPin<Drv> | null {
  const internals = driverInternals(driver);
  if (internals.state !== 'registered') return null;
  const pin = new DriverPin(driver, label, pinToken);
  internals.pins.add(pin);
  return pin;
}

/**
 * A second pin on the driver of a pin still held (Linux's get_driver on a driver already
 * referenced): taken even while the driver unregisters, since the held pin keeps that
 * unregistration waiting. Core-internal: index.ts does not export it.
 */
export function pinAlongside<Drv extends AnyDriver>(held: DriverPin<Drv>, label: string): DriverPin<Drv> {
  if (held.returned) throw new PinError(`pin #${held.id} on driver '${held.driver.name}' was already put back (taken at ${held.takenAt})`);
  const pin = new DriverPin(held.driver, label, pinToken);
  driverInternals(held.driver).pins.add(pin);
  return pin;
}

/** Puts a pin back. Putting the same pin twice is an error (PinError). */
export function putDriver(pin: DriverPin): void {
  if (!(pin instanceof DriverPin)) throw new PinError('putDriver() takes a pin from getDriver()');
  if (pin.returned) {
    throw new PinError(`pin #${pin.id} on driver '${pin.driver.name}' was already put back (taken at ${pin.takenAt})`);
  }
  returnedPins.add(pin);
  const internals = driverInternals(pin.driver);
  internals.pins.delete(pin);
  if (internals.pins.size === 0 && internals.pinsDrained) {
    const drained = internals.pinsDrained;
    internals.pinsDrained = null;
    drained();
  }
}

function callSite(): string {
  const stack = new Error().stack?.split('\n') ?? [];
  // Skip "Error", this function, the constructor and getDriver: the caller comes next.
  const frames = stack.slice(4).map((l) => l.trim());
  return frames.slice(0, 3).join(' <- ') || 'unknown';
}
