// A small bus type for testing the core on its own: devices have a vendor and a product,
// IDs match on both (or on vendor only when product is undefined), new_id takes
// "VVVV PPPP [refVVVV refPPPP]" like USB's, copying the reference entry's info.
import {
  Bus,
  Device,
  Driver,
  DriverModel,
  IdParseError,
  parseHexFields,
  ProbeDefer,
  ProbeNoMatch,
  type BusType,
  type DriverOptions,
} from '../../src/core/index.ts';
import { pino } from 'pino';
import { Writable } from 'node:stream';

export interface ToyId {
  vendor: number;
  product?: number;
  info?: string;
}

export class ToyDevice extends Device {
  constructor(
    name: string,
    readonly vendor: number,
    readonly product: number,
  ) {
    super(name);
  }
}

const hex = (n: number) => n.toString(16).padStart(4, '0');

export const toyBusType = (name = 'toy'): BusType<ToyDevice, ToyId> => ({
  name,
  idKey: (id) => (id.product === undefined ? `v:${id.vendor}` : `vp:${id.vendor}:${id.product}`),
  deviceKeys: (d) => [`vp:${d.vendor}:${d.product}`, `v:${d.vendor}`],
  matchId: (d, id) => d.vendor === id.vendor && (id.product === undefined || id.product === d.product),
  parseNewId(text, staticIds) {
    const [vendor, product, refV, refP] = parseHexFields(
      text,
      [
        { name: 'vendor', max: 0xffff },
        { name: 'product', max: 0xffff },
        { name: 'reference vendor', max: 0xffff },
        { name: 'reference product', max: 0xffff },
      ],
      2,
    ) as [number, number, number?, number?];
    if (refV !== undefined && refP === undefined) throw new IdParseError(text, 'a reference needs both vendor and product');
    let info: string | undefined;
    if (refV !== undefined) {
      const ref = staticIds.find((i) => i.vendor === refV && i.product === refP);
      if (!ref) throw new IdParseError(text, `unknown reference entry ${hex(refV)}:${hex(refP!)}`);
      info = ref.info;
    }
    return { vendor, product, ...(info !== undefined ? { info } : {}) };
  },
  parseRemoveId(text) {
    const [vendor, product] = parseHexFields(text, [{ name: 'vendor', max: 0xffff }, { name: 'product', max: 0xffff }], 2);
    return (id) => id.vendor === vendor && id.product === product;
  },
  formatId: (id) => `${hex(id.vendor)} ${id.product === undefined ? '*' : hex(id.product)}`,
});

/** Records every driver-method call, and flags any after the driver's unregistration resolved. */
export class CallLog {
  readonly calls: { method: string; driver: string; device?: string }[] = [];
  readonly violations: string[] = [];
  private readonly unregistered = new Set<string>();
  private readonly boundNow = new Map<string, string>();

  record(method: string, driver: string, device?: string): void {
    this.calls.push({ method, driver, ...(device ? { device } : {}) });
    if (this.unregistered.has(driver)) this.violations.push(`${method} of ${driver} after unregistration resolved`);
  }
  unregisterResolved(driver: string): void {
    this.unregistered.add(driver);
  }
  registering(driver: string): void {
    this.unregistered.delete(driver);
  }
  count(method: string, driver?: string, device?: string): number {
    return this.calls.filter(
      (c) => c.method === method && (!driver || c.driver === driver) && (!device || c.device === device),
    ).length;
  }
  noteBind(device: string, driver: string): void {
    const prev = this.boundNow.get(device);
    if (prev) this.violations.push(`${device} bound to ${driver} while bound to ${prev}`);
    this.boundNow.set(device, driver);
  }
  noteUnbind(device: string): void {
    if (!this.boundNow.delete(device)) this.violations.push(`${device} removed while not bound`);
  }
}

export type ProbeBehaviour = 'bind' | 'no-match' | 'defer' | 'fail';

export function toyDriver(
  bus: Bus<ToyDevice, ToyId>,
  name: string,
  ids: ToyId[],
  calls: CallLog,
  extra: Partial<DriverOptions<ToyDevice, ToyId>> & { behaviour?: () => ProbeBehaviour; probeDelay?: () => Promise<void> } = {},
): Driver<ToyDevice, ToyId> {
  const { behaviour, probeDelay, ...rest } = extra;
  return new Driver<ToyDevice, ToyId>(bus, {
    name,
    idTable: ids,
    async probe(dev) {
      calls.record('probe', name, dev.name);
      await probeDelay?.();
      const b = behaviour?.() ?? 'bind';
      if (b === 'no-match') throw new ProbeNoMatch();
      if (b === 'defer') throw new ProbeDefer();
      if (b === 'fail') throw new Error(`${name} cannot drive ${dev.name}`);
      calls.noteBind(dev.name, name);
    },
    async remove(dev) {
      calls.record('remove', name, dev.name);
      calls.noteUnbind(dev.name);
    },
    ...rest,
  });
}

/** A model whose logs are captured in memory, for asserting what was logged. */
export function capturedModel(level = 'info', pinWaitLogMs = 5000): { model: DriverModel; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const logger = pino({ level }, sink);
  return {
    model: new DriverModel({ log: logger, pinWaitLogMs }),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export function newToyBus(name = 'toy'): { bus: Bus<ToyDevice, ToyId>; model: DriverModel } {
  const model = new DriverModel();
  return { bus: new Bus(toyBusType(name), { model }), model };
}

export { macrotask as tick } from '../helpers/async.ts';
