// Time for a stress run: logical on the mock lab (the virtual clock, so a seed replays exactly),
// the wall clock on real hubs.
import type { VirtualClock } from './clock.ts';

/** The real clock, taken before any virtual clock can replace performance.now. */
export const realNow: () => number = performance.now.bind(performance);

export interface TimeDriver {
  readonly logical: boolean;
  now(): number;
  advanceTo(t: number, turns: number): Promise<void>;
  waitFor(cond: () => boolean, ms: number): Promise<boolean>;
}

export class LogicalTime implements TimeDriver {
  readonly logical = true;
  constructor(readonly clock: VirtualClock) {}
  now(): number {
    return this.clock.elapsed;
  }
  advanceTo(t: number, turns: number): Promise<void> {
    return this.clock.advanceTo(t, turns);
  }
  async waitFor(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = this.clock.elapsed + ms;
    for (;;) {
      if (cond()) return true;
      if (this.clock.elapsed >= deadline) return false;
      await this.clock.advanceTo(this.clock.elapsed + 1, 1);
    }
  }
}

export class WallTime implements TimeDriver {
  readonly logical = false;
  private readonly start = performance.now();
  now(): number {
    return performance.now() - this.start;
  }
  async advanceTo(t: number): Promise<void> {
    const wait = t - this.now();
    await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
  }
  async waitFor(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = this.now() + ms;
    while (!cond()) {
      if (this.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
    return true;
  }
}
