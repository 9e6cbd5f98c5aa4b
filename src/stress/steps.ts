// Executing schedule steps, one function per kind: hotplug, driver set registration, new_id and
// remove_id, bind and unbind through the attribute tree, and on ports open, close, write (framed,
// byte-exact traffic) and signals. Each records its outcome on the run (finish / launch).
import { PortDisconnectedError, type SerialDriver } from '../serial/index.ts';
import type { UsbDriver } from '../usb/index.ts';
import { disturb, disturbInterface, judgeError } from './causes.ts';
import { goneChecks } from './checks.ts';
import { trackPort } from './observe.ts';
import { mixSeed, Rng } from './random.ts';
import { parseSignalsArg, StressOptionError, type Step } from './schedule.ts';
import { errCode, idKey, newIdKey, TEARDOWN, type RunState, type SetState, type SlotState } from './state.ts';
import { buildFrames, type LinkState } from './traffic.ts';

export async function hotplug(run: RunState, step: Step, on: boolean): Promise<void> {
  const d = step.target;
  if (!run.topo.dongles.some((x) => x.name === d)) return run.finish(step, 'skip:unknown-dongle');
  if (!on) disturb(run, d, 'unplug');
  const outcome = await run.target.setConnected(d, on);
  if (outcome === 'ok') {
    if (!on) run.cycles++;
    run.lane(`dongle ${d}`, on ? 'plugged' : 'unplugged');
  }
  run.finish(step, outcome);
}

export async function register(run: RunState, s: SetState, initial: boolean, step?: Step): Promise<void> {
  s.phase = 'registering';
  s.live++;
  s.attempt = [];
  run.lane(`driver ${s.name}`, 'registering');
  const attempt = async (): Promise<string> => {
    try {
      const reg = await run.stack.register(s);
      s.reg = reg;
      s.phase = 'registered';
      s.attempt = null;
      run.lane(`driver ${s.name}`, 'registered');
      return 'ok';
    } catch (err) {
      s.live--;
      for (const d of s.attempt ?? []) run.watch.markGone(d as SerialDriver);
      s.attempt = null;
      s.phase = s.reg && s.reg.state === 'registered' ? 'registered' : 'failed';
      run.lane(`driver ${s.name}`, s.phase);
      goneChecks(run);
      return `error:${errCode(err)}`;
    }
  };
  if (initial) {
    const outcome = await attempt();
    if (outcome !== 'ok') throw new StressOptionError(`registering driver set '${s.name}' failed at setup: ${outcome}`);
    return;
  }
  run.launch(step!, `register ${s.name}`, attempt);
}

export function deregister(run: RunState, step: Step): void {
  const s = run.sets.get(step.target);
  if (!s) return run.finish(step, 'skip:unknown-set');
  if (s.phase !== 'registered' || !s.reg || s.reg.state !== 'registered') return run.finish(step, `skip:${s.phase}`);
  const reg = s.reg;
  s.phase = 'deregistering';
  run.lane(`driver ${s.name}`, 'deregistering');
  for (const d of run.topo.dongles) if (d.driverSet === s.name || reg.adapters().some((a) => run.target.dongleOf(a.usbDevice.host) === d.name)) disturb(run, d.name, 'deregister');
  run.launch(step, `deregister ${s.name}`, async () => {
    await run.stack.deregister(reg);
    s.live--;
    run.watch.markGone(reg.usbDriver);
    for (const sd of reg.serialDrivers) run.watch.markGone(sd);
    if (s.reg === reg) {
      s.reg = null;
      s.phase = 'deregistered';
    }
    run.lane(`driver ${s.name}`, 'deregistered');
    goneChecks(run);
    return 'ok';
  });
}

export function writeId(run: RunState, step: Step): void {
  const file = step.kind === 'new_id' ? 'new_id' : 'remove_id';
  const path = `bus/usb-serial/drivers/${step.target}/${file}`;
  if (!run.model.attrs.has(path)) return run.finish(step, 'skip:no-such-driver');
  if (step.kind === 'new_id') noteWritten(run, step.target, step.arg ?? '');
  const result = run.model.attrs.write(path, step.arg ?? '');
  run.launch(step, `${file} ${step.target}`, async () => {
    const r = await result;
    return r.ok ? 'ok' : `error:${r.error.code}`;
  });
}

