// A bus: its devices and drivers, matching, registration and unregistration, autoprobe and
// "probe this device now", and its directory in the attribute tree
// (Linux: drivers/base/bus.c and driver.c). Probing itself lives in binding.ts.
import { childLog } from '../log.ts';
import type { Attribute } from './attrs.ts';
import { attachDevice, bindDeviceDriver, driverAttach, reallyProbe, releaseDevice } from './binding.ts';
import type { Device } from './device.ts';
import type { Driver } from './driver.ts';
import {
  BusyError,
  CoreError,
  DriverStateError,
  DuplicateNameError,
  NoSuchDeviceError,
  RegistrationError,
  type RegistrationStep,
} from './errors.ts';
import { MatchIndex, type MatchKeys } from './match.ts';
import { defaultModel, type DriverModel } from './model.ts';
import { driverInternals, setBusInternals, type BusInternals } from './internal.ts';
import { getDriver, putDriver } from './pin.ts';
import type { UeventAction } from './uevents.ts';

const log = childLog('core.bus');

/** What makes a bus type: how its IDs match devices, and what its new_id syntax is. */
export interface BusType<D extends Device, Id> extends MatchKeys<D, Id> {
  readonly name: string;
  /**
   * Parses a new_id write. `staticIds` is the driver's own table, for reference entries.
   * Throws IdParseError naming the problem. Without it the bus has no new_id.
   */
  parseNewId?(text: string, staticIds: readonly Id[]): Id;
  /** Parses a remove_id write into a predicate selecting the dynamic IDs to drop. */
  parseRemoveId?(text: string): (id: Id) => boolean;
  /** How new_id reads back one ID (one per line). */
  formatId?(id: Id): string;
  /** Refuses a driver by throwing (Linux: the bus's own checks in bus_add_driver). */
  checkDriver?(driver: Driver<D, Id>): void;
  /** Wraps the driver's probe (Linux: bus->probe), e.g. to claim resources first. */
  probe?(device: D, driver: Driver<D, Id>, id: Id | null): Promise<void>;
  /** Wraps the driver's remove (Linux: bus->remove). */
  remove?(device: D, driver: Driver<D, Id>): Promise<void>;
  /** The uevent environment of a device. */
  uevent?(device: D): Record<string, string>;
}

export interface BusOptions {
  model?: DriverModel;
}

const OVERRIDE_MAX = 4095; // Linux refuses a driver_override of a page or more
let nextDriverSeq = 1;

export class Bus<D extends Device = Device, Id = unknown> {
  readonly name: string;
  readonly model: DriverModel;
  /** Linux: drivers_autoprobe. Off: new devices and drivers are not matched automatically. */
  autoprobe = true;
  readonly #devices = new Map<string, D>();
  /** #devices in seq order, rebuilt after an add or a removal (listDevices runs far more often). */
  #bySeq: D[] | null = null;
  readonly #drivers = new Map<string, Driver<D, Id>>();
  readonly #index: MatchIndex<D, Id>;
  readonly #removals = new Map<D, Promise<void>>();

  constructor(
    readonly type: BusType<D, Id>,
    options: BusOptions = {},
  ) {
    this.name = type.name;
    this.model = options.model ?? defaultModel;
    if (!this.model.claimBusName(this.name)) {
      throw new DuplicateNameError('bus', this.name, 'this driver model');
    }
    this.#index = new MatchIndex(type);
    this.model.attrs.addDir(`${this.path}/devices`);
    this.model.attrs.addDir(`${this.path}/drivers`);
    this.model.attrs.add(`${this.path}/drivers_autoprobe`, {
      show: () => (this.autoprobe ? '1' : '0'),
      store: (v) => {
        const t = v.trim();
        if (t !== '0' && t !== '1') throw new CoreError('EINVAL', `drivers_autoprobe takes 0 or 1, not '${t}'`);
        this.autoprobe = t === '1';
      },
    });
    this.model.attrs.add(`${this.path}/drivers_probe`, {
      store: async (v) => {
        const dev = this.requireDevice(v.trim());
        await this.probeDevice(dev);
      },
    });
    const internals: BusInternals<D, Id> = {
      candidatesFor: (device) => this.#candidatesFor(device),
      matchFor: (device, driver) => this.#matchFor(device, driver),
      devicesFor: (driver) => this.#devicesFor(driver),
      replaceIdTable: (driver, ids) => this.#replaceIdTable(driver, ids),
      callProbe: (device, driver, id) => this.#callProbe(device, driver, id),
      callRemove: (device, driver) => this.#callRemove(device, driver),
      announceBinding: (action, device, driver) => this.announce(action, 'device', device.name, this.devicePath(device), driver.name, this.type.uevent?.(device)),
    };
    setBusInternals(this, internals as unknown as BusInternals);
  }

