// A driver and its lifecycle: unregistered -> registering -> registered -> unregistering ->
// unregistered. Methods (probe, remove) are called only by the core, and never after the
// driver's unregistration has resolved.
import type { Attribute } from './attrs.ts';
import type { Bus } from './bus.ts';
import type { Device } from './device.ts';
import { DynIdList } from './dynids.ts';
import { busInternals, driverInternals, setDriverInternals } from './internal.ts';

export type DriverState = 'unregistered' | 'registering' | 'registered' | 'unregistering';

export interface DriverMethods<D extends Device, Id> {
  /**
   * Binds the device. `id` is the matched ID entry, or null when matched by driver_override.
   * Throw ProbeNoMatch to decline quietly, ProbeDefer to be retried after a later bind; any
   * other error leaves the device unbound and is logged.
   */
  probe(device: D, id: Id | null): void | Promise<void>;
  /** Releases a bound device. Errors are logged; the device is unbound regardless. */
  remove?(device: D): void | Promise<void>;
  /**
   * Runs during registration once the driver's attributes exist; throwing fails the
   * registration, which is then rolled back.
   */
  registered?(): void | Promise<void>;
}

export interface DriverOptions<D extends Device, Id> extends DriverMethods<D, Id> {
  readonly name: string;
  readonly idTable?: readonly Id[];
  /** No new_id / remove_id files (Linux: no_dynamic_id). */
  readonly noDynamicId?: boolean;
  /** No bind / unbind files (Linux: suppress_bind_attrs). */
  readonly suppressBindAttrs?: boolean;
  /** Extra attribute files in the driver's directory. */
  readonly attributes?: Readonly<Record<string, Attribute>>;
}

export class Driver<D extends Device = Device, Id = unknown> {
  readonly name: string;
  readonly methods: DriverMethods<D, Id>;
  readonly noDynamicId: boolean;
  readonly suppressBindAttrs: boolean;
  readonly attributes: Readonly<Record<string, Attribute>>;
  #table: readonly Id[];

  constructor(
    readonly bus: Bus<D, Id>,
    options: DriverOptions<D, Id>,
  ) {
    this.name = options.name;
    this.methods = options;
    this.#table = options.idTable ?? [];
    this.noDynamicId = options.noDynamicId ?? false;
    this.suppressBindAttrs = options.suppressBindAttrs ?? false;
    this.attributes = options.attributes ?? {};
    setDriverInternals(this, {
      state: 'unregistered',
      pins: new Set(),
      boundDevices: new Set<D>(),
      dynIds: new DynIdList<Id>(),
      regSeq: 0,
      pinsDrained: null,
      unregistration: null,
    } as never);
  }

  /** Where the driver is in its lifecycle (the bookkeeping behind it is the core's own). */
  get state(): DriverState {
    return driverInternals(this).state;
  }

  get idTable(): readonly Id[] {
    return this.#table;
  }

  /**
   * Installs the static ID table. usb-serial registers its usb driver with an empty table and
   * installs the IDs only once every serial driver is registered, so nothing probes early.
   */
  setIdTable(ids: readonly Id[]): void {
    busInternals<D, Id>(this.bus).replaceIdTable(this, ids);
    this.#table = ids;
  }

  toString(): string {
    return `${this.bus.name}:${this.name}`;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDriver = Driver<any, any>;
