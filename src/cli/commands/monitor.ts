// `usb-harness monitor`: the live hotplug and uevent stream, for people or as JSON lines.
import { merge, map, type Subscription } from 'rxjs';
import { hotplugEvents } from '../../index.ts';
import type { CliContext } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { hex4, type Output } from '../output.ts';

export interface MonitorOptions {
  /** Stop after this many ms (default: until Ctrl-C). */
  duration?: number;
  /** Mock lab only: unplug and replug a dongle every this many ms, so there is something to see. */
  churn?: number;
}

export async function monitor(ctx: CliContext, out: Output, opts: MonitorOptions): Promise<void> {
  if (opts.churn !== undefined && !ctx.lab) throw new CliError('--churn works on the mock lab only (add --mock-lab)', EXIT.usage);
  const t0 = performance.now();
  const stamp = () => Math.round(performance.now() - t0);
  const hotplug$ = hotplugEvents(ctx.host).pipe(
    map((e) => ({
      t: stamp(),
      source: 'hotplug' as const,
      action: e.type,
      device: e.portPath ?? e.device.key,
      id: `${hex4(e.vendorId)}:${hex4(e.productId)}`,
      serial: e.serialNumber ?? null,
    })),
  );
  const uevent$ = ctx.model.uevents.pipe(
    map((e) => ({ t: stamp(), source: 'uevent' as const, seq: e.seq, action: e.action, kind: e.kind, bus: e.bus, name: e.name, driver: e.driver ?? null })),
  );
  let sub: Subscription | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  await new Promise<void>((resolve, reject) => {
    sub = merge(hotplug$, uevent$).subscribe({
      next: (ev) => {
        if (out.json) out.data(ev);
        else if (ev.source === 'hotplug') out.line(`${String(ev.t).padStart(6)} ms  hotplug ${ev.action.padEnd(6)} ${ev.device} ${ev.id}${ev.serial ? ` serial ${ev.serial}` : ''}`);
        else out.line(`${String(ev.t).padStart(6)} ms  uevent  ${ev.action.padEnd(6)} ${ev.bus}/${ev.kind} ${ev.name}${ev.driver ? ` (${ev.driver})` : ''}`);
      },
      error: reject,
    });
    if (opts.churn !== undefined && ctx.lab) {
      const lab = ctx.lab;
      const names = lab.dongles();
      let i = 0;
      timer = setInterval(() => {
        const name = names[i++ % names.length]!;
        if (lab.isPlugged(name)) lab.unplug(name);
        else lab.plug(name);
      }, opts.churn);
    }
    const stop = () => resolve();
    process.once('SIGINT', stop);
    if (opts.duration !== undefined) setTimeout(stop, opts.duration);
  });
  if (timer) clearInterval(timer);
  sub?.unsubscribe();
  await ctx.usb.settled();
}
