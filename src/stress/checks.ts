// Taking the snapshots the invariants judge, and applying their verdicts to the run's monitor:
// cheap checks after every step, full checks at quiescent points. Everything is read through
// public or inspection APIs (inspectDriver / inspectBus, the lab's resource counts).
import { inspectBus, inspectDriver, inspectDriverCounts, inspectDynamicIds, type AnyDriver, type DriverSnapshot } from '../core/index.ts';
import { UsbDevice } from '../usb/index.ts';
import { formatUsbId, type UsbDeviceId } from '../usb/ids.ts';
import {
  activityVerdicts,
  claimVerdicts,
  countVerdicts,
  dynIdVerdicts,
  goneDriverVerdicts,
  modemVerdicts,
  quiescentDriverVerdicts,
  type DongleActivity,
  type DongleClaims,
  type ModemSample,
  type RegisteredSetIds,
  type Verdicts,
} from './invariants.ts';
import { idKey, type RunState } from './state.ts';

export function apply(run: RunState, v: Verdicts): void {
  for (const inv of v.checked) run.monitor.checked(inv);
  for (const f of v.findings) run.monitor.violate(f.invariant, f.message, f.details, f.key);
}

/** Cheap checks valid at any instant, after every step. */
export function stepChecks(run: RunState): void {
  run.watch.checkPairing();
  goneChecks(run);
  apply(run, dynIdVerdicts(registeredSetIds(run)));
  apply(run, claimVerdicts(dongleClaims(run)));
}

/**
 * A gone driver's snapshot, for the verdicts: while it holds nothing (the rule, and the case at
 * almost every step) the empty snapshot taken the first time is the same, so it is reused; only
 * a driver that holds something is inspected again, for the details its finding names.
 */
const emptyGoneSnapshots = new WeakMap<AnyDriver, DriverSnapshot>();
function goneSnapshot(driver: AnyDriver): DriverSnapshot {
  const c = inspectDriverCounts(driver);
  if (c.pinCount > 0 || c.boundCount > 0 || c.dynamicIdCount > 0) return inspectDriver(driver) as DriverSnapshot;
  let s = emptyGoneSnapshots.get(driver);
  if (!s || s.state !== c.state) emptyGoneSnapshots.set(driver, (s = inspectDriver(driver) as DriverSnapshot));
  return s;
}

/** Drivers whose deregistration resolved keep nothing. */
export function goneChecks(run: RunState): void {
  const gone = run.watch.recentlyGone.map((g) => ({ driver: goneSnapshot(g.driver as AnyDriver), event: g.event }));
  apply(run, goneDriverVerdicts(gone, (id) => formatUsbId(id as UsbDeviceId)));
}

function registeredSetIds(run: RunState): RegisteredSetIds[] {
  const out: RegisteredSetIds[] = [];
  const key = (id: unknown) => idKey((id as UsbDeviceId).vendor ?? 0, (id as UsbDeviceId).product ?? 0);
  for (const s of run.sets.values()) {
    const reg = s.reg;
    if (!reg || reg.state !== 'registered') continue;
    out.push({
      serialDrivers: reg.serialDrivers.map((sd) => ({ name: sd.name, ids: inspectDynamicIds(sd).map(key), written: run.written.get(sd) ?? new Set<string>() })),
      usbDriver: { name: reg.usbDriver.name, ids: inspectDynamicIds(reg.usbDriver).map(key) },
    });
  }
  return out;
}

/**
 * The USB devices on the bus that are not dead, by dongle: the bus walked once per check, not
 * once per dongle. A dongle's first live, present one is its current attachment.
 */
function usbDevicesByDongle(run: RunState): Map<string, UsbDevice[]> {
  const byDongle = new Map<string, UsbDevice[]>();
  for (const dev of run.usb.bus.listDevices()) {
    if (!(dev instanceof UsbDevice) || dev.state === 'dead') continue;
    const name = run.target.dongleOf(dev.host);
    if (name === undefined) continue;
    const list = byDongle.get(name);
    if (list) list.push(dev);
    else byDongle.set(name, [dev]);
  }
  return byDongle;
}

const currentOf = (devices: readonly UsbDevice[] | undefined): UsbDevice | undefined => devices?.find((x) => x.state === 'live' && !x.gone);