  get path(): string {
    return `bus/${this.name}`;
  }

  // ---- devices ----------------------------------------------------------------------------

  /** Adds a device: attributes, the 'add' uevent, then (with autoprobe) a probe. */
  async addDevice(device: D): Promise<void> {
    if (device.state !== 'detached') {
      throw new BusyError(`device '${device.name}' is ${device.state}; only a new device can be added`);
    }
    if (this.#devices.has(device.name)) throw new DuplicateNameError('device', device.name, `bus '${this.name}'`);
    device.bus = this;
    device.state = 'live';
    this.#devices.set(device.name, device);
    this.#bySeq = null;
    this.#index.addDevice(device);
    this.addDeviceAttrs(device);
    this.announce('add', 'device', device.name, this.devicePath(device), undefined, this.type.uevent?.(device));
    // Claimed by a driver before it was added (usb_driver_claim_interface on an interface not yet
    // registered): bound now without a probe, as Linux's __device_attach does when dev->driver is set.
    const claimer = device.driver as Driver<D, Id> | null;
    if (claimer) {
      bindDeviceDriver(this, device, claimer);
      return;
    }
    if (this.autoprobe) await attachDevice(this, device);
  }

  /**
   * Removes a device. Waits for a probe in progress to settle (the device lock), then releases
   * the driver (remove is called once), then takes the device off the bus.
   */
  removeDevice(device: D): Promise<void> {
    const running = this.#removals.get(device);
    if (running) return running;
    if (device.bus !== this || device.state !== 'live') {
      return Promise.reject(new NoSuchDeviceError(`device '${device.name}' is not on bus '${this.name}'`));
    }
    device.state = 'dying';
    this.model.deferred.drop(device);
    const removal = (async () => {
      await device.lock.run(() => releaseDevice(this, device));
      this.model.attrs.remove(this.devicePath(device));
      this.#index.removeDevice(device);
      this.#devices.delete(device.name);
      this.#bySeq = null;
      this.announce('remove', 'device', device.name, this.devicePath(device), undefined, this.type.uevent?.(device));
      device.state = 'dead';
      this.#removals.delete(device);
    })();
    this.#removals.set(device, removal);
    return removal;
  }

  /** Linux: drivers_probe. Probes now, whatever autoprobe says. */
  async probeDevice(device: D): Promise<boolean> {
    const outcome = await attachDevice(this, device);
    return outcome.kind === 'bound';
  }

  getDevice(name: string): D | undefined {
    return this.#devices.get(name);
  }

  listDevices(): D[] {
    this.#bySeq ??= [...this.#devices.values()].sort((a, b) => a.seq - b.seq);
    return this.#bySeq.slice();
  }

  // ---- drivers ----------------------------------------------------------------------------

  /**
   * Registers a driver. Steps: name, bus checks and ID index, attributes (+ 'add' uevent, so a
   * udev-like rule may write new_id now), the driver's `registered` hook; then the driver is
   * registered and (with autoprobe) attached to matching devices under a pin. A failure at any
   * step rolls back everything, dynamic IDs written meanwhile included, and rejects with
   * RegistrationError.
   */
  async registerDriver(driver: Driver<D, Id>): Promise<void> {
    if (driver.bus !== this) throw new CoreError('EINVAL', `driver '${driver.name}' belongs to bus '${driver.bus.name}'`);
    const internals = driverInternals(driver);
    if (internals.state !== 'unregistered') {
      throw new DriverStateError(driver.name, internals.state, 'only an unregistered driver can be registered');
    }
    internals.state = 'registering';
    let step: RegistrationStep = 'name';
    // What this registration created, so a rollback undoes that and nothing else: a name
    // already taken belongs to another driver, with its own directory (Linux: bus_add_driver's
    // error path unwinds only the steps it completed).
    let listed = false;
    let dirMade = false;
    let announced = false;
    try {
      if (this.#drivers.has(driver.name)) throw new DuplicateNameError('driver', driver.name, `bus '${this.name}'`);
      this.#drivers.set(driver.name, driver);
      listed = true;
      step = 'bus';
      this.type.checkDriver?.(driver);
      internals.regSeq = nextDriverSeq++;
      this.#index.addIds(driver, driver.idTable, false);
      step = 'attributes';
      dirMade = true;
      this.addDriverAttrs(driver);
      this.announce('add', 'driver', driver.name, this.driverPath(driver));
      announced = true;
      step = 'hook';
      await driver.methods.registered?.();
    } catch (err) {
      if (dirMade) this.model.attrs.remove(this.driverPath(driver));
      if (listed) {
        this.#index.removeIds(driver);
        const leaked = internals.dynIds.clear();
        if (leaked.length) log.debug({ driver: driver.name, freed: leaked.length }, 'freed dynamic IDs of failed registration');
        this.#drivers.delete(driver.name);
      }
      if (announced) this.announce('remove', 'driver', driver.name, this.driverPath(driver));
      internals.state = 'unregistered';
      throw new RegistrationError(driver.name, step, err);
    }
    internals.state = 'registered';
    if (this.autoprobe) await this.attachPinned(driver, 'core:registerDriver');
  }

  /**
   * Unregisters a driver. Its attributes go first, and getDriver() returns null from now on;
   * then it waits for every pin to be put back; then it releases every device bound to it
   * (remove once each, under each device lock); then frees its dynamic IDs. Once this resolves
   * no method of the driver runs again.
   */
  unregisterDriver(driver: Driver<D, Id>): Promise<void> {
    const internals = driverInternals(driver);
    if (internals.unregistration) return internals.unregistration;
    if (driver.bus !== this || internals.state !== 'registered') {
      return Promise.reject(new DriverStateError(driver.name, internals.state, 'only a registered driver can be unregistered'));
    }
    internals.state = 'unregistering';
    this.model.attrs.remove(this.driverPath(driver));
    const run = (async () => {
      try {
        await this.waitForPins(driver);
        while (internals.boundDevices.size > 0) {
          for (const device of [...internals.boundDevices]) {
            await device.lock.run(() => releaseDevice(this, device, driver));
          }
        }
        this.#index.removeIds(driver);
        internals.dynIds.clear();
        this.#drivers.delete(driver.name);
        this.announce('remove', 'driver', driver.name, this.driverPath(driver));
      } finally {
        internals.state = 'unregistered';
        internals.unregistration = null;
      }
    })();
    internals.unregistration = run;
    return run;
  }

  /** The registered (or registering/unregistering) driver of that name, unpinned. Pin it with getDriver(). */
  findDriver(name: string): Driver<D, Id> | undefined {
    return this.#drivers.get(name);
  }

  listDrivers(): Driver<D, Id>[] {
    return [...this.#drivers.values()];
  }

  // ---- core-internal (reached through internal.ts by binding.ts and Driver) --------------------

  #candidatesFor(device: D): { driver: Driver<D, Id>; id: Id | null }[] {
    if (device.driverOverride !== null) {
      const driver = this.#drivers.get(device.driverOverride);
      if (!driver) return [];
      return [{ driver, id: this.#index.matchDriver(device, driver) ?? null }];
    }
    return this.#index.driversFor(device);
  }

  #matchFor(device: D, driver: Driver<D, Id>): Id | null | undefined {
    if (device.driverOverride !== null) {
      if (device.driverOverride !== driver.name) return undefined;
      return this.#index.matchDriver(device, driver) ?? null;
    }
    return this.#index.matchDriver(device, driver);
  }

  #devicesFor(driver: Driver<D, Id>): D[] {
    const byId = this.#index.devicesFor(driver);
    const overridden = this.listDevices().filter((d) => d.driverOverride === driver.name);
    if (overridden.length === 0) return byId;
    return [...new Set([...byId, ...overridden])].sort((a, b) => a.seq - b.seq);
  }

  #replaceIdTable(driver: Driver<D, Id>, ids: readonly Id[]): void {
    if (driver.state === 'unregistered') return; // indexed at registration
    this.#index.removeIds(driver, (_id, dynamic) => !dynamic);
    this.#index.addIds(driver, ids, false);
  }

  async #callProbe(device: D, driver: Driver<D, Id>, id: Id | null): Promise<void> {
    if (this.type.probe) await this.type.probe(device, driver, id);
    else await driver.methods.probe(device, id);
  }

