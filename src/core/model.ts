// One driver model: the attribute tree, the uevent stream, and the deferred-probe list shared
// by its buses (Linux has one of each, globally; tests make their own to stay independent).
import type { Observable } from 'rxjs';
import { childLog, type Logger } from '../log.ts';
import { AttributeTree } from './attrs.ts';
import { DeferredProbe } from './deferred.ts';
import { UeventBus, type Uevent } from './uevents.ts';

export interface DriverModelOptions {
  /** How often an unregistration that waits for pins logs who holds them (ms). */
  pinWaitLogMs?: number;
  /** Where the model's own reports go (pin waits); the project logger by default. */
  log?: Logger;
}

export class DriverModel {
  readonly attrs = new AttributeTree();
  readonly ueventBus = new UeventBus();
  readonly deferred = new DeferredProbe();
  readonly pinWaitLogMs: number;
  readonly log: Logger;
  private readonly busNames = new Set<string>();

  constructor(options: DriverModelOptions = {}) {
    this.pinWaitLogMs = options.pinWaitLogMs ?? 5000;
    this.log = options.log ?? childLog('core.model');
  }

  get uevents(): Observable<Uevent> {
    return this.ueventBus.events;
  }

  /** Resolves once no background work (deferred re-probes) is pending. */
  settled(): Promise<void> {
    return this.deferred.settled();
  }

  /** @internal buses claim their name here so two buses never share an attribute directory. */
  claimBusName(name: string): boolean {
    if (this.busNames.has(name)) return false;
    this.busNames.add(name);
    return true;
  }
}

/** The model that `attrs`, `uevents` and buses created without an explicit model use. */
export const defaultModel = new DriverModel();
