// What the run observes as it happens: uevents (binding pairs, methods after unregistration),
// port events (every received byte checked against what was sent, disconnects judged), udev
// writes, traffic losses, and errors that escaped.
import type { Uevent } from '../core/index.ts';
import { PinError } from '../core/index.ts';
import type { PortEvent, UsbSerialPort } from '../serial/index.ts';
import { UsbDevice } from '../usb/index.ts';
import { causeOf } from './causes.ts';
import { noteWritten } from './steps.ts';
import { errCode, errMessage, SETUP, type RunState, type SlotState, type TrackedPort } from './state.ts';
import type { Loss } from './traffic.ts';
import type { UdevAction } from './udev.ts';

export function onUdev(run: RunState, a: UdevAction): void {
  const m = /^bus\/usb-serial\/drivers\/([^/]+)\/new_id$/.exec(a.path);
  if (m) noteWritten(run, m[1]!, a.value);
  run.monitor.record('udev', `${a.trigger}: ${a.path}`, a.value);
  run.launch(null, `udev new_id ${a.value}`, async () => {
    const r = await a.result;
    return r.ok ? 'ok' : `error:${r.error.code}`;
  });
}

export function trackPort(run: RunState, st: SlotState, port: UsbSerialPort): void {
  if (run.tracked.has(port)) return;
  const t: TrackedPort = {
    port,
    slot: st.info.slot,
    since: run.stamp(),
    sub: port.events.subscribe((e) => onPortEvent(run, st, port, e)),
  };
  run.tracked.set(port, t);
}

export function onPortEvent(run: RunState, st: SlotState, port: UsbSerialPort, e: PortEvent): void {
  switch (e.type) {
    case 'data': {
      const link = run.incoming.get(st.info.slot);
      run.monitor.checked('traffic-order', e.data.length);
      if (!link) {
        run.monitor.violate('traffic-order', `${port.name} (${st.info.slot}) received ${e.data.length} byte(s) but no wire leads to it`);
        return;
      }
      const problem = link.receive(e.data, run.monitor.event);
      if (problem) run.monitor.violate('traffic-order', problem.message, problem.details);
      if (e.errors.length > 0) {
        run.monitor.violate('traffic-order', `${port.name} (${st.info.slot}) reported line errors (${[...new Set(e.errors.map((x) => x.kind))].join(', ')}) on a clean wire`, {
          errors: e.errors.length,
        }, `line-error|${st.info.slot}`);
      }
      return;
    }
    case 'disconnect': {
      const t = run.tracked.get(port);
      const since = t?.since ?? SETUP;
      const cause = causeOf(run, st, since, port);
      run.monitor.checked('unexpected-disconnect');
      if (!cause) {
        run.monitor.violate('unexpected-disconnect', `${port.name} (${st.info.slot}) disconnected with no unplug, unbind or deregistration to explain it`, {
          port: port.name,
          slot: st.info.slot,
        });
      }
      if (st.port === port) {
        st.phase = 'closed';
        st.port = null;
        st.signals = null;
        run.lane(`port ${st.info.slot}`, 'gone');
      }
      for (const l of run.touching.get(st.info.slot) ?? []) l.endEpoch(cause ?? 'disconnect', run.monitor.event);
      return;
    }
    default:
      return;
  }
}

export function onLoss(run: RunState, loss: Loss): void {
  if (loss.reason === 'close' && loss.lost > 0) {
    run.monitor.violate('traffic-loss', `${loss.lost} byte(s) reported sent on link ${loss.link} (epoch ${loss.epoch}) were lost without an unplug`, { ...loss });
  }
  run.lossSummary.epochs++;
  run.lossSummary.bytes += loss.lost;
  run.lossSummary.byReason[loss.reason] = (run.lossSummary.byReason[loss.reason] ?? 0) + loss.lost;
  if (run.losses.length < 500) run.losses.push(loss);
}

export function onUevent(run: RunState, e: Uevent): void {
  run.monitor.record('uevent', `${e.bus}/${e.name}`, `${e.action}${e.driver ? ` ${e.driver}` : ''}`);
  if (e.kind === 'driver') {
    if (e.action === 'add') {
      for (const s of run.sets.values()) {
        if (!s.attempt) continue;
        if ((e.bus === 'usb' && e.name === s.name) || (e.bus === 'usb-serial' && s.serialNames.includes(e.name))) {
          const d = e.bus === 'usb' ? run.usb.bus.findDriver(e.name) : run.serialBus.findDriver(e.name);
          if (d) s.attempt.push(d);
        }
      }
    }
    return;
  }
  const key = `${e.bus}/${e.name}`;
  if (e.action === 'add' && e.bus === 'usb') {
    const dev = run.usb.bus.getDevice(e.name);
    if (dev instanceof UsbDevice) run.deviceSince.set(dev, run.stamp());
  }
  if (e.action === 'bind') {
    run.monitor.checked('one-driver-per-device');
    const prior = run.bound.get(key);
    if (prior !== undefined) run.monitor.violate('one-driver-per-device', `${key} bound to '${e.driver}' while still bound to '${prior}'`);
    run.bound.set(key, e.driver ?? '?');
    checkDriverAlive(run, e);
  } else if (e.action === 'unbind') {
    run.monitor.checked('probe-remove-pairing');
    const prior = run.bound.get(key);
    if (prior !== e.driver) run.monitor.violate('probe-remove-pairing', `${key} unbound from '${e.driver}' but was ${prior ? `bound to '${prior}'` : 'not bound'}`);
    run.bound.delete(key);
    checkDriverAlive(run, e);
  } else if (e.action === 'remove') {
    const prior = run.bound.get(key);
    if (prior !== undefined) {
      run.monitor.violate('probe-remove-pairing', `${key} was removed while bound to '${prior}' (no unbind first)`);
      run.bound.delete(key);
    }
  }
}

/** A bind or unbind by a driver whose every registration has resolved its deregistration. */
export function checkDriverAlive(run: RunState, e: Uevent): void {
  for (const s of run.sets.values()) {
    const mine = (e.bus === 'usb' && e.driver === s.name) || (e.bus === 'usb-serial' && s.serialNames.includes(e.driver ?? ''));
    if (!mine) continue;
    run.monitor.checked('method-after-unregistration');
    if (s.live <= 0) {
      run.monitor.violate('method-after-unregistration', `${e.action} of ${e.bus}/${e.name} by '${e.driver}' after its deregistration had resolved`, undefined, `late-${e.action}|${e.driver}`);
    }
  }
}

/** @internal errors that escaped: unhandled rejections, exceptions, timer callbacks that threw. */
export function escapedError(run: RunState, err: unknown, how: string): void {
  if (err && typeof err === 'object') {
    if (run.escaped.has(err)) return;
    run.escaped.add(err);
  }
  if (err instanceof PinError && /driverAttach/.test(err.message)) {
    run.monitor.violate('method-after-unregistration', `driverAttach() through a pin already put back, i.e. after the driver could be unregistered (${how}): ${err.message}`, undefined, `late-attach|${err.message.replace(/\d+/g, 'N')}`);
    return;
  }
  run.monitor.violate('escaped-error', `${how}: ${errCode(err)}: ${errMessage(err)}`, { stack: err instanceof Error ? err.stack?.split('\n').slice(0, 6).join('\n') : undefined }, `escaped|${errMessage(err).replace(/\d+/g, 'N')}`);
}