  async #callRemove(device: D, driver: Driver<D, Id>): Promise<void> {
    if (this.type.remove) await this.type.remove(device, driver);
    else await driver.methods.remove?.(device);
  }

  devicePath(device: D): string {
    return `${this.path}/devices/${device.name}`;
  }

  driverPath(driver: Driver<D, Id>): string {
    return `${this.path}/drivers/${driver.name}`;
  }

  // ---- private ----------------------------------------------------------------------------

  private async attachPinned(driver: Driver<D, Id>, label: string): Promise<number> {
    const pin = getDriver(driver, label);
    if (!pin) return 0;
    try {
      return await driverAttach(pin);
    } finally {
      putDriver(pin);
    }
  }

  private async waitForPins(driver: Driver<D, Id>): Promise<void> {
    const internals = driverInternals(driver);
    if (internals.pins.size === 0) return;
    const drained = new Promise<void>((resolve) => {
      internals.pinsDrained = resolve;
    });
    const report = () =>
      this.model.log.info(
        { driver: driver.name, pins: [...internals.pins].map((p) => ({ pin: p.id, takenAt: p.takenAt })) },
        'unregistration waits for pins to be put back',
      );
    report();
    const timer = setInterval(report, this.model.pinWaitLogMs);
    timer.unref?.();
    try {
      await drained;
    } finally {
      clearInterval(timer);
    }
  }

  private requireDevice(name: string): D {
    const dev = this.#devices.get(name);
    if (!dev || dev.state !== 'live') throw new NoSuchDeviceError(`no device '${name}' on bus '${this.name}'`);
    return dev;
  }

  private announce(
    action: UeventAction,
    kind: 'device' | 'driver',
    name: string,
    path: string,
    driver?: string,
    env: Record<string, string> = {},
  ): void {
    this.model.ueventBus.emit({ action, kind, bus: this.name, name, path, env, ...(driver ? { driver } : {}) });
  }

  private addDeviceAttrs(device: D): void {
    const dir = this.devicePath(device);
    const attrs = this.model.attrs;
    attrs.add(`${dir}/driver_override`, {
      show: () => device.driverOverride ?? '(null)',
      store: (v) => {
        if (v.length > OVERRIDE_MAX) throw new CoreError('EINVAL', `driver_override is longer than ${OVERRIDE_MAX} bytes`);
        const name = v.replace(/\n$/, '');
        if (/\s/.test(name)) throw new CoreError('EINVAL', `driver_override '${name}' contains white space`);
        device.driverOverride = name === '' ? null : name;
      },
    });
    attrs.add(`${dir}/driver`, { show: () => device.driver?.name ?? '' });
    attrs.add(`${dir}/uevent`, {
      show: () =>
        Object.entries(this.type.uevent?.(device) ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join('\n'),
    });
  }

  private addDriverAttrs(driver: Driver<D, Id>): void {
    const dir = this.driverPath(driver);
    const attrs = this.model.attrs;
    attrs.addDir(dir);
    const files: Record<string, Attribute> = {};
    if (!driver.noDynamicId && this.type.parseNewId) {
      files.new_id = {
        show: () => driverInternals(driver).dynIds.list().map((id) => this.idText(id)).join('\n'),
        store: (text) => this.storeNewId(driver, text),
      };
      files.remove_id = { store: (text) => this.storeRemoveId(driver, text) };
    }
    if (!driver.suppressBindAttrs) {
      files.bind = { store: (text) => this.storeBind(driver, text) };
      files.unbind = { store: (text) => this.storeUnbind(driver, text) };
    }
    for (const [name, attr] of Object.entries(driver.attributes)) {
      if (name in files) throw new DuplicateNameError('driver', `${driver.name}/${name}`, `bus '${this.name}' (a built-in attribute)`);
      files[name] = attr;
    }
    for (const [name, attr] of Object.entries(files)) attrs.add(`${dir}/${name}`, attr);
  }

  /**
   * new_id. The ID is stored synchronously, so a write from inside the uevent that announced
   * the file lands before registration goes on. While registering, the registration's own
   * attach binds through it once the driver is registered; once registered, we attach now
   * under a pin. Either way nothing probes through a half-registered driver.
   */
  storeNewId(driver: Driver<D, Id>, text: string): Promise<void> | void {
    if (driver.state !== 'registering' && driver.state !== 'registered') {
      throw new DriverStateError(driver.name, driver.state, 'new_id needs a registered driver');
    }
    return this.addDynamicId(driver, this.type.parseNewId!(text, driver.idTable));
  }

  /**
   * Adds a parsed dynamic ID (what new_id does after parsing; usb-serial forwards its serial
   * drivers' IDs to their usb driver through it). Refuses a duplicate. Attaches under a pin
   * when the driver is registered; while it registers, the registration's own attach will.
   */
  addDynamicId(driver: Driver<D, Id>, id: Id, options: { attach?: boolean } = {}): Promise<void> | void {
    if (driver.state !== 'registering' && driver.state !== 'registered') {
      throw new DriverStateError(driver.name, driver.state, 'dynamic IDs need a registered driver');
    }
    const key = this.idText(id);
    const dynIds = driverInternals(driver).dynIds;
    if (dynIds.list().some((x) => this.idText(x) === key)) {
      throw new CoreError('EEXIST', `driver '${driver.name}' already has dynamic ID ${key}`);
    }
    dynIds.add(id);
    this.#index.addIds(driver, [id], true);
    if (driver.state === 'registered' && this.autoprobe && options.attach !== false) {
      return this.attachPinned(driver, 'core:new_id').then(() => undefined);
    }
  }

  /** Removes dynamic IDs the predicate selects; returns how many. */
  removeDynamicIds(driver: Driver<D, Id>, select: (id: Id) => boolean): number {
    const removed = driverInternals(driver).dynIds.remove(select);
    if (removed.length) {
      const gone = new Set(removed);
      this.#index.removeIds(driver, (id, dynamic) => dynamic && gone.has(id));
    }
    return removed.length;
  }

  /** How an ID reads back (the bus's formatId, else JSON). */
  idText(id: Id): string {
    return this.type.formatId?.(id) ?? JSON.stringify(id);
  }

  storeRemoveId(driver: Driver<D, Id>, text: string): void {
    const select = this.type.parseRemoveId?.(text);
    if (!select) throw new CoreError('EINVAL', `bus '${this.name}' has no remove_id`);
    if (this.removeDynamicIds(driver, select) === 0) {
      throw new NoSuchDeviceError(`driver '${driver.name}' has no dynamic ID '${text.trim()}'`);
    }
  }

  private async storeBind(driver: Driver<D, Id>, text: string): Promise<void> {
    const device = this.requireDevice(text.trim());
    const pin = getDriver(driver, 'core:bind');
    if (!pin) throw new DriverStateError(driver.name, driver.state, 'bind needs a registered driver');
    try {
      const outcome = await device.lock.run(async () => {
        const id = this.#matchFor(device, driver);
        if (device.driver) return { kind: 'busy' } as const;
        if (id === undefined) return { kind: 'no-match', reason: `driver '${driver.name}' does not match device '${device.name}'` } as const;
        return reallyProbe(this, device, driver, id);
      });
      switch (outcome.kind) {
        case 'bound':
          return;
        case 'busy':
          throw new BusyError(`device '${device.name}' is already bound to '${device.driver?.name}'`);
        case 'gone':
          throw new NoSuchDeviceError(`device '${device.name}' went away`);
        case 'no-match':
        case 'deferred':
          throw new NoSuchDeviceError(outcome.reason);
        case 'failed':
          throw new CoreError('EPROBE', `probe of '${device.name}' by '${driver.name}' failed: ${String((outcome.error as Error)?.message ?? outcome.error)}`, { cause: outcome.error });
      }
    } finally {
      putDriver(pin);
    }
  }

  private async storeUnbind(driver: Driver<D, Id>, text: string): Promise<void> {
    const device = this.requireDevice(text.trim());
    const pin = getDriver(driver, 'core:unbind');
    if (!pin) throw new DriverStateError(driver.name, driver.state, 'unbind needs a registered driver');
    try {
      const released = await device.lock.run(() => releaseDevice(this, device, driver));
      if (!released) throw new NoSuchDeviceError(`device '${device.name}' is not bound to '${driver.name}'`);
    } finally {
      putDriver(pin);
    }
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyBus = Bus<any, any>;
