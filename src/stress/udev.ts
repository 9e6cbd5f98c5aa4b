// A udev-like rule: it hears every uevent and writes new_id the moment it can, which is exactly
// what Stern's scenario needs. When a serial driver's directory appears (its 'add' uevent, sent
// while the registration is still running) it writes the lab's custom IDs into new_id from
// inside the handler; when an interface with one of those IDs appears, it writes the ID again
// (as a rule matching the device would).
import type { Subscription } from 'rxjs';
import type { AttrResult, DriverModel, Uevent } from '../core/index.ts';
import type { NewIdCandidate } from './schedule.ts';

export interface UdevAction {
  /** Which uevent triggered it. */
  readonly trigger: string;
  readonly path: string;
  readonly value: string;
  readonly result: Promise<AttrResult>;
}

export class UdevRule {
  private sub: Subscription | null = null;
  /** Writes made, for the report. */
  writes = 0;

  constructor(
    private readonly model: DriverModel,
    private readonly candidates: readonly NewIdCandidate[],
    private readonly onAction: (action: UdevAction) => void,
  ) {}

  start(): void {
    if (this.sub) return;
    this.sub = this.model.uevents.subscribe((e) => this.hear(e));
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = null;
  }

  private hear(e: Uevent): void {
    if (e.action !== 'add') return;
    if (e.kind === 'driver' && e.bus === 'usb-serial') {
      for (const c of this.candidates) if (c.driver === e.name) this.write(`add driver ${e.name}`, `${e.path}/new_id`, c.id);
      return;
    }
    if (e.kind === 'device' && e.bus === 'usb' && e.env.DEVTYPE === 'usb_interface' && e.env.PRODUCT) {
      const [v, p] = e.env.PRODUCT.split('/').map((x) => Number.parseInt(x, 16));
      for (const c of this.candidates) {
        const [cv, cp] = c.id.split(/\s+/).map((x) => Number.parseInt(x, 16));
        if (cv !== v || cp !== p) continue;
        const path = `bus/usb-serial/drivers/${c.driver}/new_id`;
        if (this.model.attrs.has(path)) this.write(`add ${e.name}`, path, c.id);
      }
    }
  }

  private write(trigger: string, path: string, value: string): void {
    this.writes++;
    // The store runs synchronously up to its first await: the ID is in before this handler returns.
    const result = this.model.attrs.write(path, value);
    this.onAction({ trigger, path, value, result });
  }
}