export function noteWritten(run: RunState, driver: string, text: string): void {
  const sd = run.serialBus.findDriver(driver) as SerialDriver | undefined;
  const key = newIdKey(text);
  if (!sd || !key) return;
  let set = run.written.get(sd);
  if (!set) run.written.set(sd, (set = new Set()));
  set.add(key);
}

export function bind(run: RunState, step: Step): void {
  const intf = run.interfaceFor(step.target);
  if (!intf) return run.finish(step, 'skip:absent');
  const dongle = run.topo.dongles.find((d) => step.target.startsWith(`${d.name}:`));
  const setBind = dongle?.driverSet ? `bus/usb/drivers/${dongle.driverSet}/bind` : null;
  const path = setBind && run.model.attrs.has(setBind) ? setBind : 'bus/usb/drivers_probe';
  const result = run.model.attrs.write(path, intf.name);
  run.launch(step, `bind ${step.target}`, async () => {
    const r = await result;
    return r.ok ? 'ok' : `error:${r.error.code}`;
  });
}

export function unbind(run: RunState, step: Step): void {
  const intf = run.interfaceFor(step.target);
  if (!intf) return run.finish(step, 'skip:absent');
  const drv = intf.driver as UsbDriver | null;
  if (!drv) return run.finish(step, 'skip:unbound');
  disturbInterface(run, step.target, 'unbind');
  // As a user would: write the interface's name to its driver's unbind file.
  const result = run.model.attrs.write(`${run.usb.bus.driverPath(drv)}/unbind`, intf.name);
  run.launch(step, `unbind ${step.target}`, async () => {
    const r = await result;
    return r.ok ? 'ok' : `error:${r.error.code}`;
  });
}

/**
 * A step's target, or (when it cannot act on it now) another one that it can, picked from the
 * step's own number: the schedule says what to do, the lab's state decides on what.
 */
export function retarget<T extends string>(run: RunState, step: Step, usable: (t: string) => boolean, all: readonly T[]): string | null {
  if (usable(step.target)) return step.target;
  const candidates = all.filter(usable).sort();
  if (candidates.length === 0) return null;
  const chosen = candidates[mixSeed(run.seed, `pick:${step.n}`) % candidates.length]!;
  run.monitor.record('retarget', step.target, chosen);
  return chosen;
}

export function open(run: RunState, step: Step): void {
  const openable = (slot: string) => run.slots.get(slot)?.phase === 'closed' && run.portFor(slot)?.portState === 'closed';
  const target = retarget(run, step, openable, [...run.slots.keys()]);
  const st = run.slots.get(target ?? step.target);
  if (!st) return run.finish(step, 'skip:unknown-port');
  if (st.phase !== 'closed') return run.finish(step, `skip:${st.phase}`);
  const port = run.portFor(st.info.slot);
  if (!port) return run.finish(step, `skip:${run.whyAbsent(st)}`);
  if (port.portState !== 'closed') return run.finish(step, `skip:port-${port.portState}`);
  trackPort(run, st, port);
  st.phase = 'opening';
  st.port = port;
  st.signals = null;
  const since = run.stamp();
  run.launch(step, `open ${st.info.slot}`, async () => {
    try {
      await port.open({ baudRate: run.o.baudRate ?? 115200 });
    } catch (err) {
      if (st.port === port) {
        st.phase = 'closed';
        st.port = null;
      }
      judgeError(run, step, st, err, since, port);
      return `error:${errCode(err)}`;
    }
    if (st.port !== port || st.phase !== 'opening') return 'error:lost-race';
    st.phase = 'open';
    st.openedAt = run.stamp();
    run.lane(`port ${st.info.slot}`, 'open');
    for (const l of run.touching.get(st.info.slot) ?? []) {
      if (!l.active && run.slots.get(l.from)?.phase === 'open' && run.slots.get(l.to)?.phase === 'open') {
        l.startEpoch(run.monitor.event);
        run.traffic.epochs++;
      }
    }
    return 'ok';
  });
}