function dongleClaims(run: RunState): DongleClaims[] {
  const byDongle = usbDevicesByDongle(run);
  return (run.topo?.dongles ?? []).map((d) => {
    const all = byDongle.get(d.name) ?? [];
    const dev = currentOf(all);
    // Interfaces something may hold: bound (or probing) on any attachment still on the bus,
    // the one being torn down included.
    const holdable = new Set<number>();
    for (const x of all) for (const i of x.interfaces) if (i.driver !== null || i.claimed) holdable.add(i.interfaceNumber);
    return {
      dongle: d.name,
      resources: run.target.resources(d.name) ?? null,
      interfaces: (dev?.interfaces ?? []).map((i) => ({ name: i.name, claimed: i.claimed, bound: i.driver !== null })),
      holdable: [...holdable],
    };
  });
}

/** Full checks at a quiescent point (nothing in flight). */
export async function fullChecks(run: RunState, label: string): Promise<void> {
  stepChecks(run);
  const buses = [inspectBus(run.usb.bus), inspectBus(run.serialBus)];
  const deviceDriver = new Map<string, string | null>();
  for (const b of buses) for (const d of b.devices) deviceDriver.set(`${b.name}/${d.name}`, d.driver);
  apply(run, quiescentDriverVerdicts(buses.flatMap((b) => b.drivers as readonly DriverSnapshot[]), deviceDriver, label));
  apply(run, activityVerdicts(dongleActivity(run), label));
  portStreamChecks(run);
  const livePorts = run.serialBus.listDevices().length;
  apply(run, countVerdicts({ ueventObservers: ueventObservers(run), ueventBaseline: run.ueventBaseline, minorsInUse: run.serialBus.minors.inUse, livePorts }, label));
  apply(run, modemVerdicts(await modemSamples(run)));
}

function dongleActivity(run: RunState): DongleActivity[] {
  const out: DongleActivity[] = [];
  const byDongle = usbDevicesByDongle(run);
  for (const d of run.topo.dongles) {
    const r = run.target.resources(d.name);
    if (!r || !r.plugged) continue;
    const dev = currentOf(byDongle.get(d.name));
    const anyBound = dev?.interfaces.some((i) => i.driver !== null) ?? false;
    out.push({
      dongle: d.name,
      device: dev?.name ?? null,
      pendingTransfers: r.pendingTransfers,
      anyBound,
      abortListeners: dev && run.getEventListeners ? run.getEventListeners(dev.disconnected, 'abort').length : null,
    });
  }
  return out;
}

/** A removed port's event stream completes, so its listeners are let go. */
function portStreamChecks(run: RunState): void {
  for (const [port, t] of run.tracked) {
    if (t.sub.closed) {
      run.tracked.delete(port);
      continue;
    }
    if (port.state === 'dead') {
      run.monitor.checked('leaked-listener');
      run.monitor.violate('leaked-listener', `${port.name} (${t.slot}) was removed but its event stream never completed: its listeners stay attached`, undefined, `port-stream|${port.name}|${t.since}`);
      t.sub.unsubscribe();
      run.tracked.delete(port);
    }
  }
}

export function ueventObservers(run: RunState): number {
  const subject = (run.model.ueventBus as unknown as { subject?: { observers?: unknown[] } }).subject;
  return subject?.observers?.length ?? 0;
}

/** What each receiving port of a live link reads, where its sender set DTR/RTS. */
async function modemSamples(run: RunState): Promise<ModemSample[]> {
  const out: ModemSample[] = [];
  for (const l of run.links.values()) {
    const from = run.slots.get(l.from)!;
    const to = run.slots.get(l.to)!;
    if (!l.active || from.phase !== 'open' || to.phase !== 'open' || !from.signals || from.signalsInFlight > 0 || !to.port) continue;
    const want = from.signals;
    let lines;
    try {
      lines = await to.port.getSignals();
    } catch {
      continue;
    }
    if (from.phase !== 'open' || to.phase !== 'open' || from.signals !== want) continue;
    out.push({ link: l.id, from: l.from, receiver: to.port?.name ?? l.to, set: want, read: lines, fixed: to.port?.capabilities?.fixedInputs ?? {}, reported: to.info.reportsInputLines !== false });
  }
  return out;
}
