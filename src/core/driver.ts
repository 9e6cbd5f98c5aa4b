// A driver and its lifecycle: unregistered -> registering -> registered -> unregistering ->
// unregistered. Methods (probe, remove) are called only by the core, and never after the
// driver's unregistration has resolved.
import type { Attribute } from './attrs.ts';
import type { Bus } from './bus.ts';
import type { Device } from './device.ts';
import { DynIdList } from './dynids.ts';
import type { DriverPin } from './pin.ts';

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

let nextDriverSeq = 1;

export class Driver<D extends Device = Device, Id = unknown> {
  readonly name: string;
  readonly methods: DriverMethods<D, Id>;
  readonly noDynamicId: boolean;
  readonly suppressBindAttrs: boolean;
  readonly attributes: Readonly<Record<string, Attribute>>;
  readonly dynIds = new DynIdList<Id>();
  /** Bumped at every registration: buses try drivers in registration order. */
  regSeq = 0;

  /** @internal core bookkeeping below; read-only for everyone else. */
  state: DriverState = 'unregistered';
  /** @internal */ readonly pins = new Set<DriverPin<Driver<D, Id>>>();
  /** @internal */ readonly boundDevices = new Set<D>();
  /** @internal resolves when the last pin is put back during unregistration. */
  pinsDrained: (() => void) | null = null;
  /** @internal the running unregistration, so concurrent calls share it. */
  unregistration: Promise<void> | null = null;
  private table: readonly Id[];

  constructor(
    readonly bus: Bus<D, Id>,
    options: DriverOptions<D, Id>,
  ) {
    this.name = options.name;
    this.methods = options;
    this.table = options.idTable ?? [];
    this.noDynamicId = options.noDynamicId ?? false;
    this.suppressBindAttrs = options.suppressBindAttrs ?? false;
    this.attributes = options.attributes ?? {};
  }

  get idTable(): readonly Id[] {
    return this.table;
  }

  /**
   * Installs the static ID table. usb-serial registers its usb driver with an empty table and
   * installs the IDs only once every serial driver is registered, so nothing probes early.
   */
  setIdTable(ids: readonly Id[]): void {
    this.bus.replaceIdTable(this, ids);
    this.table = ids;
  }

  /** @internal */
  nextRegSeq(): void {
    this.regSeq = nextDriverSeq++;
  }

  toString(): string {
    return `${this.bus.name}:${this.name}`;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDriver = Driver<any, any>;