export function close(run: RunState, step: Step): void {
  const target = step.n === TEARDOWN ? step.target : retarget(run, step, (slot) => run.slots.get(slot)?.phase === 'open', [...run.slots.keys()]);
  const st = run.slots.get(target ?? step.target);
  if (!st) return run.finish(step, 'skip:unknown-port');
  if (st.phase !== 'open' || !st.port) return run.finish(step, `skip:${st.phase}`);
  const port = st.port;
  st.phase = 'closing';
  const since = run.stamp();
  run.launch(step, `close ${st.info.slot}`, async () => {
    await drain(run, st.info.slot, `closing ${st.info.slot}`);
    for (const l of run.touching.get(st.info.slot) ?? []) l.endEpoch('close', step.n);
    try {
      await port.close();
    } catch (err) {
      judgeError(run, step, st, err, since, port);
      return `error:${errCode(err)}`;
    } finally {
      if (st.port === port) {
        st.phase = 'closed';
        st.port = null;
        st.signals = null;
        run.lane(`port ${st.info.slot}`, 'closed');
      }
    }
    return 'ok';
  });
}

/** Waits until every byte written on the links touching `slot` has arrived; what does not is a loss. */
export async function drain(run: RunState, slot: string, why: string): Promise<void> {
  const links = run.touching.get(slot) ?? [];
  const ok = await run.time.waitFor(() => links.every((l) => l.undelivered === 0), run.o.drainLimitMs ?? 3000);
  if (ok) return;
  for (const l of links) reportUndelivered(run, l, why);
}

export function reportUndelivered(run: RunState, l: LinkState, why: string): void {
  const e = l.active;
  if (!e || l.undelivered === 0) return;
  run.monitor.checked('traffic-loss');
  run.monitor.violate(
    'traffic-loss',
    `${e.pending.length} of ${e.handed} bytes written on link ${l.id} (epoch ${e.number}, both ends connected) did not arrive within ${run.o.drainLimitMs ?? 3000} ms (${why})`,
    { link: l.id, epoch: e.number, handed: e.handed, reported: e.reported, received: e.received, writesInFlight: e.writesInFlight, startedAtEvent: e.startEvent },
  );
  e.broken = true;
}

export function write(run: RunState, step: Step): void {
  const live = (id: string) => {
    const l = run.links.get(id);
    return Boolean(l?.active && run.slots.get(l.from)?.phase === 'open' && run.slots.get(l.to)?.phase === 'open');
  };
  const link = run.links.get(retarget(run, step, live, [...run.links.keys()]) ?? step.target);
  if (!link) return run.finish(step, 'skip:unknown-link');
  const from = run.slots.get(link.from)!;
  const to = run.slots.get(link.to)!;
  const e = link.active;
  if (from.phase !== 'open' || to.phase !== 'open' || !from.port || !e) return run.finish(step, 'skip:ends-not-open');
  const port = from.port;
  const size = Math.max(1, Number(step.arg ?? '1') | 0);
  const { bytes, frames } = buildFrames(link.index, e.number, e.nextSeq, size, new Rng(mixSeed(run.seed, `payload:${step.n}`)));
  e.nextSeq += frames;
  e.frames += frames;
  e.handed += bytes.length;
  e.pending.push(bytes);
  e.writesInFlight++;
  const since = run.stamp();
  run.traffic.bytesHanded += bytes.length;
  run.traffic.frames += frames;
  run.traffic.writes++;
  run.launch(step, `write ${link.id}`, async () => {
    try {
      const n = await port.write(bytes);
      e.reported += n;
      return 'ok';
    } catch (err) {
      if (err instanceof PortDisconnectedError) e.reported += err.bytesWritten;
      judgeError(run, step, from, err, since, port);
      return `error:${errCode(err)}`;
    } finally {
      e.writesInFlight--;
    }
  });
}

export function signals(run: RunState, step: Step): void {
  const target = retarget(run, step, (slot) => run.slots.get(slot)?.phase === 'open', [...run.slots.keys()]);
  const st = run.slots.get(target ?? step.target);
  if (!st) return run.finish(step, 'skip:unknown-port');
  if (st.phase !== 'open' || !st.port) return run.finish(step, `skip:${st.phase}`);
  const port = st.port;
  const want = parseSignalsArg(step.arg);
  st.signalsInFlight++;
  const since = run.stamp();
  run.launch(step, `signals ${st.info.slot}`, async () => {
    try {
      await port.setSignals(want);
      if (st.port === port && st.phase === 'open') {
        st.signals = want;
        st.signalsAt = run.stamp();
      }
      return 'ok';
    } catch (err) {
      if (st.port === port) st.signals = null;
      judgeError(run, step, st, err, since, port);
      return `error:${errCode(err)}`;
    } finally {
      st.signalsInFlight--;
    }
  });
}
