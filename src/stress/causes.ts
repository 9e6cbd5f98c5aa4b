// Cause attribution: what may explain a port going away or an operation failing (an unplug, an
// unbind, a deregistration since the port was met). An unexplained one is a violation.
import { PortDisconnectedError, PortStateError, type UsbSerialPort } from '../serial/index.ts';
import { transferErrorKind } from '../usb/host.ts';
import { describeStep, type Step } from './schedule.ts';
import { errCode, errMessage, type RunState, type SlotState } from './state.ts';
import type { EpochEnd } from './traffic.ts';

export function disturb(run: RunState, dongle: string, reason: EpochEnd): void {
  const d = run.topo?.dongles.find((x) => x.name === dongle);
  const n = run.stamp();
  for (const i of d?.interfaces ?? []) run.disturbed.set(`${dongle}:if${i}`, { n, reason });
}

/** One interface was disturbed (an unbind) at this point of the run. */
export function disturbInterface(run: RunState, ifKey: string, reason: EpochEnd): void {
  run.disturbed.set(ifKey, { n: run.stamp(), reason });
}

/** Why a port of this interface may have gone away since stamp `since`, or null if nothing explains it. */
export function causeOf(run: RunState, st: SlotState, since: number, port?: UsbSerialPort | null): EpochEnd | null {
  const dongle = st.info.dongle;
  if (!run.target.isConnected(dongle)) return 'unplug';
  // The attachment the port belongs to is gone, even if the dongle is back by now.
  if (port && (port.serial.usbDevice.gone || run.target.hostGone(port.serial.usbDevice.host))) return 'unplug';
  // What happened to the dongle since this attachment appeared counts, whenever we met the port.
  const appeared = port ? run.deviceSince.get(port.serial.usbDevice) : undefined;
  if (appeared !== undefined) since = Math.min(since, appeared);
  const d = run.topo.dongles.find((x) => x.name === dongle);
  const set = d?.driverSet ? run.sets.get(d.driverSet) : undefined;
  if (set && set.phase !== 'registered') return 'deregister';
  const dist = run.disturbed.get(st.ifKey);
  if (dist && dist.n >= since) return dist.reason;
  return null;
}

/** An operation failed: fine when a disconnect explains it or it is a state race; otherwise a violation. */
export function judgeError(run: RunState, step: Step, st: SlotState, err: unknown, since: number, port: UsbSerialPort | null = st.port): void {
  if (err instanceof PortStateError) return;
  const cause = causeOf(run, st, since, port);
  if (cause) return;
  if (err instanceof PortDisconnectedError) {
    // The port went away: the disconnect handler judges that.
    return;
  }
  if (transferErrorKind(err) === 'disconnected') return;
  run.monitor.checked('unexpected-error');
  run.monitor.violate('unexpected-error', `${describeStep(step)} on ${st.port?.name ?? st.info.slot} failed with nothing to explain it: ${errCode(err)}: ${errMessage(err)}`, {
    step: describeStep(step),
    error: errMessage(err),
  });
}
